//! A SRC whose size says nothing is copied to its end of file, as `cp` does: a file of
//! `/proc` (size 0), a pipe, a character device. Never an empty copy reported as success.

mod common;
use common::tmpfs::SmallTmpfs;
use common::{bin, leftovers, run_err, run_ok, scratch};
use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn a_proc_file_of_size_0_is_copied_to_its_end() {
    let d = scratch();
    let dst = d.path().join("version");
    let err = run_ok(&[
        OsStr::new("cp"),
        OsStr::new("-v"),
        OsStr::new("/proc/version"),
        dst.as_os_str(),
    ]);
    let want = std::fs::read("/proc/version").unwrap();
    assert!(!want.is_empty());
    assert_eq!(std::fs::read(&dst).unwrap(), want);
    assert!(
        err.contains("read to end of file (SRC is a file of proc)"),
        "{err}"
    );
    // The copying process's own status: its name is in it.
    let status = d.path().join("status");
    run_ok(&[
        OsStr::new("cp"),
        OsStr::new("/proc/self/status"),
        status.as_os_str(),
    ]);
    let text = std::fs::read_to_string(&status).unwrap();
    assert!(text.starts_with("Name:\taiolos"), "{text}");
}

#[test]
fn a_pipe_is_copied_until_its_writer_closes_it() {
    let d = scratch();
    let fifo = d.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let dst = d.path().join("dst");
    let child = bin()
        .arg("cp")
        .arg(&fifo)
        .arg(&dst)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    w.write_all(&data).unwrap();
    drop(w);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn a_character_device_is_copied_to_its_end_or_until_the_disk_is_full() {
    let d = scratch();
    let empty = d.path().join("null");
    run_ok(&[OsStr::new("cp"), OsStr::new("/dev/null"), empty.as_os_str()]);
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    let Some(fs) = SmallTmpfs::mount() else {
        return;
    };
    let dst = fs.path().join("zeros");
    let err = run_err(&[OsStr::new("cp"), OsStr::new("/dev/zero"), dst.as_os_str()]);
    assert!(
        err.contains("no space left") && err.contains(&fs.path().display().to_string()),
        "{err}"
    );
    assert!(!dst.exists());
    assert_eq!(std::fs::read_dir(fs.path()).unwrap().count(), 0);
}

#[test]
fn verify_of_a_source_that_cannot_be_read_twice_is_refused() {
    let d = scratch();
    let dst = d.path().join("x");
    let err = run_err(&[
        OsStr::new("cp"),
        OsStr::new("--verify"),
        OsStr::new("/proc/version"),
        dst.as_os_str(),
    ]);
    assert!(
        err.contains("--verify") && err.contains("a file of proc"),
        "{err}"
    );
    assert!(!dst.exists());
}
