//! `tokio::time::timeout` around a read of a file whose reads stall (a FUSE file system)
//! returns on time; the read's buffer stays alive until the kernel is done with it and is
//! then freed exactly once; later reads on the same driver work.
mod common;
use aiolos::fs::File;
use aiolos::{BufResult, EngineKind};
use common::faultfs::{FaultFs, Faults};
use common::fs::{drain, run, AlignedBuf, CountedBuf, Mode};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STALL: Duration = Duration::from_millis(1500);
const CANARY: u8 = 0xC3;

fn a_timed_out_read_keeps_its_buffer_until_the_kernel_is_done(kind: EngineKind) {
    let faults = Faults {
        size: 1 << 20,
        stall: Some((0, 64 * 1024, STALL)),
        ..Faults::default()
    };
    let Some(fs) = FaultFs::mount_or_skip(&faults) else {
        return;
    };
    let path = fs.data();
    run(kind, Mode::TokioMultiThread, 64, move |driver| async move {
        let file = File::options()
            .read(true)
            .direct(true)
            .driver(&driver)
            .open_blocking(&path)
            .expect("open faultfs data");
        let drops = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_millis(200),
            file.read_at(CountedBuf::new(4096, &drops), 0),
        )
        .await;
        let elapsed = start.elapsed();
        assert!(r.is_err(), "the stalled read finished before the timeout");
        assert!(
            elapsed < STALL / 2,
            "the timeout took {elapsed:?}: it waited for the stalled read"
        );
        // The future is gone; the request is still in flight (kernel AIO cannot cancel
        // it; FUSE completes it when the stall ends), so its buffer must be alive.
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "the buffer was freed while the kernel could still write into it"
        );
        let canaries: Vec<AlignedBuf> = (0..64)
            .map(|_| AlignedBuf::from_slice(&[CANARY; 4096]))
            .collect();
        let d = driver.clone();
        tokio::task::spawn_blocking(move || drain(&d, STALL * 8))
            .await
            .expect("drain");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the timed-out read's buffer was not freed exactly once"
        );
        for c in &canaries {
            assert!(
                c.as_slice().iter().all(|&b| b == CANARY),
                "a canary was overwritten: the kernel wrote into a freed buffer"
            );
        }
        // The driver still works: a read outside the stalled range completes.
        let BufResult(n, buf) = file.read_at(AlignedBuf::new(4096), 128 * 1024).await;
        assert_eq!(n.expect("read after the timeout"), 4096);
        assert_eq!(buf.as_slice(), &pattern(128 * 1024, 4096)[..]);
    });
}

on_every_engine!(a_timed_out_read_keeps_its_buffer_until_the_kernel_is_done);
