//! `aiolos run` becomes the program: the drop-in's directory first in `LD_LIBRARY_PATH`,
//! the engine in `AIOLOS_ENGINE`, the arguments as given, and its exit status (or the
//! signal that ended it) as the command's own. A missing program is 127, a missing
//! drop-in a clear error.

mod common;

use common::bin;
use std::os::unix::process::ExitStatusExt;

/// A directory that looks like the drop-in's (the programs run here never load it).
fn fake_lib() -> tempfile::TempDir {
    let d = common::scratch();
    std::fs::write(d.path().join("libaio.so.1"), b"").unwrap();
    d
}

#[test]
fn the_program_gets_the_drop_in_and_the_engine_and_its_exit_status_is_returned() {
    let lib = fake_lib();
    let out = bin()
        .args(["run", "--engine", "threads", "--lib"])
        .arg(lib.path())
        .args([
            "--",
            "sh",
            "-c",
            "echo \"$AIOLOS_ENGINE|$LD_LIBRARY_PATH|$1\"; exit 3",
            "sh",
            "-x",
        ])
        .env("LD_LIBRARY_PATH", "/elsewhere")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = lib.path().canonicalize().unwrap();
    assert_eq!(
        stdout.trim(),
        format!("threads|{}:/elsewhere|-x", dir.display())
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn the_engine_defaults_to_the_environments_then_uring() {
    let lib = fake_lib();
    let engine_of = |env: Option<&str>| {
        let mut cmd = bin();
        cmd.arg("run").arg("--lib").arg(lib.path());
        cmd.args(["--", "sh", "-c", "echo $AIOLOS_ENGINE"]);
        match env {
            Some(v) => cmd.env("AIOLOS_ENGINE", v),
            None => cmd.env_remove("AIOLOS_ENGINE"),
        };
        String::from_utf8_lossy(&cmd.output().unwrap().stdout)
            .trim()
            .to_string()
    };
    assert_eq!(engine_of(None), "uring");
    assert_eq!(engine_of(Some("native")), "native");
}

#[test]
fn a_signal_that_ends_the_program_ends_the_command() {
    let lib = fake_lib();
    let out = bin()
        .arg("run")
        .arg("--lib")
        .arg(lib.path())
        .args(["--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(SIGTERM));
}

const SIGTERM: i32 = 15;

#[test]
fn a_missing_program_is_127_and_a_missing_drop_in_an_error_that_says_how_to_get_it() {
    let lib = fake_lib();
    let out = bin()
        .arg("run")
        .arg("--lib")
        .arg(lib.path())
        .args(["--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let empty = common::scratch();
    let out = bin()
        .arg("run")
        .arg("--lib")
        .arg(empty.path())
        .args(["--", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("build-so.sh"), "{stderr}");
}
