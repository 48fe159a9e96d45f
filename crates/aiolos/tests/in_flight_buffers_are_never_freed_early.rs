//! The kernel may write into a read buffer until the request completes. Memory sanitizers
//! cannot see such writes, so these tests check directly: a read is held in flight on a
//! stalling FUSE file, the ring (or the request) is dropped, memory allocated afterwards is
//! filled with a canary, and the canary must be intact once the read has finished.
mod common;
use aiolos::{EngineKind, Op, Ring};
use common::faultfs::{FaultFs, Faults};
use common::*;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

const STALL: Duration = Duration::from_millis(1500);
const CANARY: u8 = 0xEE;

/// A 1 MiB file whose first 64 KiB stall for [`STALL`].
fn stalled_fs() -> Option<FaultFs> {
    FaultFs::mount_or_skip(&Faults {
        size: 1 << 20,
        stall: Some((0, 64 * 1024, STALL)),
        ..Faults::default()
    })
}

fn open_direct(fs: &FaultFs) -> aiolos::Fd {
    OpenOptions::new()
        .read(true)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(fs.data())
        .expect("open faultfs data")
        .into()
}

fn canaries(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| vec![CANARY; 4096]).collect()
}

fn assert_canaries(c: &[Vec<u8>]) {
    for (i, v) in c.iter().enumerate() {
        assert!(
            v.iter().all(|&b| b == CANARY),
            "canary {i} was overwritten: the kernel wrote into freed memory"
        );
    }
}

fn dropping_a_ring_with_a_stalled_read_waits_for_it_before_freeing(kind: EngineKind) {
    let Some(fs) = stalled_fs() else { return };
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let file = open_direct(&fs);
    for i in 0..4u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), i * 4096))
            .unwrap();
    }
    ring.submit().unwrap();
    // `wait` with min 0 does not sleep: give the reads time to start (a thread-pool engine
    // cancels reads still queued when the ring closes, and those never stall).
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        ring.wait(0, 8, Some(Duration::from_millis(100)))
            .unwrap()
            .is_empty(),
        "the stall did not hold the reads"
    );
    let start = Instant::now();
    let dropper = std::thread::spawn(move || drop::<Ring<Vec<u8>>>(ring));
    // Allocations of the same size as the in-flight buffers while the drop is under way.
    let c = canaries(64);
    dropper.join().unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= STALL / 2,
        "drop returned after {elapsed:?}, before the stalled reads could finish"
    );
    assert_canaries(&c);
}

fn a_detached_request_keeps_its_buffer_until_the_kernel_is_done(kind: EngineKind) {
    let Some(fs) = stalled_fs() else { return };
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let file = open_direct(&fs);
    let t = ring
        .push(Op::read(&file, Vec::with_capacity(4096), 0))
        .unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    ring.cancel(t).unwrap();
    ring.detach(t);
    let c = canaries(64);
    let deadline = Instant::now() + STALL * 4;
    while ring.outstanding() > 0 && Instant::now() < deadline {
        let got = ring.wait(0, 8, Some(Duration::from_millis(50))).unwrap();
        assert!(got.is_empty(), "a detached request was handed out");
    }
    assert_eq!(
        ring.outstanding(),
        0,
        "the detached request never completed"
    );
    assert_canaries(&c);
}

fn a_wait_with_a_timeout_returns_while_a_read_stalls(kind: EngineKind) {
    let Some(fs) = stalled_fs() else { return };
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let file = open_direct(&fs);
    ring.push(Op::read(&file, Vec::with_capacity(4096), 0))
        .unwrap();
    ring.submit().unwrap();
    let got = ring.wait(1, 8, Some(Duration::from_millis(200))).unwrap();
    assert!(got.is_empty());
    let got = ring.wait(1, 8, Some(STALL * 4)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got[0]), 4096);
    assert_eq!(
        got.into_iter().next().unwrap().into_buf().unwrap(),
        pattern(0, 4096)
    );
}

on_every_engine!(
    dropping_a_ring_with_a_stalled_read_waits_for_it_before_freeing,
    a_detached_request_keeps_its_buffer_until_the_kernel_is_done,
    a_wait_with_a_timeout_returns_while_a_read_stalls,
);
