//! On the ext4 file system that holds the build, discovery reports what statx reports,
//! and that equals the logical block size of the device under it.
mod common;
use aiolos::align::FsType;
use aiolos::align::{self, Alignment, AlignmentSource};
use common::*;
use rustix::fs::{AtFlags, StatxFlags};

#[test]
fn discovery_on_ext4_returns_the_statx_dio_alignment() {
    let dir = scratch_dir();
    let path = dir.path().join("f");
    let file = open_rw(&path, false);
    let report = Alignment::discover(&file).unwrap();
    eprintln!("discovered: {report:?}");
    if report.fs_type != Some(FsType::EXT4) {
        eprintln!(
            "SKIP: the build directory is on {:?}, not ext4",
            report.fs_type
        );
        return;
    }
    let sx = rustix::fs::statx(&file, c"", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN).unwrap();
    if !StatxFlags::from_bits_retain(sx.stx_mask).contains(StatxFlags::DIOALIGN) {
        eprintln!("SKIP: this kernel does not report STATX_DIOALIGN (Linux < 6.1)");
        assert_eq!(report.source, AlignmentSource::BlockDevice);
        return;
    }
    assert_eq!(report.source, AlignmentSource::Statx);
    assert_eq!(report.direct_io, Some(true));
    assert_eq!(report.alignment.mem(), sx.stx_dio_mem_align as usize);
    assert_eq!(report.alignment.offset(), sx.stx_dio_offset_align as usize);
    let dev = report
        .block_device
        .expect("ext4 lives on a block device, found via sysfs");
    assert_eq!(
        report.alignment.offset(),
        dev.logical_block_size as usize,
        "ext4's O_DIRECT offset alignment is its device's logical block size"
    );
    assert_eq!(Alignment::of(&file).unwrap(), report.alignment);
    assert!(align::direct_io_supported(&path).unwrap());
    assert!(align::direct_io_supported(dir.path()).unwrap());
}

#[test]
fn an_aligned_direct_read_on_ext4_succeeds_and_a_misaligned_one_is_explained() {
    use std::os::unix::fs::FileExt;
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 1 << 16);
    let file = open_rw(&path, true);
    let a = Alignment::of(&file).unwrap();
    let mut buf = aiolos::AlignedBuf::zeroed(a.offset() * 2, a.mem());
    let n = file.read_at(&mut buf, a.offset() as u64).unwrap();
    assert_eq!(n, a.offset() * 2);
    assert_eq!(&buf[..], &pattern(a.offset() as u64, n)[..]);

    // One byte past an aligned offset: the kernel refuses, the ring explains.
    let ring: aiolos::Ring<aiolos::AlignedBuf> = match aiolos::Ring::builder()
        .entries(4)
        .engine(aiolos::EngineKind::Native)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIP: no ring: {e}");
            return;
        }
    };
    let buf = aiolos::AlignedBuf::with_capacity(a.offset(), a.mem());
    ring.push(aiolos::Op::read(file, buf, 1)).unwrap();
    let c = ring.wait(1, 1, None).unwrap().remove(0);
    let e = c.result.expect_err("a misaligned O_DIRECT read fails");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let msg = e.to_string();
    assert!(
        msg.contains(&a.offset().to_string()) && msg.contains("offset"),
        "the error names the required alignment: {msg}"
    );
}
