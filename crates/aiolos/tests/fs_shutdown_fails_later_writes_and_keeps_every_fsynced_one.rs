//! A file system shut down mid-stream (ext4 on a loop device, `EXT4_IOC_SHUTDOWN` without
//! flushing the log: a power cut as the file system sees it) fails every later write and
//! fsync with EIO, on the request itself; after unmount and mount, every write that was
//! reported complete *and* covered by a completed fsync is on disk. The loop device and
//! mount are removed by a guard, also when the test fails.
mod common;
use aiolos::{AlignedBuf, EngineKind, Op};
use common::loopdev::LoopDev;
use common::*;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

const BLOCK: usize = 4096;
const BATCH: u64 = 8;
const DURABLE_BATCHES: u64 = 4;

/// `EXT4_IOC_SHUTDOWN` = `_IOR('X', 125, __u32)`.
const EXT4_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587D;
/// Shut down without flushing the journal.
const EXT4_GOING_FLAGS_NOLOGFLUSH: u32 = 2;

fn shutdown(mnt: &Path) -> std::io::Result<()> {
    let dir = std::fs::File::open(mnt)?;
    let mut flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
    // SAFETY: the ioctl reads one u32 through a pointer to a live local.
    let r = unsafe { libc::ioctl(dir.as_raw_fd(), EXT4_IOC_SHUTDOWN, &mut flags as *mut u32) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn block(n: u64) -> AlignedBuf {
    AlignedBuf::from_slice(&pattern(n * BLOCK as u64, BLOCK), BLOCK)
}

/// Pushes writes of blocks `first..first + BATCH` and an fsync, waits for all; returns
/// each write's result and the fsync's.
fn batch(
    ring: &aiolos::Ring<AlignedBuf>,
    file: &aiolos::Fd,
    first: u64,
    with_fsync: bool,
) -> (Vec<std::io::Result<usize>>, Option<std::io::Result<usize>>) {
    for n in first..first + BATCH {
        ring.push(Op::write(file, block(n), n * BLOCK as u64).user_data(n))
            .unwrap();
    }
    let mut writes: Vec<_> = (0..BATCH).map(|_| Ok(0)).collect();
    for _ in 0..BATCH {
        let c = ring.wait(1, 1, Some(Duration::from_secs(20))).unwrap();
        let c = c.into_iter().next().unwrap();
        writes[(c.user_data - first) as usize] = c.result;
    }
    let sync = with_fsync.then(|| {
        ring.push(Op::fsync(file).user_data(u64::MAX)).unwrap();
        let c = ring.wait(1, 1, Some(Duration::from_secs(20))).unwrap();
        c.into_iter().next().unwrap().result
    });
    (writes, sync)
}

fn after_a_shutdown_writes_fail_with_eio_and_fsynced_writes_survive_remount(kind: EngineKind) {
    let Some(mut dev) = LoopDev::create(64 << 20, 4096) else {
        return;
    };
    let Some(mnt) = dev.mount_ext4() else {
        return;
    };
    let Some(ring) = ring::<AlignedBuf>(kind, 32) else {
        return;
    };
    let path = mnt.join("stream");
    let file: aiolos::Fd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(&path)
        .unwrap()
        .into();

    let mut durable = Vec::new();
    for b in 0..DURABLE_BATCHES {
        let (writes, sync) = batch(&ring, &file, b * BATCH, true);
        for (i, w) in writes.iter().enumerate() {
            assert_eq!(*w.as_ref().unwrap(), BLOCK, "write {i} of batch {b}");
        }
        sync.unwrap().unwrap();
        durable.extend(b * BATCH..(b + 1) * BATCH);
    }
    // Written but never fsynced: may or may not survive the power cut.
    let (writes, _) = batch(&ring, &file, DURABLE_BATCHES * BATCH, false);
    assert!(writes.iter().all(|w| w.is_ok()));

    if let Err(e) = shutdown(&mnt) {
        eprintln!("SKIP: EXT4_IOC_SHUTDOWN refused: {e}");
        return;
    }

    let (writes, sync) = batch(&ring, &file, (DURABLE_BATCHES + 1) * BATCH, true);
    for (i, w) in writes.iter().enumerate() {
        let e = w.as_ref().expect_err("a write after shutdown succeeded");
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "write {i}: {e}");
    }
    let e = sync
        .unwrap()
        .expect_err("an fsync after shutdown succeeded");
    assert_eq!(e.raw_os_error(), Some(libc::EIO), "fsync: {e}");

    drop(file);
    drop(ring);
    let mnt = dev.remount();
    let f = std::fs::File::open(mnt.join("stream")).expect("the file survives remount");
    let mut buf = vec![0u8; BLOCK];
    for &n in &durable {
        f.read_exact_at(&mut buf, n * BLOCK as u64)
            .unwrap_or_else(|e| panic!("fsynced block {n} is missing: {e}"));
        assert!(
            buf == pattern(n * BLOCK as u64, BLOCK),
            "fsynced block {n} differs after remount"
        );
    }
    eprintln!(
        "{kind}: {} fsynced blocks intact after shutdown and remount",
        durable.len()
    );
}

on_every_engine!(after_a_shutdown_writes_fail_with_eio_and_fsynced_writes_survive_remount);
