//! Bad command lines and bad targets never crash `aiolos bench`: usage errors exit 2 with
//! clap's message, refused targets exit 1 with a message naming the problem (and the fix
//! where there is one). One case per CLI row of docs/reliability.md (C1, C2, ...).

use assert_cmd::Command;
use predicates::str::contains;

fn bench(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("aiolos")
        .unwrap()
        .current_dir(std::env::temp_dir())
        .arg("bench")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
}

/// Asserts a usage error (exit 2) whose message contains every `want`.
fn usage(args: &[&str], want: &[&str]) {
    let mut a = bench(args).code(2);
    for w in want {
        a = a.stderr(contains(*w));
    }
}

/// Asserts a refused run (exit 1, `aiolos: error:`) whose message contains every `want`.
fn refused(args: &[&str], want: &[&str]) {
    let mut a = bench(args).code(1).stderr(contains("aiolos: error:"));
    for w in want {
        a = a.stderr(contains(*w));
    }
}

#[test]
fn c1_a_zero_block_size_is_a_usage_error() {
    usage(&["--bs", "0"], &["--bs", "at least 1 byte"]);
}

#[test]
fn c2_a_block_size_past_u64_is_a_usage_error() {
    usage(&["--bs", "99999999999g"], &["too large"]);
}

#[test]
fn c3_an_inverted_block_size_range_is_a_usage_error() {
    usage(&["--bs", "8k-4k"], &["first size is larger"]);
}

#[test]
fn c4_queue_depths_outside_1_to_the_rings_limit_are_usage_errors() {
    for qd in ["0", "1048577", "8,,16"] {
        usage(&["--qd", qd], &["--qd", "1 to 1048576"]);
    }
    usage(&["--qd=-1"], &["--qd"]);
}

#[test]
fn c5_zero_jobs_is_a_usage_error() {
    usage(&["--jobs", "0"], &["--jobs", "1..=1024"]);
}

#[test]
fn c6_a_read_mix_above_100_percent_is_a_usage_error() {
    usage(&["--rwmix-read", "101"], &["0..=100"]);
}

#[test]
fn c7_a_duration_without_a_number_is_a_usage_error() {
    usage(&["--runtime", "abc"], &["not a duration"]);
}

#[test]
fn c8_an_unknown_engine_is_a_usage_error_listing_the_engines() {
    usage(&["--engine", "nope"], &["uring", "native", "threads"]);
}

#[test]
fn c9_a_zero_size_is_refused_as_too_small() {
    refused(&["--size", "0", "--engine", "threads"], &["too small"]);
}

#[test]
fn c10_a_file_in_a_missing_directory_is_refused_with_its_path() {
    refused(
        &["--file", "/nonexistent/aiolos/x", "--size", "1m"],
        &["/nonexistent/aiolos/x", "No such file"],
    );
}

#[test]
fn c11_a_directory_as_the_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    refused(
        &[
            "--file",
            d,
            "--size",
            "1m",
            "--buffered",
            "--engine",
            "threads",
            "--runtime",
            "100ms",
        ],
        &["Is a directory"],
    );
}

#[test]
fn c12_a_file_whose_size_cannot_be_found_is_refused() {
    refused(
        &["--file", "/proc/version", "--size", "1m", "--buffered"],
        &["cannot find the size of /proc/version"],
    );
}

#[test]
fn c13_an_empty_device_is_refused_as_too_small() {
    refused(
        &["--file", "/dev/null", "--size", "1m", "--buffered"],
        &["/dev/null is too small"],
    );
}

#[test]
fn c14_a_plot_path_in_a_missing_directory_is_refused_with_its_path() {
    refused(
        &[
            "--plot",
            "/nonexistent/aiolos/p.svg",
            "--size",
            "1m",
            "--engine",
            "threads",
            "--buffered",
            "--runtime",
            "100ms",
        ],
        &["/nonexistent/aiolos/p.svg"],
    );
}

#[test]
fn c15_an_unknown_subcommand_is_a_usage_error() {
    Command::cargo_bin("aiolos")
        .unwrap()
        .arg("nosuch")
        .assert()
        .code(2)
        .stderr(contains("unrecognized subcommand"));
}
