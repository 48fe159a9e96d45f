//! Options that cannot work fail before any I/O, with a message that names the problem
//! and the fix.

use assert_cmd::Command;
use predicates::str::contains;

fn aiolos() -> Command {
    Command::cargo_bin("aiolos").unwrap()
}

#[test]
fn a_block_size_off_the_o_direct_alignment_names_the_alignment() {
    let dir = tempfile::tempdir().unwrap();
    aiolos()
        .env("TMPDIR", dir.path())
        .args([
            "bench", "--engine", "native", "--size", "16m", "--bs", "1000",
        ])
        .assert()
        .failure()
        .stderr(contains("--bs 1000 is not a multiple of"))
        .stderr(contains("O_DIRECT alignment"))
        .stderr(contains("--buffered"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the temporary file is gone"
    );
}

#[test]
fn a_file_smaller_than_the_requested_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("small");
    std::fs::write(&f, vec![0u8; 8192]).unwrap();
    aiolos()
        .args(["bench", "--engine", "native", "--size", "1m", "--file"])
        .arg(&f)
        .assert()
        .failure()
        .stderr(contains("is too small"));
}

#[test]
fn a_size_smaller_than_a_block_per_job_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    aiolos()
        .env("TMPDIR", dir.path())
        .args([
            "bench", "--engine", "native", "--size", "64k", "--bs", "64k",
        ])
        .args(["--jobs", "2", "--runtime", "1"])
        .assert()
        .failure()
        .stderr(contains("too small"));
}

#[test]
fn verify_with_a_block_size_off_the_sector_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    aiolos()
        .env("TMPDIR", dir.path())
        .args(["bench", "--engine", "native", "--size", "1m", "--buffered"])
        .args(["--bs", "1000", "--verify"])
        .assert()
        .failure()
        .stderr(contains("multiple of 512"));
}

#[test]
fn a_bad_size_unit_is_a_usage_error() {
    aiolos()
        .args(["bench", "--bs", "4q"])
        .assert()
        .code(2)
        .stderr(contains("unknown unit"));
}
