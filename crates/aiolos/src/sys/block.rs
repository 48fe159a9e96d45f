//! Block device queries: the `BLKSSZGET` and `BLKPBSZGET` ioctls.

use super::{cvt, Errno};
use std::os::fd::RawFd;

/// `ioctl(fd, BLKSSZGET)`: the logical block (sector) size of a block device, the
/// smallest unit it can address and so the O_DIRECT alignment of I/O on it.
///
/// # Errors
/// `ENOTTY` when `fd` is not a block device, `EBADF`.
#[doc(alias = "BLKSSZGET")]
pub fn logical_block_size(fd: RawFd) -> Result<u32, Errno> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which points at a live int.
    cvt(unsafe { libc::ioctl(fd, libc::BLKSSZGET, &mut v as *mut libc::c_int) } as _)?;
    Ok(v as u32)
}

/// `ioctl(fd, BLKPBSZGET)`: the physical block size of a block device, the unit below
/// which writes need read-modify-write inside the device.
///
/// # Errors
/// `ENOTTY` when `fd` is not a block device, `EBADF`.
#[doc(alias = "BLKPBSZGET")]
pub fn physical_block_size(fd: RawFd) -> Result<u32, Errno> {
    let mut v: libc::c_uint = 0;
    // SAFETY: BLKPBSZGET writes one unsigned int through the pointer, which points at a
    // live unsigned int.
    cvt(unsafe { libc::ioctl(fd, libc::BLKPBSZGET, &mut v as *mut libc::c_uint) } as _)?;
    Ok(v)
}
