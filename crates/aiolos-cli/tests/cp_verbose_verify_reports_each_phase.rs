//! `cp -v --verify` reports the copy and the verify on lines of their own, each with its
//! own time and speed, and says that the verify passed.

mod common;
use common::{run_ok, scratch, write_pattern};
use std::ffi::OsStr;

#[test]
fn the_copy_and_the_verify_each_get_a_line_and_the_verify_says_it_passed() {
    let d = scratch();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    write_pattern(&src, 3 << 20);
    let err = run_ok(&[
        OsStr::new("cp"),
        OsStr::new("-v"),
        OsStr::new("--verify"),
        src.as_os_str(),
        dst.as_os_str(),
    ]);
    let lines: Vec<&str> = err.lines().collect();
    let copied = lines
        .iter()
        .position(|l| l.starts_with("copied 3145728 bytes"))
        .unwrap_or_else(|| panic!("no copy line: {err}"));
    let verified = lines
        .iter()
        .position(|l| l.starts_with("verified 3145728 bytes in "))
        .unwrap_or_else(|| panic!("no verify line: {err}"));
    assert!(copied < verified, "{err}");
    assert!(lines[verified].contains("MiB/s"), "{err}");
    assert!(lines[verified].ends_with("the copy matches SRC"), "{err}");
}
