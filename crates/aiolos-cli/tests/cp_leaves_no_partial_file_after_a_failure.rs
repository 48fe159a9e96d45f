//! A copy that fails (DST's file system fills up) or is interrupted (Ctrl-C) leaves
//! neither DST nor a temporary file behind.

mod common;
use common::tmpfs::SmallTmpfs;
use common::{bin, leftovers, run_err, scratch, write_pattern};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_copy_onto_a_full_file_system_fails_and_leaves_nothing() {
    let Some(fs) = SmallTmpfs::mount() else {
        return;
    };
    let d = scratch();
    let src = d.path().join("src");
    write_pattern(&src, 5 << 20);
    for mode in ["--qd=32", "--buffered"] {
        let dst = fs.path().join("dst");
        let err = run_err(&[
            OsStr::new("cp"),
            OsStr::new(mode),
            src.as_os_str(),
            dst.as_os_str(),
        ]);
        assert!(err.to_lowercase().contains("space"), "{mode}: {err}");
        assert!(!dst.exists(), "{mode}: DST was created");
        let names: Vec<PathBuf> = std::fs::read_dir(fs.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(names.is_empty(), "{mode}: left behind {names:?}");
    }
}

#[test]
fn ctrl_c_during_a_copy_removes_the_partial_file() {
    let d = scratch();
    let src = d.path().join("src");
    write_pattern(&src, 256 << 20);
    let dst = d.path().join("dst");
    // One 4 KiB request at a time: slow enough to be interrupted mid-way.
    let child = bin()
        .args(["cp", "--qd", "1", "--bs", "4k"])
        .arg(&src)
        .arg(&dst)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while leftovers(d.path()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(130),
        "the copy was not interrupted: {err}"
    );
    assert!(err.contains("interrupted"), "{err}");
    assert!(!dst.exists(), "DST was created");
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
}
