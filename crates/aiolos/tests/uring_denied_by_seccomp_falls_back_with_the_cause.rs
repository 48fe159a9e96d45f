//! A process whose seccomp filter denies `io_uring_setup` is steered away from io_uring by
//! the one engine resolution: `EngineKind::suggest`, a default `Ring`, a `Ring` and an
//! `aiolos::fs::Driver` with `AIOLOS_ENGINE=uring` all land on the thread pool, and the
//! reason names the cause. Nothing is printed unless `AIOLOS_LOG` asks for it. The filter
//! is installed in a child process (this test binary, re-run).
use aiolos::{ChoiceSource, EngineKind, Error, Ring};
use common::seccomp::deny_io_uring_setup;
use std::process::Command;

mod common;

const CHILD: &str = "AIOLOS_TEST_SECCOMP_ERRNO";
const NAME: &str = "a_process_whose_seccomp_filter_denies_io_uring_setup_falls_back_with_the_cause";

fn child(errno: i32) {
    deny_io_uring_setup(errno);
    let s = EngineKind::suggest();
    println!("CHILD kind={}", s.kind);
    println!("CHILD reason={}", s.reason);
    println!("CHILD from={:?}", s.fallback_from.as_ref().map(|(k, _)| *k));
    // Without an explicit engine, a ring never lands on io_uring here.
    match Ring::builder().entries(4).build::<Vec<u8>>() {
        Ok(r) => {
            println!("CHILD ring={}", r.engine_kind());
            println!("CHILD ring-reason={}", r.engine_choice().reason);
            let from_env = r.engine_choice().source == ChoiceSource::Environment;
            println!("CHILD ring-from-env={from_env}");
        }
        Err(Error::EngineUnavailable { kind, .. }) => println!("CHILD ring-unavailable={kind}"),
        Err(e) => println!("CHILD ring-error={e}"),
    }
    match aiolos::fs::Driver::builder().entries(4).build() {
        Ok(d) => {
            println!("CHILD driver={}", d.engine_kind());
            println!("CHILD driver-reason={}", d.engine_choice().reason);
        }
        Err(e) => println!("CHILD driver-error={e}"),
    }
    // An explicit io_uring ring fails with the same cause.
    match Ring::builder()
        .entries(4)
        .engine(EngineKind::Uring)
        .build::<Vec<u8>>()
    {
        Err(Error::EngineUnavailable { reason, .. }) => println!("CHILD explicit={reason}"),
        Ok(_) => println!("CHILD explicit=built"),
        Err(e) => println!("CHILD explicit-error={e}"),
    }
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.split_once(&format!("CHILD {key}=")).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("child printed no {key}: {out}"))
}

#[test]
fn a_process_whose_seccomp_filter_denies_io_uring_setup_falls_back_with_the_cause() {
    if let Ok(e) = std::env::var(CHILD) {
        child(e.parse().expect("errno"));
        return;
    }
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    for (errno, name) in [(libc::EPERM, "EPERM"), (libc::ENOSYS, "ENOSYS")] {
        for (engine_var, log) in [(None, false), (Some("uring"), false), (Some("uring"), true)] {
            check_child(errno, name, engine_var, log, &disabled);
        }
    }
}

fn check_child(errno: i32, name: &str, engine_var: Option<&str>, log: bool, disabled: &str) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD, errno.to_string())
        .env_remove("AIOLOS_ENGINE")
        .env_remove("AIOLOS_LOG");
    if let Some(e) = engine_var {
        cmd.env("AIOLOS_ENGINE", e);
    }
    if log {
        cmd.env("AIOLOS_LOG", "1");
    }
    let out = cmd.output().unwrap();
    let name = format!("{name} (AIOLOS_ENGINE={engine_var:?}, AIOLOS_LOG={log})");
    let name = name.as_str();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let errno_name = name.split(' ').next().unwrap();
    {
        assert_eq!(
            field(&stdout, "kind"),
            "threads",
            "{name}: suggest() chose the thread pool"
        );
        let reason = field(&stdout, "reason");
        assert!(
            reason.contains(errno_name),
            "{name}: the reason names the error: {reason}"
        );
        if errno == libc::EPERM {
            let cause = if disabled == "2" {
                "io_uring_disabled"
            } else {
                "seccomp"
            };
            assert!(
                reason.contains(cause),
                "EPERM: the reason names {cause}: {reason}"
            );
        }
        assert_eq!(field(&stdout, "from"), "Some(Uring)");
        // The library prints nothing unless asked; asked, it reports the fallback.
        let reported = stderr.contains("io_uring is unavailable");
        assert_eq!(
            reported, log,
            "{name}: the fallback is reported on stderr only with AIOLOS_LOG: {stderr}"
        );
        for what in ["ring", "driver"] {
            assert_eq!(
                field(&stdout, what),
                "threads",
                "{name}: a {what} without an explicit engine runs on the thread pool"
            );
            let why = field(&stdout, &format!("{what}-reason"));
            assert!(
                why.contains(errno_name) && why.contains("thread pool"),
                "{name}: the {what}'s engine choice names the cause: {why}"
            );
            if engine_var.is_some() {
                assert!(
                    why.contains("AIOLOS_ENGINE=uring"),
                    "{name}: the {what}'s reason says what was asked for: {why}"
                );
            }
        }
        assert_eq!(
            field(&stdout, "ring-from-env"),
            engine_var.is_some().to_string()
        );
        assert!(
            field(&stdout, "explicit").contains(errno_name),
            "{name}: an explicit io_uring ring fails and explains itself"
        );
    }
}
