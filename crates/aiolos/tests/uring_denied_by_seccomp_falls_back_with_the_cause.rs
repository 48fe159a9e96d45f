//! A process whose seccomp filter denies `io_uring_setup` is steered away from io_uring
//! by `EngineKind::suggest`, which names the cause, and the fallback is reported on
//! stderr. The filter is installed in a child process (this test binary, re-run).
use aiolos::{EngineKind, Error, Ring};
use std::process::Command;

const CHILD: &str = "AIOLOS_TEST_SECCOMP_ERRNO";
const NAME: &str = "a_process_whose_seccomp_filter_denies_io_uring_setup_falls_back_with_the_cause";

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Installs a filter on this thread: `io_uring_setup` fails with `errno`, all else runs.
fn deny_io_uring_setup(errno: i32) {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut prog = [
        ins(LD_W_ABS, 0, 0, 4),       // arch
        ins(JEQ_K, 0, 3, AUDIT_ARCH), // other arch: allow
        ins(LD_W_ABS, 0, 0, 0),       // syscall number
        ins(JEQ_K, 0, 1, libc::SYS_io_uring_setup as u32),
        ins(RET_K, 0, 0, RET_ERRNO | errno as u32),
        ins(RET_K, 0, 0, RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; fprog points at a live filter program for the call.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &fprog as *const _
            ),
            0,
            "installing the seccomp filter failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn child(errno: i32) {
    deny_io_uring_setup(errno);
    let s = EngineKind::suggest();
    println!("CHILD kind={}", s.kind);
    println!("CHILD reason={}", s.reason);
    println!("CHILD from={:?}", s.fallback_from.as_ref().map(|(k, _)| *k));
    // Without an explicit engine, a ring never lands on io_uring here.
    match Ring::builder().entries(4).build::<Vec<u8>>() {
        Ok(r) => println!("CHILD ring={}", r.engine_kind()),
        Err(Error::EngineUnavailable { kind, .. }) => println!("CHILD ring-unavailable={kind}"),
        Err(e) => println!("CHILD ring-error={e}"),
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
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD, errno.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert_ne!(
            field(&stdout, "kind"),
            "uring",
            "{name}: suggest() chose io_uring"
        );
        let reason = field(&stdout, "reason");
        assert!(
            reason.contains(name),
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
        assert!(
            stderr.contains("aiolos: io_uring is unavailable"),
            "{name}: the fallback is reported on stderr: {stderr}"
        );
        let ring = stdout.lines().find(|l| l.contains("CHILD ring")).unwrap();
        assert!(
            !ring.contains("uring"),
            "{name}: a default ring avoided io_uring: {ring}"
        );
        assert!(
            field(&stdout, "explicit").contains(name),
            "{name}: an explicit io_uring ring explains itself"
        );
    }
}
