//! `aiolos probe PROGRAM` reads the program's dynamic section: a program that links
//! libaio.so.1 is named so (with how to run it on aiolos), one that does not is too; one
//! that imports `io_setup` but no reaping call (it reaps with its own system calls) is
//! said to get kernel contexts.

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

#[test]
fn a_program_that_reaps_with_its_own_system_calls_is_named() {
    if !std::path::Path::new("/usr/include/libaio.h").exists() {
        eprintln!("SKIP: libaio's header is not installed (apt-get install libaio-dev)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = |name: &str, reap: &str| {
        let src = dir.path().join(format!("{name}.c"));
        std::fs::write(
            &src,
            format!(
                "#include <libaio.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
                 int main(void) {{ io_context_t c = 0; struct io_event e; \
                 if (io_setup(1, &c)) return 1; {reap}; return io_destroy(c); }}\n"
            ),
        )
        .unwrap();
        let exe = dir.path().join(name);
        let cc = std::process::Command::new("cc")
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg("-laio")
            .output()
            .unwrap();
        assert!(
            cc.status.success(),
            "{}",
            String::from_utf8_lossy(&cc.stderr)
        );
        let out = bin().args(["probe", "--json"]).arg(&exe).output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let raw = build("raw", "syscall(SYS_io_getevents, c, 0, 1, &e, (void *)0)");
    assert_eq!(raw["links_libaio"], "libaio.so.1");
    assert_eq!(raw["reaps_itself"], true, "{raw}");
    let normal = build("normal", "io_getevents(c, 0, 1, &e, (void *)0)");
    assert_eq!(normal["links_libaio"], "libaio.so.1");
    assert_eq!(normal["reaps_itself"], false, "{normal}");
}
