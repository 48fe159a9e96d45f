//! Descriptors as C hands them over: plain numbers in an iocb (`aio_fildes`,
//! `aio_resfd`), which may be closed, or -1.
//!
//! # Safety
//!
//! A number from C is borrowed only for the one system call made on it here. `io_submit`'s
//! contract has the caller keep its descriptors open while requests use them; a number
//! that is not open reaches the kernel as it is and gets the kernel's answer (`EBADF`),
//! as it would on kernel AIO. -1, which no `BorrowedFd` may hold, is answered here.
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use std::os::fd::{BorrowedFd, RawFd};

/// `fd` borrowed for one system call, or `EBADF` for -1.
fn borrow<'a>(fd: RawFd) -> Result<BorrowedFd<'a>, Errno> {
    if fd == -1 {
        return Err(Errno::BADF);
    }
    // SAFETY: not -1; the number is used for one system call only, with the kernel
    // validating it (see the module's contract).
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Whether `fd` is an open descriptor (`fcntl(F_GETFL)`): the check the kernel's `fget`
/// makes in `io_submit`.
///
/// # Errors
/// `EBADF`.
pub fn check_open(fd: RawFd) -> Result<(), Errno> {
    rustix::fs::fcntl_getfl(borrow(fd)?)?;
    Ok(())
}
