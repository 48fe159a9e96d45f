//! An unprivileged process with `RLIMIT_MEMLOCK` = 0: kernel AIO and the thread pool run
//! (aiolos registers no buffers, so they need no locked memory); io_uring either runs or,
//! where the kernel counts the ring against the limit, is refused with a message naming
//! `RLIMIT_MEMLOCK` and `ulimit -l`, and a ring built without an explicit engine falls back
//! and works. (Registered buffers are not implemented, so there is no registered-buffer
//! fallback to test.) Root is exempt from the limit, so the child (this test binary,
//! re-run) drops to `nobody` after lowering it.
mod common;
use aiolos::{EngineKind, Op, Ring};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

const CHILD: &str = "AIOLOS_TEST_MEMLOCK_FILE";
const NOBODY: u32 = 65534;

fn child(kind: EngineKind, path: &str) {
    // SAFETY: setrlimit/setgid/setuid with plain values; the child is single-purpose.
    unsafe {
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim), 0);
        if libc::setgid(NOBODY) != 0 || libc::setuid(NOBODY) != 0 {
            println!("CHILD skip=cannot drop privileges");
            return;
        }
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let file: aiolos::Fd = file.into();
    println!("CHILD result={}", round_trip(Some(kind), &file));
    println!("CHILD default={}", round_trip(None, &file));
}

fn round_trip(kind: Option<EngineKind>, file: &aiolos::Fd) -> String {
    let mut b = Ring::builder().entries(8);
    if let Some(kind) = kind {
        b = b.engine(kind);
    }
    let ring: Ring<Vec<u8>> = match b.build() {
        Ok(r) => r,
        Err(e) => return format!("error: {e}"),
    };
    ring.push(Op::write(file, b"memlock".to_vec(), 0)).unwrap();
    ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    ring.push(Op::read(file, Vec::with_capacity(7), 0)).unwrap();
    let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    let c = c.into_iter().next().unwrap();
    let ok = c.result.is_ok();
    if ok && c.into_buf().unwrap() == b"memlock" {
        format!("round-trip on {}", ring.engine_kind())
    } else {
        "bad data".into()
    }
}

fn an_unprivileged_process_without_locked_memory_falls_back_with_the_cause(kind: EngineKind) {
    if let Ok(path) = std::env::var(CHILD) {
        child(kind, &path);
        return;
    }
    // SAFETY: geteuid has no arguments.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: dropping to an unprivileged user needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let name = format!(
        "{}::an_unprivileged_process_without_locked_memory_falls_back_with_the_cause",
        kind.name()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &name, "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.contains("CHILD skip=") {
        eprintln!("SKIP: the child could not drop privileges");
        return;
    }
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(&format!("CHILD {key}=")).map(|(_, v)| v))
            .unwrap_or_else(|| panic!("no {key}: {stdout}"))
            .to_string()
    };
    let result = field("result");
    eprintln!("{kind} under RLIMIT_MEMLOCK = 0: {result}");
    if result.contains("unavailable") && !result.contains("MEMLOCK") {
        eprintln!("SKIP: engine {kind} unavailable here: {result}");
        return;
    }
    if kind == EngineKind::Uring && result.starts_with("error") {
        assert!(
            result.contains("RLIMIT_MEMLOCK") && result.contains("ulimit -l"),
            "the refusal names the limit and the fix: {result}"
        );
        let default = field("default");
        assert!(
            default.starts_with("round-trip") && !default.ends_with("uring"),
            "a default ring falls back and works: {default}"
        );
    } else {
        assert_eq!(result, format!("round-trip on {kind}"));
    }
}

on_every_engine!(an_unprivileged_process_without_locked_memory_falls_back_with_the_cause);
