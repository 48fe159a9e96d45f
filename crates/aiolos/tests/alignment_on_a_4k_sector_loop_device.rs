//! On a loop device with 4096-byte logical sectors, discovery finds 4096 (on the raw
//! device and through ext4 on it), the kernel really refuses misaligned O_DIRECT I/O with
//! EINVAL, and aiolos explains that refusal naming 4096.
mod common;
use aiolos::align::FsType;
use aiolos::align::{Alignment, AlignmentSource, Misaligned};
use aiolos::{AlignedBuf, EngineKind, Op, Ring};
use common::loopdev::LoopDev;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

const SECTOR: usize = 4096;

fn open_direct(path: &Path, create: bool) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(path)
        .unwrap_or_else(|e| panic!("open {} O_DIRECT: {e}", path.display()))
}

/// Misaligned O_DIRECT preads fail with EINVAL; aligned ones work.
fn kernel_refuses_misaligned_reads(file: &File) {
    let mut buf = AlignedBuf::zeroed(2 * SECTOR, SECTOR);
    assert_eq!(file.read_at(&mut buf, 0).unwrap(), 2 * SECTOR);
    for (len, offset) in [(SECTOR, 512), (512, 0), (SECTOR + 512, SECTOR as u64)] {
        let e = file
            .read_at(&mut buf[..len], offset)
            .expect_err("a misaligned O_DIRECT read must fail");
        assert_eq!(
            e.raw_os_error(),
            Some(aiolos::sys::Errno::INVAL.raw()),
            "len {len} offset {offset}: {e}"
        );
    }
}

/// The same misaligned requests through a ring come back explained.
fn ring_explains_misaligned_reads(file: File) {
    let ring: Ring<AlignedBuf> = match Ring::builder()
        .entries(8)
        .engine(EngineKind::Native)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIP: no ring: {e}");
            return;
        }
    };
    let fd = aiolos::Fd::from(file);
    // (capacity, offset, what is wrong, the offending value as printed)
    let cases = [
        (SECTOR, 512u64, Misaligned::Offset, "512"),
        (512, 0, Misaligned::Length, "512"),
    ];
    for (i, (capacity, offset, _, _)) in cases.iter().enumerate() {
        let buf = AlignedBuf::with_capacity(*capacity, SECTOR);
        ring.push(Op::read(&fd, buf, *offset).user_data(i as u64))
            .unwrap();
    }
    ring.submit().unwrap();
    let done = ring.wait(cases.len(), cases.len(), None).unwrap();
    assert_eq!(done.len(), cases.len());
    for c in done {
        let (_, _, what, value) = &cases[c.user_data as usize];
        let e = c.result.expect_err("misaligned read fails");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let msg = e.to_string();
        eprintln!("explained: {msg}");
        assert!(msg.contains("4096"), "names the required 4096: {msg}");
        assert!(msg.contains(value), "names the offending value: {msg}");
        let inner = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<aiolos::align::AlignmentError>())
            .expect("an AlignmentError inside");
        assert_eq!((inner.what(), inner.required()), (*what, SECTOR));
    }
}

#[test]
fn a_4k_sector_loop_device_needs_4096_and_misalignment_is_explained() {
    let Some(lo) = LoopDev::create(64 << 20, SECTOR as u32) else {
        return;
    };
    let dev = open_direct(lo.dev(), false);
    let report = Alignment::discover(&dev).unwrap();
    eprintln!("discovered: {report:?}");
    assert_eq!(report.alignment.offset(), SECTOR);
    assert!(report.alignment.mem() <= SECTOR);
    let bdev = report
        .block_device
        .expect("a loop device is a block device");
    assert_eq!(bdev.logical_block_size as usize, SECTOR);
    assert!(bdev.physical_block_size.unwrap_or(SECTOR as u32) as usize >= SECTOR);
    kernel_refuses_misaligned_reads(&dev);
    ring_explains_misaligned_reads(dev);
}

#[test]
fn ext4_on_a_4k_sector_loop_device_needs_4096_and_misalignment_is_explained() {
    let Some(mut lo) = LoopDev::create(64 << 20, SECTOR as u32) else {
        return;
    };
    let Some(mnt) = lo.mount_ext4() else {
        return;
    };
    let path = mnt.join("data");
    std::fs::write(&path, vec![0x5au8; 4 * SECTOR]).unwrap();
    let file = open_direct(&path, false);
    let report = Alignment::discover(&file).unwrap();
    eprintln!("discovered: {report:?}");
    assert_eq!(report.fs_type, Some(FsType::EXT4));
    assert_eq!(report.alignment.offset(), SECTOR);
    assert!(matches!(
        report.source,
        AlignmentSource::Statx | AlignmentSource::BlockDevice
    ));
    let bdev = report.block_device.expect("ext4 sits on the loop device");
    assert_eq!(bdev.logical_block_size as usize, SECTOR);
    assert!(aiolos::align::direct_io_supported(&mnt).unwrap());
    kernel_refuses_misaligned_reads(&file);
    ring_explains_misaligned_reads(file);
}
