//! The path and metadata operations' constants (as the requests carry them: raw `AT_*`,
//! `O_*` and `STATX_*` bits, from `rustix`'s typed flags), and the reading of a
//! `struct statx` that a request wrote into its buffer: no crate reads one from bytes.

use rustix::fs::{AtFlags, StatxFlags};
use std::os::fd::RawFd;

/// `AT_FDCWD`: paths relative to the current directory.
pub const AT_FDCWD: RawFd = linux_raw_sys::general::AT_FDCWD;
/// `AT_REMOVEDIR` for `unlinkat`: remove a directory.
pub const AT_REMOVEDIR: i32 = AtFlags::REMOVEDIR.bits() as i32;
/// `AT_SYMLINK_NOFOLLOW` for `statx`: describe a symbolic link itself.
pub const AT_SYMLINK_NOFOLLOW: i32 = AtFlags::SYMLINK_NOFOLLOW.bits() as i32;
/// `AT_EMPTY_PATH` for `statx`: describe the descriptor itself.
pub const AT_EMPTY_PATH: i32 = AtFlags::EMPTY_PATH.bits() as i32;
/// `AT_STATX_SYNC_AS_STAT`: `statx` behaves as `stat`.
pub const AT_STATX_SYNC_AS_STAT: i32 = AtFlags::STATX_SYNC_AS_STAT.bits() as i32;
/// `STATX_BASIC_STATS | STATX_BTIME`: what `std::fs::metadata` asks for.
pub const STATX_ALL: u32 = StatxFlags::BASIC_STATS.bits() | StatxFlags::BTIME.bits();
/// `STATX_BTIME`: the birth time was filled in.
pub const STATX_BTIME: u32 = StatxFlags::BTIME.bits();
/// The size of `struct statx`: a statx request's buffer holds at least this many bytes.
pub const STATX_SIZE: usize = std::mem::size_of::<rustix::fs::Statx>();

const _: () = assert!(STATX_SIZE == 256);

/// `O_*` flags for `openat`.
pub mod oflags {
    use rustix::fs::OFlags;
    /// Read only.
    pub const RDONLY: i32 = OFlags::RDONLY.bits() as i32;
    /// Write only.
    pub const WRONLY: i32 = OFlags::WRONLY.bits() as i32;
    /// Read and write.
    pub const RDWR: i32 = OFlags::RDWR.bits() as i32;
    /// Create if missing.
    pub const CREAT: i32 = OFlags::CREATE.bits() as i32;
    /// Fail if it exists (with `CREAT`).
    pub const EXCL: i32 = OFlags::EXCL.bits() as i32;
    /// Truncate to 0 bytes.
    pub const TRUNC: i32 = OFlags::TRUNC.bits() as i32;
    /// Append.
    pub const APPEND: i32 = OFlags::APPEND.bits() as i32;
    /// Close on exec.
    pub const CLOEXEC: i32 = OFlags::CLOEXEC.bits() as i32;
    /// The access mode bits.
    pub const ACCMODE: i32 = OFlags::RWMODE.bits() as i32;
}

/// A timestamp of a `struct statx`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatxTime {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: u32,
}

/// Every field of a `struct statx` that `std::fs::Metadata` offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatxFull {
    /// The fields the kernel filled in (`STATX_*`).
    pub mask: u32,
    /// Preferred I/O block size.
    pub blksize: u32,
    /// Hard links.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Type and permission bits.
    pub mode: u32,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    /// Last access.
    pub atime: StatxTime,
    /// Creation (valid when `mask` has [`STATX_BTIME`]).
    pub btime: StatxTime,
    /// Last status change.
    pub ctime: StatxTime,
    /// Last modification.
    pub mtime: StatxTime,
    /// The device of a device file (`makedev` encoding).
    pub rdev: u64,
    /// The device holding the file (`makedev` encoding).
    pub dev: u64,
}

impl From<&rustix::fs::Statx> for StatxFull {
    fn from(s: &rustix::fs::Statx) -> StatxFull {
        let t = |t: rustix::fs::StatxTimestamp| StatxTime {
            sec: t.tv_sec,
            nsec: t.tv_nsec,
        };
        StatxFull {
            mask: s.stx_mask,
            blksize: s.stx_blksize,
            nlink: s.stx_nlink,
            uid: s.stx_uid,
            gid: s.stx_gid,
            mode: u32::from(s.stx_mode),
            ino: s.stx_ino,
            size: s.stx_size,
            blocks: s.stx_blocks,
            atime: t(s.stx_atime),
            btime: t(s.stx_btime),
            ctime: t(s.stx_ctime),
            mtime: t(s.stx_mtime),
            rdev: rustix::fs::makedev(s.stx_rdev_major, s.stx_rdev_minor),
            dev: rustix::fs::makedev(s.stx_dev_major, s.stx_dev_minor),
        }
    }
}

/// Reads a `struct statx` that the kernel (or the thread pool) wrote into `buf` (at any
/// alignment). `None` if `buf` is shorter than [`STATX_SIZE`].
pub fn parse_statx(buf: &[u8]) -> Option<StatxFull> {
    if buf.len() < STATX_SIZE {
        return None;
    }
    // SAFETY: buf holds STATX_SIZE initialised bytes; statx is plain integers, for which
    // any bit pattern is valid; read_unaligned copes with any address.
    let s: rustix::fs::Statx = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
    Some(StatxFull::from(&s))
}

/// Writes `st` into `buf` as the kernel lays a `struct statx` out (for the thread pool's
/// statx, which gets the structure from `rustix` rather than from the kernel directly).
///
/// # Safety
/// `buf` must be writable for [`STATX_SIZE`] bytes.
pub unsafe fn store_statx(st: &rustix::fs::Statx, buf: *mut u8) {
    // SAFETY: the caller's contract; Statx is a plain repr(C) struct of STATX_SIZE bytes.
    unsafe { std::ptr::write_unaligned(buf.cast::<rustix::fs::Statx>(), *st) }
}
