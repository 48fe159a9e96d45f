//! `aiolos probe PROGRAM` reads the program's dynamic section: a program that links
//! libaio.so.1 is named so (with how to run it on aiolos), one that does not is too.

mod common;

use common::bin;
use serde_json::Value;

#[test]
fn a_shell_does_not_link_libaio_and_fio_does() {
    let out = bin().args(["probe", "--json", "/bin/sh"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["links_libaio"], Value::Null);
    assert!(v["needed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().starts_with("libc.so")));
    let fio = std::path::Path::new("/usr/bin/fio");
    if !fio.exists() {
        eprintln!("SKIP: fio is not installed; only the negative case checked");
        return;
    }
    let out = bin().args(["probe"]).arg(fio).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("links libaio.so.1"), "{text}");
    assert!(text.contains("aiolos run -- /usr/bin/fio"), "{text}");
}
