//! Closing a ring wakes every thread blocked in `wait`, and nothing is lost or reported
//! twice across the close.
mod common;
use aiolos::{EngineKind, Error, Op};
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn a_thread_blocked_in_wait_is_woken_by_close(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let ring = Arc::new(ring);
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    let t = ring.push(Op::poll(&r, aiolos::op::events::POLLIN)).unwrap();
    ring.submit().unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let r = ring.wait(1, 8, None);
                (r, start.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    ring.close().unwrap();
    let mut delivered = 0;
    for w in waiters {
        let (r, elapsed) = w.join().unwrap();
        assert!(
            elapsed < Duration::from_secs(30),
            "waiter hung for {elapsed:?}"
        );
        match r {
            Ok(done) => {
                for c in done {
                    assert_eq!(c.token, t);
                    assert!(c.cancel_requested);
                    delivered += 1;
                }
            }
            Err(Error::Closed) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    // The cancelled poll is delivered exactly once, to a waiter or to a later wait.
    loop {
        match ring.wait(1, 8, Some(Duration::from_secs(1))) {
            Ok(done) => delivered += done.len(),
            Err(Error::Closed) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(delivered, 1);
    assert!(matches!(ring.push(Op::nop()), Err(e) if matches!(e.error, Error::Closed)));
}

fn dropping_a_ring_with_many_reads_in_flight_completes_them_first(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 1024) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 1 << 20);
    let file: aiolos::Fd = open_rw(&path, false).into();
    for i in 0..1000u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), (i % 256) * 4096))
            .unwrap();
    }
    ring.submit().unwrap();
    let start = Instant::now();
    drop(ring);
    assert!(start.elapsed() < Duration::from_secs(60));
}

on_every_engine!(
    a_thread_blocked_in_wait_is_woken_by_close,
    dropping_a_ring_with_many_reads_in_flight_completes_them_first,
);
