//! Dropping a tokio runtime while 1,000 reads are in flight (some of them stalled on a FUSE
//! file) returns, frees every buffer exactly once, and frees none of the stalled reads'
//! buffers before the kernel has finished them.
mod common;
use aiolos::fs::{Driver, File};
use aiolos::EngineKind;
use common::faultfs::{FaultFs, Faults};
use common::fs::{driver, CountedBuf, Rng};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const STALL: Duration = Duration::from_millis(1500);
const REQUESTS: usize = 1000;
const STALLED: usize = 8;

fn open_direct(driver: &Driver, path: &std::path::Path) -> File {
    File::options()
        .read(true)
        .direct(true)
        .driver(driver)
        .open_blocking(path)
        .expect("open")
}

fn runtime_shutdown_with_requests_in_flight_neither_hangs_nor_frees_early(kind: EngineKind) {
    let dir = scratch_dir();
    let path = dir.path().join("data");
    patterned_file(&path, 4 << 20);
    let fault = FaultFs::mount(&Faults {
        size: 1 << 20,
        stall: Some((0, 1 << 20, STALL)),
        ..Faults::default()
    });
    if let Err(why) = &fault {
        eprintln!("SKIP (stalled part): faultfs unavailable: {why}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Enough pool threads that every stalled read is running when the runtime goes: a
    // read still queued in the pool was never started, and the pool may cancel it and
    // free its buffer at once.
    let Some(d) = rt.block_on(async { driver(kind, 2048, |b| b.threads(STALLED).build_tokio()) })
    else {
        return;
    };
    let drops = Arc::new(AtomicUsize::new(0));
    let stalled_drops = Arc::new(AtomicUsize::new(0));
    let file = open_direct(&d, &path);
    let mut rng = Rng::new(42);
    let mut stalled = 0u64;
    // Before any request exists: every stall begins after this, so no stalled buffer may
    // be freed sooner than STALL after it.
    let submitted = Instant::now();
    rt.block_on(async {
        for i in 0..REQUESTS {
            let (file, buf, off) = match &fault {
                Ok(fs) if i % (REQUESTS / STALLED) == 0 => {
                    stalled += 1;
                    let f = open_direct(&d, &fs.data());
                    (f, CountedBuf::new(4096, &stalled_drops), stalled * 4096)
                }
                _ => (
                    file.clone(),
                    CountedBuf::new(4096, &drops),
                    rng.below(1024) * 4096,
                ),
            };
            tokio::spawn(async move {
                let r = file.read_at(buf, off).await;
                // Reads that finish before the shutdown keep their buffer here: the task
                // never ends, so the runtime drops it (and the buffer) at shutdown.
                std::future::pending::<()>().await;
                drop(r);
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    // Every stalled read must be running in the kernel (or the pool) when the runtime
    // goes: one still queued was never started, and may be cancelled and freed at once.
    if let Ok(fs) = &fault {
        assert!(
            fs.wait_for_stalls(stalled, Duration::from_secs(30)),
            "only {} of {stalled} stalled reads reached the file system",
            fs.stalls_begun()
        );
    }
    assert!(
        d.outstanding() >= stalled as usize,
        "only {} of {stalled} stalled reads are in flight",
        d.outstanding()
    );

    // Watch for the first stalled buffer to be freed.
    let watch = {
        let stalled_drops = stalled_drops.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + STALL * 20;
            while Instant::now() < deadline {
                if stalled_drops.load(Ordering::SeqCst) > 0 {
                    return Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            None
        })
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("dropping the runtime hung with requests in flight");
    drop(file);
    drop(d);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        REQUESTS - stalled as usize,
        "every buffer is freed exactly once"
    );
    assert_eq!(stalled_drops.load(Ordering::SeqCst), stalled as usize);
    if stalled > 0 {
        let first_free = watch.join().expect("watcher").expect("never freed");
        let after = first_free.duration_since(submitted);
        assert!(
            after >= STALL * 8 / 10,
            "a stalled read's buffer was freed {after:?} after submission, before the \
             kernel could have finished it"
        );
    }
}

on_every_engine!(runtime_shutdown_with_requests_in_flight_neither_hangs_nor_frees_early);
