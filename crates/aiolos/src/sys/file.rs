//! File queries for alignment discovery and the tools: `posix_fadvise`, `fstat`,
//! `F_GETFL`, `SEEK_DATA`/`SEEK_HOLE`.

use super::{cvt, Errno};
use std::os::fd::RawFd;

/// `posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)`: drops the file's clean cached pages,
/// so the next buffered read goes to the device (a cold-cache test or benchmark).
///
/// # Errors
/// `EBADF`, `ESPIPE`.
///
/// # References
/// `posix_fadvise(2)` (`POSIX_FADV_DONTNEED`).
#[doc(alias = "posix_fadvise")]
pub fn drop_page_cache(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: posix_fadvise takes plain integers and returns an errno value directly.
    let r = unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        return Err(Errno(r));
    }
    Ok(())
}

/// What aiolos needs from `fstat(2)`.
#[derive(Clone, Copy, Debug)]
pub struct FileStat {
    /// File type and mode bits (`st_mode`).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Device of the file system holding the file.
    pub dev: u64,
    /// Device number, for a block or character device.
    pub rdev: u64,
    /// Preferred I/O block size.
    pub blksize: u64,
}

impl FileStat {
    /// Whether this is a block device.
    pub fn is_block_device(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFBLK
    }
    /// Whether this is a regular file.
    pub fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

/// `fstat(2)`.
///
/// # Errors
/// `EBADF`.
///
/// # References
/// `fstat(2)`.
pub fn fstat(fd: RawFd) -> Result<FileStat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: st is writable storage for one struct stat.
    cvt(unsafe { libc::fstat(fd, st.as_mut_ptr()) } as _)?;
    // SAFETY: fstat succeeded, so it initialised st.
    let st = unsafe { st.assume_init() };
    Ok(FileStat {
        mode: st.st_mode,
        size: st.st_size as u64,
        dev: st.st_dev,
        rdev: st.st_rdev,
        blksize: st.st_blksize as u64,
    })
}

/// The `F_GETFL` status flags of a descriptor (to learn whether it was opened `O_DIRECT`).
///
/// # Errors
/// `EBADF`.
///
/// # References
/// `fcntl(2)` (`F_GETFL`).
#[doc(alias = "fcntl")]
#[doc(alias = "F_GETFL")]
pub fn status_flags(fd: RawFd) -> Result<i32, Errno> {
    // SAFETY: fcntl(F_GETFL) takes no pointer argument.
    let r = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) } as _)?;
    Ok(r as i32)
}

fn lseek_whence(fd: RawFd, offset: u64, whence: libc::c_int) -> Result<Option<u64>, Errno> {
    let off = libc::off_t::try_from(offset).map_err(|_| Errno::INVAL)?;
    // SAFETY: lseek takes plain integers and validates the descriptor.
    match cvt(unsafe { libc::lseek(fd, off, whence) } as _) {
        Ok(pos) => Ok(Some(pos as u64)),
        Err(Errno(libc::ENXIO)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `lseek(fd, offset, SEEK_DATA)`: the start of the first data region at or after
/// `offset`, or `None` when only a hole (or the end of the file) follows. Moves the
/// file position.
///
/// # Errors
/// `EBADF`, `ESPIPE`, and `EINVAL` on file systems without `SEEK_DATA` (the caller then
/// treats the whole file as data).
#[doc(alias = "SEEK_DATA")]
pub fn seek_data(fd: RawFd, offset: u64) -> Result<Option<u64>, Errno> {
    lseek_whence(fd, offset, libc::SEEK_DATA)
}

/// `lseek(fd, offset, SEEK_HOLE)`: the start of the first hole at or after `offset` (the
/// end of the file counts as one), or `None` when `offset` is at or past the end. Moves
/// the file position.
///
/// # Errors
/// As [`seek_data`].
#[doc(alias = "SEEK_HOLE")]
pub fn seek_hole(fd: RawFd, offset: u64) -> Result<Option<u64>, Errno> {
    lseek_whence(fd, offset, libc::SEEK_HOLE)
}
