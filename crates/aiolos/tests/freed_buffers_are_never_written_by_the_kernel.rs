//! Buffers of reads held in flight on a stalling FUSE file are given up in every way the
//! API allows (the ring dropped, the request cancelled and detached, an async read's future
//! dropped). This binary's allocator quarantines every freed I/O-sized block filled with a
//! poison byte instead of reusing it, so if the library freed a buffer before the kernel
//! was done with it, the kernel's late write changes the poison and the check names the
//! block, deterministically, whatever a real allocator would have reused.
mod common;
use aiolos::fs::{Driver, File};
use aiolos::{EngineKind, Op};
use common::faultfs::{FaultFs, Faults};
use common::fs::{drain, poll_once};
use common::quarantine::{self, Quarantine};
use common::*;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: Quarantine = Quarantine;

const STALL: Duration = Duration::from_millis(1500);

/// The quarantine is global: one test at a time owns it.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 1 MiB file whose first 64 KiB stall for [`STALL`].
fn stalled_fs() -> Option<FaultFs> {
    FaultFs::mount_or_skip(&Faults {
        size: 1 << 20,
        stall: Some((0, 64 * 1024, STALL)),
        ..Faults::default()
    })
}

fn open_direct(fs: &FaultFs) -> std::fs::File {
    OpenOptions::new()
        .read(true)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(fs.data())
        .expect("open faultfs data")
}

/// Once every stalled read can have finished: each given-up buffer is in quarantine (it
/// was freed) and no quarantined block was written after it was freed.
fn check(addrs: &[usize], submitted: Instant) {
    let settle = submitted + STALL + Duration::from_millis(500);
    std::thread::sleep(settle.saturating_duration_since(Instant::now()));
    for (i, &a) in addrs.iter().enumerate() {
        assert!(
            quarantine::holds(a),
            "buffer {i} was not freed (quarantine overflowed {} times)",
            quarantine::overflowed()
        );
    }
    let n = quarantine::check_and_release().unwrap_or_else(|e| panic!("{e}"));
    assert!(n >= addrs.len());
}

fn a_dropped_ring_frees_its_buffers_only_after_the_kernel_wrote_them(kind: EngineKind) {
    let _g = serial();
    let Some(fs) = stalled_fs() else { return };
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let file = aiolos::Fd::from(open_direct(&fs));
    quarantine::check_and_release().unwrap_or_else(|e| panic!("before the test: {e}"));
    let mut addrs = Vec::new();
    for i in 0..4u64 {
        let buf = Vec::with_capacity(4096);
        addrs.push(buf.as_ptr() as usize);
        ring.push(Op::read(&file, buf, i * 4096)).unwrap();
    }
    ring.submit().unwrap();
    let submitted = Instant::now();
    // Let the reads reach the stall (a pool cancels reads it has not started).
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        ring.wait(0, 8, Some(Duration::ZERO)).unwrap().is_empty(),
        "the stall did not hold the reads"
    );
    drop(ring);
    check(&addrs, submitted);
}

fn a_cancelled_and_detached_read_frees_its_buffer_only_after_the_kernel_wrote_it(kind: EngineKind) {
    let _g = serial();
    let Some(fs) = stalled_fs() else { return };
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let file = aiolos::Fd::from(open_direct(&fs));
    quarantine::check_and_release().unwrap_or_else(|e| panic!("before the test: {e}"));
    let buf = Vec::with_capacity(4096);
    let addrs = [buf.as_ptr() as usize];
    let t = ring.push(Op::read(&file, buf, 0)).unwrap();
    ring.submit().unwrap();
    let submitted = Instant::now();
    std::thread::sleep(Duration::from_millis(100));
    ring.cancel(t).unwrap();
    ring.detach(t);
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
    check(&addrs, submitted);
}

fn a_dropped_read_future_frees_its_buffer_only_after_the_kernel_wrote_it(kind: EngineKind) {
    let _g = serial();
    let Some(fs) = stalled_fs() else { return };
    let Some(driver) = common::fs::driver(kind, 8, |b| b.build()) else {
        return;
    };
    let file = File::from_std_on(open_direct(&fs), &driver);
    quarantine::check_and_release().unwrap_or_else(|e| panic!("before the test: {e}"));
    let mut addrs = Vec::new();
    let mut futs = Vec::new();
    for i in 0..4u64 {
        let buf = common::fs::AlignedBuf::new(4096);
        addrs.push(buf.as_slice().as_ptr() as usize);
        let mut fut = file.read_at(buf, i * 4096);
        assert!(!poll_once(&mut fut), "a stalled read completed at once");
        futs.push(fut);
    }
    let submitted = Instant::now();
    std::thread::sleep(Duration::from_millis(100));
    drop(futs);
    drain(&driver, STALL * 4);
    drop::<Driver>(driver);
    check(&addrs, submitted);
}

on_every_engine!(
    a_dropped_ring_frees_its_buffers_only_after_the_kernel_wrote_them,
    a_cancelled_and_detached_read_frees_its_buffer_only_after_the_kernel_wrote_it,
    a_dropped_read_future_frees_its_buffer_only_after_the_kernel_wrote_it,
);
