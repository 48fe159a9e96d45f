//! Futures only queue their requests; the driver submits them. None may stay queued while
//! the driver sleeps: many tasks (and threads) that push at once while the driver is idle
//! all complete, on every engine and every kind of driver, and a read pushed while the
//! driver waits for another, stalled request completes long before the stall ends.
mod common;
use aiolos::fs::File;
use aiolos::{BufResult, EngineKind};
use common::faultfs::{FaultFs, Faults};
use common::fs::{data_file, driver, open_read, AlignedBuf, JoinAll, Mode};
use common::*;
use std::sync::mpsc;
use std::time::Duration;

/// Rounds of pushes, each after the driver has gone idle.
const ROUNDS: usize = 10;
/// Reads started together in each round.
const READERS: usize = 64;
/// How long a round may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);
const LEN: usize = 256 * 1024;

/// One reader: a 4 KiB read at a block chosen by `seed`, checked against the pattern.
async fn read_one(file: File, seed: usize) {
    let off = ((seed * 7919) % (LEN / 4096) * 4096) as u64;
    let BufResult(n, buf) = file.read_at(Vec::with_capacity(4096), off).await;
    assert_eq!(n.expect("read"), 4096);
    assert_eq!(buf, pattern(off, 4096), "read at {off} returned wrong data");
}

/// Runs `f` on its own thread; panics if it has not finished within `limit` (the thread
/// is left behind: a hang fails the test instead of hanging it).
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {limit:?}: requests stayed queued")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Runs `round` ROUNDS times, each after a pause that lets the driver go to sleep; each
/// round must finish within HANG.
fn rounds(what: &str, round: impl Fn(usize) + Send + Sync + 'static) {
    let round = std::sync::Arc::new(round);
    for r in 0..ROUNDS {
        std::thread::sleep(Duration::from_millis(20));
        let round = round.clone();
        within(HANG, &format!("{what}, round {r}"), move || round(r));
    }
}

fn many_pushes_while_the_driver_is_idle_all_complete(kind: EngineKind) {
    let (_dir, path) = data_file(LEN);

    // A completion thread; the pushes come from many threads at once.
    if let Some(d) = driver(kind, 16, |b| b.build()) {
        let file = open_read(&d, &path);
        let (d2, file2) = (d.clone(), file.clone());
        rounds("completion thread", move |r| {
            let (d, file) = (&d2, &file2);
            std::thread::scope(|s| {
                for t in 0..8 {
                    let (d, file) = (d.clone(), file.clone());
                    s.spawn(move || {
                        let reads = (0..READERS / 8)
                            .map(|i| {
                                Some(Box::pin(read_one(file.clone(), r * READERS + t * 8 + i)))
                            })
                            .collect();
                        d.block_on(JoinAll(reads));
                    });
                }
            });
        });
        assert_eq!(d.outstanding(), 0);
    }

    // A manual driver: several threads block in `block_on` (so in `run_once`) at once;
    // each one's pushes must reach the kernel even while another sleeps in the driver.
    if let Some(d) = driver(kind, 16, |b| b.build_manual()) {
        let file = open_read(&d, &path);
        let (d2, file2) = (d.clone(), file.clone());
        rounds("manual driver", move |r| {
            let (d, file) = (&d2, &file2);
            std::thread::scope(|s| {
                for t in 0..4 {
                    let (d, file) = (d.clone(), file.clone());
                    s.spawn(move || {
                        let reads = (0..READERS / 4)
                            .map(|i| {
                                Some(Box::pin(read_one(file.clone(), r * READERS + t * 16 + i)))
                            })
                            .collect();
                        d.block_on(JoinAll(reads));
                    });
                }
            });
        });
        assert_eq!(d.outstanding(), 0);
    }

    // tokio: tasks spawned together while the driver task sleeps.
    for mode in [Mode::TokioCurrentThread, Mode::TokioMultiThread] {
        let rt = if mode == Mode::TokioCurrentThread {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        }
        .expect("tokio runtime");
        let Some(d) = rt.block_on(async { driver(kind, 16, |b| b.build_tokio()) }) else {
            return;
        };
        let file = open_read(&d, &path);
        rt.block_on(async {
            for r in 0..ROUNDS {
                // Let the driver task finish its pass and go to sleep.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let tasks: Vec<_> = (0..READERS)
                    .map(|i| tokio::spawn(read_one(file.clone(), r * READERS + i)))
                    .collect();
                let all = async {
                    for t in tasks {
                        t.await.expect("reader task");
                    }
                };
                if tokio::time::timeout(HANG, all).await.is_err() {
                    panic!("{mode:?}: round {r} did not finish: requests stayed queued");
                }
            }
        });
        assert_eq!(d.outstanding(), 0);
    }
}

const STALL: Duration = Duration::from_millis(2000);

/// The driver sleeps waiting for a stalled request; a read pushed meanwhile must be
/// submitted at once, not when the stalled one completes.
fn a_read_pushed_while_the_driver_waits_for_a_stalled_one_is_not_held_back(kind: EngineKind) {
    let faults = Faults {
        size: 1 << 20,
        stall: Some((0, 64 * 1024, STALL)),
        ..Faults::default()
    };
    let Some(fs) = FaultFs::mount_or_skip(&faults) else {
        return;
    };
    let (_dir, path) = data_file(LEN);
    for manual in [false, true] {
        let Some(d) = driver(
            kind,
            16,
            |b| if manual { b.build_manual() } else { b.build() },
        ) else {
            return;
        };
        let stalled_file = File::options()
            .read(true)
            .direct(true)
            .driver(&d)
            .open_blocking(fs.data())
            .expect("open faultfs data");
        let file = open_read(&d, &path);
        let d2 = d.clone();
        let stalled = std::thread::spawn(move || {
            let BufResult(r, _) = d2.block_on(stalled_file.read_at(AlignedBuf::new(4096), 0));
            r.expect("stalled read");
        });
        // Let the stalled read reach the kernel and the driver go to sleep on it.
        std::thread::sleep(Duration::from_millis(200));
        let (d2, file2) = (d.clone(), file.clone());
        within(
            STALL / 2,
            &format!("manual={manual}: a read pushed while the driver slept on a stalled one"),
            move || d2.block_on(read_one(file2, 3)),
        );
        within(HANG, "the stalled read", move || stalled.join()).expect("stalled reader");
    }
}

on_every_engine!(
    many_pushes_while_the_driver_is_idle_all_complete,
    a_read_pushed_while_the_driver_waits_for_a_stalled_one_is_not_held_back
);
