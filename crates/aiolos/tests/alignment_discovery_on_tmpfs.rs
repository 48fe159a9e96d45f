//! On tmpfs (no block device), discovery says so, and its O_DIRECT verdict matches what
//! the kernel actually does.
use aiolos::align::FsType;
use aiolos::align::{self, Alignment, AlignmentSource};
use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

fn tmpfs_dir() -> Option<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("aiolos-tmpfs-")
        .tempdir_in("/dev/shm")
        .ok()?;
    let f = tempfile::tempfile_in(dir.path()).ok()?;
    let report = Alignment::discover(&f).ok()?;
    (report.fs_type == Some(FsType::TMPFS)).then_some(dir)
}

#[test]
fn discovery_on_tmpfs_finds_no_block_device_and_matches_the_kernel() {
    let Some(dir) = tmpfs_dir() else {
        eprintln!("SKIP: /dev/shm is not a writable tmpfs");
        return;
    };
    let path = dir.path().join("f");
    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let report = Alignment::discover(&file).unwrap();
    eprintln!("discovered: {report:?}");
    assert_eq!(report.fs_type, Some(FsType::TMPFS));
    assert_eq!(report.fs_type.and_then(|t| t.name()), Some("tmpfs"));
    assert_eq!(report.block_device, None, "tmpfs has no block device");
    if report.source != AlignmentSource::Statx {
        assert_eq!(report.alignment, Alignment::floor());
        assert_eq!(report.source, AlignmentSource::Floor);
    }

    // What the kernel does with O_DIRECT here decides; discovery must agree.
    let direct = OpenOptions::new()
        .read(true)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(&path);
    let supported = align::direct_io_supported(&path).unwrap();
    assert_eq!(align::direct_io_supported(dir.path()).unwrap(), supported);
    match direct {
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc_einval()), "{e}");
            assert!(!supported, "open(O_DIRECT) fails, so not supported");
        }
        Ok(f) => {
            assert!(supported, "open(O_DIRECT) works, so supported");
            let a = report.alignment;
            let mut buf = aiolos::AlignedBuf::zeroed(a.offset(), a.mem());
            let n = f.read_at(&mut buf, 0).unwrap();
            assert_eq!(n, a.offset().min(8192));
            assert!(buf[..n].iter().all(|&b| b == 7));
        }
    }
}

fn libc_einval() -> i32 {
    aiolos::sys::Errno::INVAL.raw()
}
