//! Positional file I/O for the thread-pool engine and the tools: `preadv2`, `pwritev2`,
//! `fsync`, `fdatasync`, `posix_fadvise`, `fstat`, and the per-thread I/O priority.

use super::{cvt, cvt_retry, Errno};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A scatter/gather element with the kernel's `struct iovec` layout. Addresses are kept
/// as integers so that tables of them can move between threads; whoever builds one vouches
/// for the memory it names when it passes it to the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoVec {
    /// Start address.
    pub base: usize,
    /// Length in bytes.
    pub len: usize,
}

const _: () = {
    assert!(std::mem::size_of::<IoVec>() == std::mem::size_of::<libc::iovec>());
    assert!(std::mem::offset_of!(IoVec, len) == std::mem::offset_of!(libc::iovec, iov_len));
};

/// `preadv2(2)` at `offset` with `RWF_*` flags. Returns bytes read (short at end of file).
///
/// # Safety
/// Every `iovec` must describe writable memory that stays valid for the call.
///
/// # Errors
/// The kernel's errno (`EBADF`, `EINVAL`, `EIO`, `EAGAIN` with `RWF_NOWAIT`, ...).
///
/// # References
/// `preadv2(2)`.
pub unsafe fn preadv2(fd: RawFd, iov: &[IoVec], offset: u64, flags: i32) -> Result<usize, Errno> {
    // SAFETY: the caller guarantees the iovecs; iov is a live array of iov.len() entries.
    let n = cvt_retry(|| unsafe {
        libc::preadv2(
            fd,
            iov.as_ptr().cast(),
            iov.len() as i32,
            offset as i64,
            flags,
        ) as _
    })?;
    Ok(n as usize)
}

/// `pwritev2(2)` at `offset` with `RWF_*` flags. Returns bytes written.
///
/// # Safety
/// Every `iovec` must describe readable memory that stays valid for the call.
///
/// # Errors
/// The kernel's errno (`EBADF`, `EINVAL`, `ENOSPC`, `EIO`, `EFBIG`, ...).
///
/// # References
/// `pwritev2(2)`.
pub unsafe fn pwritev2(fd: RawFd, iov: &[IoVec], offset: u64, flags: i32) -> Result<usize, Errno> {
    // SAFETY: the caller guarantees the iovecs; iov is a live array of iov.len() entries.
    let n = cvt_retry(|| unsafe {
        libc::pwritev2(
            fd,
            iov.as_ptr().cast(),
            iov.len() as i32,
            offset as i64,
            flags,
        ) as _
    })?;
    Ok(n as usize)
}

/// `fsync(2)`.
///
/// # Errors
/// `EBADF`, `EIO`, `ENOSPC`, ...
///
/// # References
/// `fsync(2)`.
pub fn fsync(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fsync takes a descriptor number and validates it.
    cvt_retry(|| unsafe { libc::fsync(fd) } as _)?;
    Ok(())
}

/// `fdatasync(2)`.
///
/// # Errors
/// `EBADF`, `EIO`, `ENOSPC`, ...
///
/// # References
/// `fdatasync(2)`.
pub fn fdatasync(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fdatasync takes a descriptor number and validates it.
    cvt_retry(|| unsafe { libc::fdatasync(fd) } as _)?;
    Ok(())
}

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
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
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

/// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the same open file, which keeps the
/// file open even when `fd` is closed and its number reused.
///
/// # Errors
/// `EBADF`, `EMFILE` (out of descriptors).
pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes an integer (the lowest number to use).
    let r = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) } as _)?;
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, 0)`: the calling thread's I/O priority, in the
/// `ioprio_set(2)` encoding (class in bits 13..16, level below).
///
/// # Errors
/// `EPERM`/`ESRCH` in unusual sandboxes; `ENOSYS` where the call is missing.
///
/// # References
/// `ioprio_get(2)`.
#[doc(alias = "ioprio_get")]
pub fn thread_ioprio() -> Result<u16, Errno> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // Miri cannot run ioprio_get; answer as a kernel without the call does, so the thread
    // pool (which then leaves its workers' priority alone) runs under Miri.
    if cfg!(miri) {
        return Err(Errno::NOSYS);
    }
    // SAFETY: ioprio_get takes two integers; who = 0 names the calling thread.
    let r = cvt(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) })?;
    Ok(r as u16)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)`: sets the calling thread's I/O priority,
/// which applies to the I/O the thread issues from then on.
///
/// # Errors
/// `EINVAL` for an unknown class or level, `EPERM` for the real-time class without
/// `CAP_SYS_ADMIN`.
///
/// # References
/// `ioprio_set(2)`.
#[doc(alias = "ioprio_set")]
pub fn set_thread_ioprio(prio: u16) -> Result<(), Errno> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: ioprio_set takes three integers; who = 0 names the calling thread.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            libc::c_long::from(prio),
        )
    })?;
    Ok(())
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
