//! `submit` sends everything queued in as few system calls as the ring's split says: one
//! for the whole batch with `submit_split(0, 0)`; by default 2 requests in the first call
//! (below the kernel's plug threshold) and 8 in each later one.
mod common;
use aiolos::{EngineKind, Error, Op, Ring};
use common::*;
use std::time::Duration;

fn ring_split(kind: EngineKind, split: Option<(u32, u32)>) -> Option<Ring<Vec<u8>>> {
    let mut b = Ring::builder().entries(128).engine(kind);
    if let Some((first, then)) = split {
        b = b.submit_split(first, then);
    }
    match b.build() {
        Ok(r) => Some(r),
        Err(Error::EngineUnavailable { kind, reason }) => {
            eprintln!("SKIP: engine {kind} unavailable: {reason}");
            None
        }
        Err(e) => panic!("creating a {kind} ring failed: {e}"),
    }
}

fn a_batch_of_64_reads_is_submitted_with_one_system_call(kind: EngineKind) {
    submits_64_reads_in(kind, Some((0, 0)), 1);
}

fn the_default_split_sends_2_then_8_requests_per_system_call(kind: EngineKind) {
    // 2 + 7 × 8 + 6.
    submits_64_reads_in(kind, None, 9);
}

fn submits_64_reads_in(kind: EngineKind, split: Option<(u32, u32)>, calls: u64) {
    let Some(ring) = ring_split(kind, split) else {
        return;
    };
    if kind == EngineKind::Threads {
        eprintln!("SKIP: the thread pool makes no system call to submit");
        return;
    }
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 64 * 512);
    let file: aiolos::Fd = open_rw(&path, false).into();
    for i in 0..64u64 {
        ring.push(Op::read(&file, Vec::with_capacity(512), i * 512).user_data(i))
            .unwrap();
    }
    let before = ring.stats().submit_syscalls;
    assert_eq!(ring.submit().unwrap(), 64);
    assert_eq!(ring.stats().submit_syscalls - before, calls);
    let mut seen = 0;
    while seen < 64 {
        for c in ring.wait(1, 64, Some(Duration::from_secs(10))).unwrap() {
            assert_eq!(bytes(&c), 512);
            let off = c.user_data * 512;
            assert_eq!(c.into_buf().unwrap(), pattern(off, 512));
            seen += 1;
        }
    }
}

on_every_engine!(
    a_batch_of_64_reads_is_submitted_with_one_system_call,
    the_default_split_sends_2_then_8_requests_per_system_call
);
