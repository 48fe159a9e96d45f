//! Descriptors for the emulated engines: numbers as C hands them over in an iocb
//! (`aio_fildes`, `aio_resfd`), which may be closed or -1, and the eventfds that signal
//! completions (a request's `IOCB_FLAG_RESFD`, the ring's notification descriptor, the
//! wake-ups of `io_pgetevents` callers). The system calls are `rustix`'s.
//!
//! # Safety
//!
//! A number from C is borrowed only for the one system call made on it here. `io_submit`'s
//! contract has the caller keep its descriptors open while requests use them; a number
//! that is not open reaches the kernel as it is and gets the kernel's answer (`EBADF`),
//! as it would on kernel AIO. -1, which no `BorrowedFd` may hold, is answered here.
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use rustix::event::{EventfdFlags, PollFd, PollFlags};
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

/// `fd` borrowed for one system call, or `EBADF` for -1.
pub(crate) fn borrow<'a>(fd: RawFd) -> Result<BorrowedFd<'a>, Errno> {
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

/// A non-blocking, close-on-exec eventfd with counter 0.
///
/// # Errors
/// `EMFILE`/`ENFILE` when out of descriptors.
pub fn eventfd() -> Result<OwnedFd, Errno> {
    Ok(rustix::event::eventfd(
        0,
        EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC,
    )?)
}

/// Adds 1 to the counter of the eventfd numbered `fd` (what the kernel does for a
/// request's `IOCB_FLAG_RESFD`), retrying when a signal interrupts the write.
///
/// # Errors
/// `EBADF`, `EINVAL` for a number that is not an open eventfd (callers ignore it, as the
/// kernel does), `EAGAIN` if the counter would overflow.
#[doc(alias = "eventfd_write")]
pub fn signal(fd: RawFd) -> Result<(), Errno> {
    let fd = borrow(fd)?;
    loop {
        return match rustix::io::write(fd, &1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// Reads and resets an eventfd's counter; `Ok(0)` if it was zero.
///
/// # Errors
/// `EBADF` or `EINVAL` for a descriptor that is not a readable eventfd.
#[doc(alias = "eventfd_read")]
pub fn drain(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    let mut buf = [0u8; 8];
    loop {
        return match rustix::io::read(fd, &mut buf) {
            Ok(_) => Ok(u64::from_ne_bytes(buf)),
            Err(rustix::io::Errno::AGAIN) => Ok(0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// Sleeps until `fd` is readable (`poll(2)` without a timeout); a signal ends the sleep
/// early, so callers re-check their state.
///
/// # Errors
/// `EINVAL` or `ENOMEM` from `poll(2)`.
pub fn wait_readable(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    match rustix::event::poll(&mut fds, None) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
