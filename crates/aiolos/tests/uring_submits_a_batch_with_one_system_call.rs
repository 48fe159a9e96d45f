//! On io_uring, a batch of 32 goes to the kernel in one `io_uring_enter`, completions
//! already in the completion queue are taken without a system call, and a batch larger
//! than the submission queue is split and still completes in full.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::time::{Duration, Instant};

#[test]
fn a_batch_of_32_reads_costs_one_io_uring_enter() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 64) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 32 * 4096);
    let file: aiolos::Fd = open_rw(&path, false).into();
    for i in 0..32u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), i * 4096).user_data(i))
            .unwrap();
    }
    let before = ring.stats();
    assert_eq!(ring.submit().unwrap(), 32);
    let after = ring.stats();
    assert_eq!(after.submit_syscalls - before.submit_syscalls, 1);
    assert_eq!(
        after.reap_syscalls, before.reap_syscalls,
        "submitting does not reap"
    );
    let mut seen = 0;
    while seen < 32 {
        for c in ring.wait(1, 32, Some(Duration::from_secs(10))).unwrap() {
            assert_eq!(bytes(&c), 4096);
            let off = c.user_data * 4096;
            assert_eq!(c.into_buf().unwrap(), pattern(off, 4096));
            seen += 1;
        }
    }
}

#[test]
fn completions_already_in_the_queue_are_reaped_without_a_system_call() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 64) else {
        return;
    };
    for i in 0..16 {
        ring.push(Op::nop().user_data(i)).unwrap();
    }
    ring.submit().unwrap();
    // No-ops complete during the submit call; wait until the notification fd says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !common::eventfd::readable(ring.notify_fd(), Duration::from_millis(100)) {
        assert!(Instant::now() < deadline, "no completion was signalled");
    }
    let before = ring.stats();
    let done = ring.wait(16, 16, Some(Duration::from_secs(10))).unwrap();
    let after = ring.stats();
    assert_eq!(done.len(), 16);
    assert_eq!(
        after.reap_syscalls, before.reap_syscalls,
        "no system call to reap"
    );
    assert_eq!(
        after.reaped_without_syscall - before.reaped_without_syscall,
        16
    );
}

#[test]
fn a_batch_larger_than_the_submission_queue_is_split_and_completes() {
    // The engine's submission queue holds at most 4096 entries.
    let n = 5000u32;
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, n) else {
        return;
    };
    for i in 0..n {
        ring.push(Op::nop().user_data(u64::from(i))).unwrap();
    }
    let before = ring.stats().submit_syscalls;
    assert_eq!(ring.submit().unwrap(), n as usize);
    assert!(
        ring.stats().submit_syscalls - before >= 2,
        "one call cannot hold the batch"
    );
    let mut seen = vec![false; n as usize];
    let mut count = 0;
    while count < n {
        for c in ring
            .wait(1, n as usize, Some(Duration::from_secs(10)))
            .unwrap()
        {
            assert_eq!(bytes(&c), 0);
            assert!(
                !std::mem::replace(&mut seen[c.user_data as usize], true),
                "duplicate"
            );
            count += 1;
        }
    }
}
