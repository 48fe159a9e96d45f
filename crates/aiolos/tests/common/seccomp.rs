//! io_uring (or another system call) denied by a seccomp filter, the way container runtimes
//! and sandboxes deny it: to this test's own child process ([`deny_io_uring_setup`]), or
//! to any program it runs ([`run_with_io_uring_denied`], [`run_with_denied`]: the test
//! binary re-runs itself as a child that installs the filter and then executes the
//! program, which inherits the filter).
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const EXEC: &str = "AIOLOS_TEST_DENY_URING_EXEC";
/// The system calls the child denies (numbers, comma-separated; default `io_uring_setup`).
const DENY: &str = "AIOLOS_TEST_DENY_SYSCALLS";
const SEP: char = '\u{1f}';

/// Installs a filter on this thread (inherited by what it executes): `io_uring_setup`
/// fails with `errno`, every other call runs.
pub fn deny_io_uring_setup(errno: i32) {
    deny(&[libc::SYS_io_uring_setup], errno);
}

/// Installs a filter on this thread (inherited by what it executes): each of `calls`
/// fails with `errno`, every other call runs.
pub fn deny(calls: &[libc::c_long], errno: i32) {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // 0: load arch; 1: other arch -> allow; 2: load the number; 3..3+n: one comparison
    // per call, a match jumping to the errno return; 3+n: allow; 4+n: errno.
    let n = u8::try_from(calls.len()).expect("a few calls");
    let mut prog = vec![
        ins(LD_W_ABS, 0, 0, 4),
        ins(JEQ_K, 0, n + 1, AUDIT_ARCH),
        ins(LD_W_ABS, 0, 0, 0),
    ];
    for (i, &nr) in (0u8..).zip(calls) {
        prog.push(ins(JEQ_K, n - i, 0, nr as u32));
    }
    prog.push(ins(RET_K, 0, 0, RET_ALLOW));
    prog.push(ins(RET_K, 0, 0, RET_ERRNO | errno as u32));
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

/// In the child that [`run_with_io_uring_denied`] starts: installs the filter and executes
/// the program (never returns). Elsewhere: returns at once. Call it first in the test that
/// `run_with_io_uring_denied` names.
pub fn exec_if_asked() {
    let Ok(cmd) = std::env::var(EXEC) else {
        return;
    };
    let mut parts = cmd.split(SEP);
    let program = parts.next().expect("a program to run");
    match std::env::var(DENY) {
        Ok(list) => {
            let calls: Vec<libc::c_long> = list
                .split(',')
                .map(|c| c.parse().expect("a system call number"))
                .collect();
            deny(&calls, libc::EPERM);
        }
        Err(_) => deny_io_uring_setup(libc::EPERM),
    }
    let e = Command::new(program)
        .args(parts)
        .env_remove(EXEC)
        .env_remove(DENY)
        .exec();
    panic!("executing {program} failed: {e}");
}

/// Runs `program args` in `dir` with `envs`, with `io_uring_setup` denied (EPERM, as a
/// seccomp profile denies it), through a re-run of this test binary's test `test` (which
/// must call [`exec_if_asked`] first).
pub fn run_with_io_uring_denied(
    test: &str,
    dir: &std::path::Path,
    program: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Output {
    run_with_denied(test, dir, program, args, envs, &[libc::SYS_io_uring_setup])
}

/// As [`run_with_io_uring_denied`], with the system calls `calls` denied (EPERM) instead.
pub fn run_with_denied(
    test: &str,
    dir: &std::path::Path,
    program: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
    calls: &[libc::c_long],
) -> Output {
    let list: Vec<String> = calls.iter().map(|c| c.to_string()).collect();
    let mut cmd_line = program.to_string_lossy().into_owned();
    for a in args {
        cmd_line.push(SEP);
        cmd_line.push_str(a);
    }
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.current_dir(dir)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(EXEC, cmd_line)
        .env(DENY, list.join(","))
        .env_remove("AIOLOS_ENGINE")
        .env_remove("AIOLOS_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run the test binary")
}
