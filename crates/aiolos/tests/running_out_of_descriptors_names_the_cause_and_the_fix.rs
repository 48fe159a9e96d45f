//! With `RLIMIT_NOFILE` so low that io_uring cannot get its descriptor, `EngineKind::suggest`
//! steers away from io_uring, and every engine that cannot start says why (EMFILE, the
//! descriptor limit) and what to do (`ulimit -n`). With two descriptors free, io_uring
//! (ring and eventfd) and kernel AIO (two eventfds) work; the thread pool, which needs one
//! eventfd per thread, still explains itself. The limit is set in a
//! child process (this test binary, re-run), never in the test process.
mod common;
use aiolos::{EngineKind, Op, Ring};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

const CHILD: &str = "AIOLOS_TEST_NOFILE_ENGINE";

fn set_nofile(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one live rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

/// The lowest descriptor number free now.
fn lowest_free() -> u64 {
    let f = std::fs::File::open("/dev/null").unwrap();
    f.as_raw_fd() as u64
}

fn try_ring(kind: Option<EngineKind>, file: &aiolos::Fd) -> String {
    let mut b = Ring::builder().entries(4);
    if let Some(kind) = kind {
        b = b.engine(kind);
    }
    match b.build::<Vec<u8>>() {
        Err(e) => format!("error: {e}"),
        Ok(ring) => {
            // Reads through a descriptor opened before the limit was lowered.
            ring.push(Op::read(file, Vec::with_capacity(4), 0)).unwrap();
            let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
            match &c[0].result {
                Ok(n) => format!("built {} read {n}", ring.engine_kind()),
                Err(e) => format!("built {} read-error {e}", ring.engine_kind()),
            }
        }
    }
}

fn child(kind: EngineKind) {
    use std::io::Write;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"data").unwrap();
    let spare: aiolos::Fd = file.into();
    let free = lowest_free();
    set_nofile(free);
    println!("CHILD none-explicit={}", try_ring(Some(kind), &spare));
    let s = EngineKind::suggest();
    println!("CHILD none-suggest={} {}", s.kind, s.reason);
    println!("CHILD none-default={}", try_ring(None, &spare));
    set_nofile(free + 2);
    println!("CHILD two-explicit={}", try_ring(Some(kind), &spare));
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.split_once(&format!("CHILD {key}=")).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("child printed no {key}: {out}"))
}

fn names_cause_and_fix(msg: &str) -> bool {
    msg.contains("EMFILE") && msg.contains("ulimit -n")
}

fn an_engine_without_descriptors_names_the_limit_and_the_fix(kind: EngineKind) {
    if let Ok(k) = std::env::var(CHILD) {
        child(k.parse().unwrap());
        return;
    }
    let name = format!(
        "{}::an_engine_without_descriptors_names_the_limit_and_the_fix",
        kind.name()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &name, "--nocapture", "--test-threads=1"])
        .env(CHILD, kind.name())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");

    // No descriptor free: every engine needs at least one.
    let explicit = field(&stdout, "none-explicit");
    if explicit.contains("unavailable") && !explicit.contains("EMFILE") {
        eprintln!("SKIP: engine {kind} unavailable here for another reason: {explicit}");
        return;
    }
    assert!(
        explicit.starts_with("error:") && names_cause_and_fix(explicit),
        "{kind} without descriptors: {explicit}"
    );
    let suggest = field(&stdout, "none-suggest");
    assert!(
        !suggest.starts_with("uring"),
        "suggest chose io_uring: {suggest}"
    );
    assert!(names_cause_and_fix(suggest), "suggest: {suggest}");
    let default = field(&stdout, "none-default");
    assert!(
        names_cause_and_fix(default)
            || (default.starts_with("built") && !default.contains("uring")),
        "a default ring: {default}"
    );

    // Two descriptors free: io_uring and kernel AIO work; the pool needs more, says so.
    let two = field(&stdout, "two-explicit");
    match kind {
        EngineKind::Threads => assert!(names_cause_and_fix(two), "threads with two: {two}"),
        _ => assert_eq!(two, format!("built {kind} read 4")),
    }
}

on_every_engine!(an_engine_without_descriptors_names_the_limit_and_the_fix);
