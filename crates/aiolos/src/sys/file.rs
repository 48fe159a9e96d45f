//! File queries for alignment discovery: `fstat`, `F_GETFL`.

use super::{cvt, Errno};
use std::os::fd::RawFd;

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
