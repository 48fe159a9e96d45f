//! File metadata for O_DIRECT alignment discovery: `statx(2)` with `STATX_DIOALIGN`, and
//! `fstatfs(2)` for the file system type.

use super::{cvt, Errno};
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `STATX_DIOALIGN` (Linux 6.1): ask for the direct-I/O alignment fields.
pub const STATX_DIOALIGN: u32 = 0x2000;
/// `STATX_DIO_READ_ALIGN` (Linux 6.16): ask for a separate read offset alignment.
pub const STATX_DIO_READ_ALIGN: u32 = 0x0002_0000;

// The fields read below sit where the kernel's uapi header puts them; a libc crate with a
// different layout would fail here rather than return garbage.
const _: () = assert!(std::mem::size_of::<libc::statx>() == 256);
const _: () = assert!(std::mem::offset_of!(libc::statx, stx_dev_major) == 0x88);
const _: () = assert!(std::mem::offset_of!(libc::statx, stx_dio_mem_align) == 0x98);
const _: () = assert!(std::mem::offset_of!(libc::statx, stx_dio_offset_align) == 0x9c);
const _: () = assert!(std::mem::offset_of!(libc::statx, stx_dio_read_offset_align) == 0xb4);

/// What aiolos needs from `statx(2)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Statx {
    /// The fields the kernel filled in (`STATX_*` bits).
    pub mask: u32,
    /// File type and mode bits.
    pub mode: u16,
    /// Size in bytes.
    pub size: u64,
    /// Major number of the device holding the file system.
    pub dev_major: u32,
    /// Minor number of the device holding the file system.
    pub dev_minor: u32,
    /// Major number of the device, for a block or character device file.
    pub rdev_major: u32,
    /// Minor number of the device, for a block or character device file.
    pub rdev_minor: u32,
    /// Required memory alignment for O_DIRECT, 0 if O_DIRECT is unsupported (valid when
    /// `mask` has [`STATX_DIOALIGN`]).
    pub dio_mem_align: u32,
    /// Required file offset (and length) alignment for O_DIRECT, 0 if unsupported (valid
    /// when `mask` has [`STATX_DIOALIGN`]).
    pub dio_offset_align: u32,
    /// Offset alignment for O_DIRECT reads, when smaller than for writes (valid when
    /// `mask` has [`STATX_DIO_READ_ALIGN`]).
    pub dio_read_offset_align: u32,
}

impl Statx {
    /// Whether the kernel reported the direct-I/O alignment.
    pub fn has_dioalign(&self) -> bool {
        self.mask & STATX_DIOALIGN != 0
    }
}

fn from_raw(st: &libc::statx) -> Statx {
    Statx {
        mask: st.stx_mask,
        mode: st.stx_mode,
        size: st.stx_size,
        dev_major: st.stx_dev_major,
        dev_minor: st.stx_dev_minor,
        rdev_major: st.stx_rdev_major,
        rdev_minor: st.stx_rdev_minor,
        dio_mem_align: st.stx_dio_mem_align,
        dio_offset_align: st.stx_dio_offset_align,
        dio_read_offset_align: st.stx_dio_read_offset_align,
    }
}

fn statx_raw(dirfd: RawFd, path: &CString, flags: i32, mask: u32) -> Result<Statx, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: path is a NUL-terminated string and st is writable storage for one struct
    // statx; both outlive the call.
    cvt(unsafe { libc::statx(dirfd, path.as_ptr(), flags, mask, st.as_mut_ptr()) } as _)?;
    // SAFETY: zeroed is a valid bit pattern for this plain-integer struct, and statx
    // succeeded, so the fields it reports are filled in.
    let st = unsafe { st.assume_init() };
    Ok(from_raw(&st))
}

/// `statx(fd, "", AT_EMPTY_PATH, mask)`: metadata of an open file.
///
/// # Errors
/// `EBADF`, `ENOSYS` on kernels before 4.11.
#[doc(alias = "statx")]
pub fn fstatx(fd: RawFd, mask: u32) -> Result<Statx, Errno> {
    statx_raw(fd, &CString::default(), libc::AT_EMPTY_PATH, mask)
}

/// `statx(AT_FDCWD, path, 0, mask)`: metadata of a path (following symlinks).
///
/// # Errors
/// `ENOENT`, `EACCES`, `EINVAL` for a path with a NUL byte, ...
pub fn statx_path(path: &Path, mask: u32) -> Result<Statx, Errno> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::INVAL)?;
    statx_raw(libc::AT_FDCWD, &c, 0, mask)
}

/// A file system type, from the `f_type` magic number of `statfs(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FsType(pub u64);

/// Known `f_type` magic numbers and their names (from `statfs(2)` and `linux/magic.h`).
const FS_NAMES: &[(u64, &str)] = &[
    (0xef53, "ext4"), // ext2, ext3 and ext4 share one magic
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0x6573_5546, "fuse"),
    (0x6969, "nfs"),
    (0x794c_7630, "overlayfs"),
    (0x2fc1_2fc1, "zfs"),
    (0xf2f5_2010, "f2fs"),
    (0x4d44, "vfat"),
    (0x2011_bab0, "exfat"),
    (0x5346_544e, "ntfs"),
    (0x9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x1373, "devfs"),
    (0x0102_1997, "9p"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x8584_58f6, "ramfs"),
    (0x7371_7368, "squashfs"),
    (0xca45_1a4e, "bcachefs"),
    (0x0000_9660, "iso9660"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
];

impl FsType {
    /// ext2/ext3/ext4 (one magic number).
    pub const EXT4: FsType = FsType(0xef53);
    /// XFS.
    pub const XFS: FsType = FsType(0x5846_5342);
    /// Btrfs.
    pub const BTRFS: FsType = FsType(0x9123_683e);
    /// tmpfs (and shmem).
    pub const TMPFS: FsType = FsType(0x0102_1994);
    /// Any FUSE file system.
    pub const FUSE: FsType = FsType(0x6573_5546);
    /// NFS.
    pub const NFS: FsType = FsType(0x6969);
    /// overlayfs.
    pub const OVERLAYFS: FsType = FsType(0x794c_7630);

    /// A short name (`"ext4"`, `"xfs"`, `"tmpfs"`, ...), or `None` for an unknown magic.
    pub fn name(self) -> Option<&'static str> {
        FS_NAMES
            .iter()
            .find(|(magic, _)| *magic == self.0)
            .map(|(_, n)| *n)
    }
}

impl std::fmt::Display for FsType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unknown (0x{:x})", self.0),
        }
    }
}

/// What aiolos needs from `fstatfs(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatFs {
    /// The file system type.
    pub fs_type: FsType,
    /// The file system's block size (`f_bsize`).
    pub block_size: u64,
}

/// `fstatfs(2)`: the file system holding an open file.
///
/// # Errors
/// `EBADF`, `ENOSYS` on file systems without statfs.
#[doc(alias = "statfs")]
pub fn fstatfs(fd: RawFd) -> Result<StatFs, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: st is writable storage for one struct statfs.
    cvt(unsafe { libc::fstatfs(fd, st.as_mut_ptr()) } as _)?;
    // SAFETY: fstatfs succeeded, so it filled st (zeroed before, so no field is undefined).
    let st = unsafe { st.assume_init() };
    Ok(StatFs {
        // f_type is a signed word; the magic is its low 32 bits (some magics have the top
        // bit set and would sign-extend).
        fs_type: FsType(st.f_type as u64 & 0xffff_ffff),
        block_size: st.f_bsize as u64,
    })
}
