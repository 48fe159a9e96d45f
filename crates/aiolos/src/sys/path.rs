//! Path and metadata system calls for the thread-pool engine and `aiolos::fs`: `openat`,
//! `statx` into a caller's buffer, `unlinkat`, `renameat2`, `mkdirat`, `linkat`,
//! `symlinkat`, `fallocate`, `ftruncate`, `fchmod`, `copy_file_range`, and the parsing of
//! a `struct statx` that a request (on any engine) filled in.
//!
//! The `*at` calls take raw C-string pointers because the thread pool runs them with the
//! addresses a ring request carries; the request owns the strings until it completes.

use super::{cvt, cvt_retry, Errno};
use std::ffi::c_char;
use std::os::fd::RawFd;

/// `AT_FDCWD`: paths relative to the current directory.
pub const AT_FDCWD: RawFd = libc::AT_FDCWD;
/// `AT_REMOVEDIR` for [`unlinkat`]: remove a directory.
pub const AT_REMOVEDIR: i32 = libc::AT_REMOVEDIR;
/// `AT_SYMLINK_NOFOLLOW` for `statx`: describe a symbolic link itself.
pub const AT_SYMLINK_NOFOLLOW: i32 = libc::AT_SYMLINK_NOFOLLOW;
/// `AT_EMPTY_PATH` for `statx`: describe the descriptor itself.
pub const AT_EMPTY_PATH: i32 = libc::AT_EMPTY_PATH;
/// `AT_STATX_SYNC_AS_STAT`: `statx` behaves as `stat`.
pub const AT_STATX_SYNC_AS_STAT: i32 = libc::AT_STATX_SYNC_AS_STAT;
/// `STATX_BASIC_STATS | STATX_BTIME`: what `std::fs::metadata` asks for.
pub const STATX_ALL: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
/// `STATX_BTIME`: the birth time was filled in.
pub const STATX_BTIME: u32 = libc::STATX_BTIME;
/// The size of `struct statx`: a statx request's buffer holds at least this many bytes.
pub const STATX_SIZE: usize = std::mem::size_of::<libc::statx>();
/// `O_*` flags for `openat`.
pub mod oflags {
    /// Read only.
    pub const RDONLY: i32 = libc::O_RDONLY;
    /// Write only.
    pub const WRONLY: i32 = libc::O_WRONLY;
    /// Read and write.
    pub const RDWR: i32 = libc::O_RDWR;
    /// Create if missing.
    pub const CREAT: i32 = libc::O_CREAT;
    /// Fail if it exists (with `CREAT`).
    pub const EXCL: i32 = libc::O_EXCL;
    /// Truncate to 0 bytes.
    pub const TRUNC: i32 = libc::O_TRUNC;
    /// Append.
    pub const APPEND: i32 = libc::O_APPEND;
    /// Close on exec.
    pub const CLOEXEC: i32 = libc::O_CLOEXEC;
    /// Must be a directory.
    pub const DIRECTORY: i32 = libc::O_DIRECTORY;
    /// The access mode bits.
    pub const ACCMODE: i32 = libc::O_ACCMODE;
}

/// Turns an error number into `Err`, for the calls that return `0` or `-1`.
fn unit(r: libc::c_long) -> Result<(), Errno> {
    cvt(r).map(|_| ())
}

/// `openat(2)`; returns the new descriptor, which the caller owns.
///
/// # Safety
/// `path` must point to a NUL-terminated string that stays valid for the call.
///
/// # Errors
/// The kernel's errno (`ENOENT`, `EACCES`, `EEXIST`, `EISDIR`, `EINVAL`, ...).
pub unsafe fn openat(
    dirfd: RawFd,
    path: *const c_char,
    flags: i32,
    mode: u32,
) -> Result<RawFd, Errno> {
    // SAFETY: the caller vouches for path; the mode is passed as the variadic argument.
    let fd = cvt_retry(|| unsafe { libc::openat(dirfd, path, flags, mode as libc::c_uint) } as _)?;
    Ok(fd as RawFd)
}

/// `openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)` on the calling thread.
///
/// # Errors
/// The kernel's errno.
pub fn open(path: &std::ffi::CStr, flags: i32, mode: u32) -> Result<std::os::fd::OwnedFd, Errno> {
    // SAFETY: path is a live NUL-terminated string.
    let fd = unsafe { openat(AT_FDCWD, path.as_ptr(), flags | libc::O_CLOEXEC, mode) }?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// `statx(2)` into `buf`, which must hold [`STATX_SIZE`] bytes.
///
/// # Safety
/// `path` must be a NUL-terminated string and `buf` writable for [`STATX_SIZE`] bytes,
/// both valid for the call.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn statx(
    dirfd: RawFd,
    path: *const c_char,
    flags: i32,
    mask: u32,
    buf: *mut u8,
) -> Result<(), Errno> {
    // SAFETY: the caller's contract; the kernel writes at most one struct statx.
    unit(unsafe { libc::statx(dirfd, path, flags, mask, buf.cast()) } as _)
}

/// `unlinkat(2)`.
///
/// # Safety
/// `path` must be a NUL-terminated string valid for the call.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn unlinkat(dirfd: RawFd, path: *const c_char, flags: i32) -> Result<(), Errno> {
    // SAFETY: the caller's contract.
    unit(unsafe { libc::unlinkat(dirfd, path, flags) } as _)
}

/// `renameat2(2)` (`renameat` when `flags` is 0).
///
/// # Safety
/// Both paths must be NUL-terminated strings valid for the call.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn renameat2(
    olddirfd: RawFd,
    old: *const c_char,
    newdirfd: RawFd,
    new: *const c_char,
    flags: u32,
) -> Result<(), Errno> {
    if flags == 0 {
        // SAFETY: the caller's contract.
        return unit(unsafe { libc::renameat(olddirfd, old, newdirfd, new) } as _);
    }
    // SAFETY: the caller's contract.
    unit(unsafe { libc::renameat2(olddirfd, old, newdirfd, new, flags) } as _)
}

/// `mkdirat(2)`.
///
/// # Safety
/// `path` must be a NUL-terminated string valid for the call.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn mkdirat(dirfd: RawFd, path: *const c_char, mode: u32) -> Result<(), Errno> {
    // SAFETY: the caller's contract.
    unit(unsafe { libc::mkdirat(dirfd, path, mode) } as _)
}

/// `linkat(2)`.
///
/// # Safety
/// Both paths must be NUL-terminated strings valid for the call.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn linkat(
    olddirfd: RawFd,
    old: *const c_char,
    newdirfd: RawFd,
    new: *const c_char,
    flags: i32,
) -> Result<(), Errno> {
    // SAFETY: the caller's contract.
    unit(unsafe { libc::linkat(olddirfd, old, newdirfd, new, flags) } as _)
}

/// `symlinkat(2)`.
///
/// # Safety
/// Both strings must be NUL-terminated and valid for the call.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn symlinkat(
    target: *const c_char,
    newdirfd: RawFd,
    link: *const c_char,
) -> Result<(), Errno> {
    // SAFETY: the caller's contract.
    unit(unsafe { libc::symlinkat(target, newdirfd, link) } as _)
}

/// `fallocate(2)`.
///
/// # Errors
/// The kernel's errno (`EOPNOTSUPP` where the file system cannot).
pub fn fallocate(fd: RawFd, mode: i32, offset: u64, len: u64) -> Result<(), Errno> {
    // SAFETY: plain integers.
    cvt_retry(|| unsafe { libc::fallocate(fd, mode, offset as i64, len as i64) } as _).map(|_| ())
}

/// `ftruncate(2)`.
///
/// # Errors
/// The kernel's errno.
pub fn ftruncate(fd: RawFd, len: u64) -> Result<(), Errno> {
    // SAFETY: plain integers.
    cvt_retry(|| unsafe { libc::ftruncate(fd, len as i64) } as _).map(|_| ())
}

/// `fchmod(2)`.
///
/// # Errors
/// The kernel's errno.
pub fn fchmod(fd: RawFd, mode: u32) -> Result<(), Errno> {
    // SAFETY: plain integers.
    unit(unsafe { libc::fchmod(fd, mode) } as _)
}

/// `copy_file_range(2)` from `fd_in` at `off_in` to `fd_out` at `off_out`; returns bytes
/// copied (0 at the end of the input).
///
/// # Errors
/// `EXDEV`, `EINVAL`, `EOPNOTSUPP`, `ENOSYS` where the file systems cannot: the caller
/// then copies with reads and writes.
pub fn copy_file_range(
    fd_in: RawFd,
    off_in: u64,
    fd_out: RawFd,
    off_out: u64,
    len: usize,
) -> Result<usize, Errno> {
    let mut i = off_in as i64;
    let mut o = off_out as i64;
    // SAFETY: the offsets are local variables the kernel updates.
    let n =
        cvt_retry(|| unsafe { libc::copy_file_range(fd_in, &mut i, fd_out, &mut o, len, 0) } as _)?;
    Ok(n as usize)
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

/// Reads a `struct statx` that the kernel wrote into `buf` (any alignment).
///
/// Returns `None` if `buf` is shorter than [`STATX_SIZE`].
pub fn parse_statx(buf: &[u8]) -> Option<StatxFull> {
    if buf.len() < STATX_SIZE {
        return None;
    }
    // SAFETY: buf holds STATX_SIZE initialised bytes; statx is plain integers, for which
    // any bit pattern is valid; read_unaligned copes with any address.
    let s: libc::statx = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
    let t = |t: libc::statx_timestamp| StatxTime {
        sec: t.tv_sec,
        nsec: t.tv_nsec,
    };
    Some(StatxFull {
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
        rdev: libc::makedev(s.stx_rdev_major, s.stx_rdev_minor),
        dev: libc::makedev(s.stx_dev_major, s.stx_dev_minor),
    })
}
