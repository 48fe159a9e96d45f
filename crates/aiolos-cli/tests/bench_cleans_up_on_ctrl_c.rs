//! Ctrl-C prints the partial result and removes the temporary file; a normal end removes
//! it too.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aiolos"))
}

#[test]
fn a_finished_run_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .env("TMPDIR", dir.path())
        .args([
            "bench",
            "--engine",
            "native",
            "--runtime",
            "0.3",
            "--size",
            "8m",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("IOPS"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn ctrl_c_prints_the_partial_result_and_removes_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let child = bin()
        .env("TMPDIR", dir.path())
        .args([
            "bench",
            "--engine",
            "native",
            "--runtime",
            "60",
            "--size",
            "8m",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run has started (the temporary file exists and is filled), then signal.
    let start = Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(800));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "stopped long after Ctrl-C"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("IOPS"), "partial result printed: {text}");
    assert!(text.contains("interrupted"), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temporary file removed"
    );
}
