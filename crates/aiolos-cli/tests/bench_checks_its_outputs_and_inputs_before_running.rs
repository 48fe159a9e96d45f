//! `bench` checks what it can before the run: a `--plot` path that cannot be written, a
//! `--runtime` of 0, an existing `--file` it did not create that a write run would
//! overwrite. And it prints its report even when the plot fails afterwards.

use assert_cmd::Command;
use predicates::str::contains;
use std::time::{Duration, Instant};

fn bench(tmp: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("aiolos").unwrap();
    c.env("TMPDIR", tmp)
        .arg("bench")
        .args(["--engine", "threads", "--size", "8m"])
        .timeout(Duration::from_secs(60));
    c
}

#[test]
fn a_plot_path_in_a_missing_directory_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    bench(tmp.path())
        .args(["--runtime", "30", "--plot", "/nonexistent/aiolos/p.svg"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("--plot /nonexistent/aiolos/p.svg"))
        .stderr(contains("does not exist"));
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing was filled"
    );
}

#[test]
fn the_report_is_printed_even_when_the_plot_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let plots = tempfile::tempdir().unwrap();
    let plot = plots.path().join("p.svg");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_aiolos"))
        .env("TMPDIR", tmp.path())
        .args([
            "bench",
            "--engine",
            "threads",
            "--size",
            "8m",
            "--runtime",
            "1",
        ])
        .arg("--plot")
        .arg(&plot)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The paths were checked before the file to measure on was made: the plot's
    // directory can go now.
    let start = Instant::now();
    while std::fs::read_dir(tmp.path()).unwrap().count() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the bench never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_dir(plots.path()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("IOPS"), "the report was printed: {stdout}");
    assert!(stderr.contains("cannot write the plot"), "{stderr}");
}

#[test]
fn a_runtime_of_zero_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for zero in ["0", "0s", "0ms"] {
        bench(tmp.path())
            .args(["--runtime", zero])
            .assert()
            .code(2)
            .stderr(contains("more than 0"));
    }
}

#[test]
fn writing_over_a_file_the_bench_did_not_create_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let mine = tmp.path().join("precious.dat");
    let data = vec![0x5au8; 8 << 20];
    std::fs::write(&mine, &data).unwrap();
    bench(tmp.path())
        .args(["--rw", "write", "--runtime", "0.2", "--file"])
        .arg(&mine)
        .assert()
        .code(1)
        .stderr(contains("was not created by aiolos bench"))
        .stderr(contains("--force"));
    assert_eq!(
        std::fs::read(&mine).unwrap(),
        data,
        "the file was left alone"
    );
    // Reading it needs no --force, and --force lets the write run.
    bench(tmp.path())
        .args(["--rw", "randread", "--runtime", "0.2", "--file"])
        .arg(&mine)
        .assert()
        .success();
    bench(tmp.path())
        .args(["--rw", "write", "--runtime", "0.2", "--force", "--file"])
        .arg(&mine)
        .assert()
        .success();
}

#[test]
fn a_file_the_bench_created_can_be_written_again_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bench.dat");
    for rw in ["randwrite", "write", "randrw"] {
        bench(tmp.path())
            .args(["--rw", rw, "--runtime", "0.2", "--file"])
            .arg(&f)
            .assert()
            .success();
    }
}
