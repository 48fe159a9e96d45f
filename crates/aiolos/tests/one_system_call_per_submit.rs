//! `submit` sends everything queued in one system call.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::time::Duration;

fn a_batch_of_64_reads_is_submitted_with_one_system_call(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 128) else {
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
    assert_eq!(ring.stats().submit_syscalls - before, 1);
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

on_every_engine!(a_batch_of_64_reads_is_submitted_with_one_system_call);
