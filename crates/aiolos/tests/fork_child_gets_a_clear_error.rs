//! A fork child cannot use its parent's ring: it gets `Error::Forked`, and the parent's
//! ring is unaffected.
mod common;
use aiolos::{EngineKind, Error, Op};
use common::*;
use std::time::Duration;

fn a_fork_child_using_the_parents_ring_gets_forked_and_the_parent_carries_on(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    ring.push(Op::nop()).unwrap();
    ring.wait(1, 1, Some(Duration::from_secs(5))).unwrap();
    // The child only runs async-signal-safe code plus the ring's checks, which allocate
    // nothing before they fail, then leaves with _exit.
    let pid = fork_and_run(|| {
        let push_refused =
            matches!(ring.push(Op::nop()), Err(e) if matches!(e.error, Error::Forked));
        let submit_refused = matches!(ring.submit(), Err(Error::Forked));
        let wait_refused = matches!(ring.wait(0, 1, Some(Duration::ZERO)), Err(Error::Forked));
        if push_refused && submit_refused && wait_refused {
            0
        } else {
            1
        }
    });
    assert_eq!(pid, 0, "the child was not refused with Error::Forked");
    ring.push(Op::nop().user_data(5)).unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(done[0].user_data, 5);
}

/// Forks; the child runs `f` and exits with its code; returns the child's exit code.
fn fork_and_run(f: impl FnOnce() -> i32) -> i32 {
    extern "C" {
        fn fork() -> i32;
        fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
        fn _exit(code: i32) -> !;
    }
    // SAFETY: the test is the only user of fork here; the child calls only f and _exit.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: _exit ends the child without running the parent's destructors twice.
        unsafe { _exit(code) };
    }
    let mut status = 0;
    // SAFETY: status is a valid out pointer; pid is our child.
    let r = unsafe { waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(
        status & 0x7f == 0,
        "child died from signal {}",
        status & 0x7f
    );
    (status >> 8) & 0xff
}

on_every_engine!(a_fork_child_using_the_parents_ring_gets_forked_and_the_parent_carries_on);
