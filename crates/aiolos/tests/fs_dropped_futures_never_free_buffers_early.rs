//! Futures dropped at random points (before their first poll, in flight, after completing)
//! never let the kernel write into freed memory, and every buffer is freed exactly once.
//!
//! After each drop a buffer of the same size is allocated and filled with a canary, so an
//! allocator reusing a buffer that the kernel still writes into would show up as a changed
//! canary once every request has completed. `AIOLOS_DROP_COUNT` sets how many futures
//! (default 20,000).
mod common;
use aiolos::fs::{Driver, File};
use aiolos::{BufResult, EngineKind};
use common::fs::{drain_in_flight, poll_once, run, AlignedBuf, CountedBuf, Mode, Rng};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CANARY: u8 = 0xA5;
const FILE_LEN: usize = 4 << 20;

fn count() -> usize {
    std::env::var("AIOLOS_DROP_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

async fn drop_at_random(driver: Driver, path: std::path::PathBuf, direct: bool, n: usize) {
    let file = File::options()
        .read(true)
        .direct(direct)
        .driver(&driver)
        .open_blocking(&path)
        .expect("open");
    let drops = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(n as u64 ^ u64::from(direct));
    let mut live = Vec::new();
    let mut canaries = Vec::new();
    let mut checked = 0;
    for i in 0..n {
        let off = rng.below((FILE_LEN / 4096) as u64) * 4096;
        let mut fut = file.read_at(CountedBuf::new(4096, &drops), off);
        if rng.below(8) != 0 {
            // Submitted; it may complete at any time from here on.
            if poll_once(&mut fut) {
                continue;
            }
        }
        live.push((off, fut));
        if live.len() > 128 || i + 1 == n {
            // Drop most at a random point, await a few and check their bytes.
            while let Some((off, fut)) = live.pop() {
                match rng.below(16) {
                    0 => {
                        let BufResult(r, buf) = fut.await;
                        assert_eq!(r.expect("read"), 4096);
                        assert_eq!(buf.vec.as_slice(), &pattern(off, 4096)[..], "offset {off}");
                        checked += 1;
                    }
                    1 => {
                        tokio_free_yield().await;
                        drop(fut);
                    }
                    _ => drop(fut),
                }
                // Same size as the buffer just released: the allocator hands it out
                // again if it was freed.
                canaries.push(AlignedBuf::from_slice(&[CANARY; 4096]));
            }
            if canaries.len() > 4096 {
                canaries.drain(..1024);
            }
        }
    }
    assert!(checked > 0, "no read was awaited");
    // Wait without blocking the thread: on a runtime the driver task may need this very
    // worker thread to submit and reap.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while driver.outstanding() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} requests still outstanding after 60 s",
            driver.outstanding()
        );
        tokio_free_yield().await;
    }
    for (i, c) in canaries.iter().enumerate() {
        assert!(
            c.as_slice().iter().all(|&b| b == CANARY),
            "canary {i} was overwritten: the kernel wrote into a freed buffer"
        );
    }
    // Every buffer is freed exactly once. The driver drops an abandoned request's buffer
    // just after the ring hands its completion over, so allow it a moment to finish.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while drops.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
        tokio_free_yield().await;
    }
    for _ in 0..100 {
        tokio_free_yield().await;
    }
    assert_eq!(drops.load(Ordering::SeqCst), n, "buffers freed != created");
}

/// Lets other work run, without depending on a runtime.
async fn tokio_free_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

fn dropped_futures_never_free_buffers_early(kind: EngineKind) {
    let dir = scratch_dir();
    let path = dir.path().join("data");
    patterned_file(&path, FILE_LEN);
    let n = count();
    for (mode, direct) in [
        (Mode::TokioMultiThread, true),
        (Mode::TokioMultiThread, false),
        (Mode::Thread, true),
    ] {
        let p = path.clone();
        if !run(kind, mode, 256, move |d| {
            drop_at_random(d, p, direct, n / 3)
        }) {
            return;
        }
    }
}

fn a_forgotten_future_leaks_its_buffer_instead_of_freeing_it(kind: EngineKind) {
    let dir = scratch_dir();
    let path = dir.path().join("data");
    patterned_file(&path, FILE_LEN);
    let Some(driver) = fs::driver(kind, 64, |b| b.build()) else {
        return;
    };
    let file = File::options()
        .read(true)
        .direct(true)
        .driver(&driver)
        .open_blocking(&path)
        .expect("open");
    let drops = Arc::new(AtomicUsize::new(0));
    // A read that completes within its first poll hands its buffer back (and the test
    // drops it); every other one is forgotten while in flight.
    let mut ready = 0;
    for i in 0..32u64 {
        let mut fut = file.read_at(CountedBuf::new(4096, &drops), i * 4096);
        if poll_once(&mut fut) {
            ready += 1;
        }
        std::mem::forget(fut);
    }
    assert!(
        ready < 32,
        "every read finished within its first poll: nothing was forgotten in flight"
    );
    let canaries: Vec<AlignedBuf> = (0..64)
        .map(|_| AlignedBuf::from_slice(&[CANARY; 4096]))
        .collect();
    drain_in_flight(&driver, Duration::from_secs(30));
    assert!(canaries
        .iter()
        .all(|c| c.as_slice().iter().all(|&b| b == CANARY)));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        ready,
        "a forgotten buffer was freed"
    );
    // Their completions stay with the ring, never handed out.
    assert_eq!(driver.outstanding(), 32 - ready);
}

on_every_engine!(
    dropped_futures_never_free_buffers_early,
    a_forgotten_future_leaks_its_buffer_instead_of_freeing_it,
);
