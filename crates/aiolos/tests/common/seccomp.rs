//! io_uring denied by a seccomp filter, the way container runtimes deny it: to this test's
//! own child process ([`deny_io_uring_setup`]), or to any program it runs
//! ([`run_with_io_uring_denied`]: the test binary re-runs itself as a child that installs
//! the filter and then executes the program, which inherits the filter).
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const EXEC: &str = "AIOLOS_TEST_DENY_URING_EXEC";
const SEP: char = '\u{1f}';

/// Installs a filter on this thread (inherited by what it executes): `io_uring_setup`
/// fails with `errno`, every other call runs.
pub fn deny_io_uring_setup(errno: i32) {
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

/// In the child that [`run_with_io_uring_denied`] starts: installs the filter and executes
/// the program (never returns). Elsewhere: returns at once. Call it first in the test that
/// `run_with_io_uring_denied` names.
pub fn exec_if_asked() {
    let Ok(cmd) = std::env::var(EXEC) else {
        return;
    };
    let mut parts = cmd.split(SEP);
    let program = parts.next().expect("a program to run");
    deny_io_uring_setup(libc::EPERM);
    let e = Command::new(program).args(parts).env_remove(EXEC).exec();
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
    let mut cmd_line = program.to_string_lossy().into_owned();
    for a in args {
        cmd_line.push(SEP);
        cmd_line.push_str(a);
    }
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.current_dir(dir)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(EXEC, cmd_line)
        .env_remove("AIOLOS_ENGINE")
        .env_remove("AIOLOS_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run the test binary")
}
