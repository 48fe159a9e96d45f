//! A block changed behind the bench's back is reported with its offset.

use assert_cmd::Command;
use predicates::str::contains;
use std::os::unix::fs::FileExt;

#[test]
fn a_corrupted_block_fails_the_run_and_names_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    // The bench creates and stamps a new file.
    Command::cargo_bin("aiolos")
        .unwrap()
        .args([
            "bench",
            "--engine",
            "native",
            "--runtime",
            "0.2",
            "--size",
            "4m",
        ])
        .args(["--rw", "read", "--verify", "--buffered", "--file"])
        .arg(&file)
        .assert()
        .success();
    let bad: u64 = 1_048_576 + 3 * 512;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .write_all_at(b"not what aiolos wrote", bad + 100)
        .unwrap();
    // A sequential pass over 4 MiB in 2 s reaches the corrupted sector.
    Command::cargo_bin("aiolos")
        .unwrap()
        .args([
            "bench",
            "--engine",
            "native",
            "--runtime",
            "2",
            "--rw",
            "read",
        ])
        .args(["--verify", "--buffered", "--file"])
        .arg(&file)
        .assert()
        .failure()
        .stderr(contains(format!("verify failed at offset {bad}")));
}
