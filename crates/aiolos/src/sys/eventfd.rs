//! `eventfd(2)` and `poll(2)` on descriptors: the notification side of every engine.

use super::{cvt, cvt_retry, Errno};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Creates a non-blocking, close-on-exec eventfd with counter 0.
///
/// # Errors
/// `EMFILE`/`ENFILE` when out of descriptors.
///
/// # References
/// `eventfd(2)`.
pub fn eventfd() -> Result<OwnedFd, Errno> {
    // SAFETY: eventfd takes plain integers and returns a new descriptor or -1.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) } as _)?;
    // SAFETY: fd was just returned by eventfd, is open, and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Adds `n` to an eventfd's counter (what the kernel does for `IOCB_FLAG_RESFD`).
///
/// Works on any descriptor number; a closed or non-eventfd descriptor gives an error.
///
/// # Errors
/// `EBADF`, `EINVAL`, or `EAGAIN` if the counter would overflow.
///
/// # References
/// `eventfd(2)`, `write(2)`.
#[doc(alias = "eventfd_write")]
pub fn eventfd_signal(fd: RawFd, n: u64) -> Result<(), Errno> {
    let buf = n.to_ne_bytes();
    // SAFETY: buf is 8 readable bytes; write(2) validates fd itself.
    cvt_retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), 8) } as _)?;
    Ok(())
}

/// Reads and resets an eventfd's counter; `Ok(0)` if it was zero (non-blocking fd).
///
/// # Errors
/// `EBADF` or `EINVAL` for a descriptor that is not a readable eventfd.
///
/// # References
/// `eventfd(2)`, `read(2)`.
#[doc(alias = "eventfd_read")]
pub fn eventfd_drain(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    let mut buf = [0u8; 8];
    // SAFETY: buf is 8 writable bytes; fd is a live borrowed descriptor.
    match cvt_retry(|| unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) } as _) {
        Ok(_) => Ok(u64::from_ne_bytes(buf)),
        Err(Errno::AGAIN) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Poll readiness bits, as in `poll(2)`.
pub mod events {
    /// Readable.
    pub const POLLIN: i16 = libc::POLLIN;
    /// Writable.
    pub const POLLOUT: i16 = libc::POLLOUT;
    /// Urgent data.
    pub const POLLPRI: i16 = libc::POLLPRI;
    /// Error condition.
    pub const POLLERR: i16 = libc::POLLERR;
    /// Hang-up.
    pub const POLLHUP: i16 = libc::POLLHUP;
    /// Invalid descriptor.
    pub const POLLNVAL: i16 = libc::POLLNVAL;
}

/// Waits until one of `fds` (descriptor, wanted events) is ready or `timeout` passes;
/// returns the ready events per descriptor (0 for not ready). `EINTR` is reported as no
/// readiness so callers re-check their state and loop.
///
/// # Errors
/// `EINVAL` or `ENOMEM` from `poll(2)`.
///
/// # References
/// `poll(2)`.
pub fn poll(fds: &[(RawFd, i16)], timeout: Option<Duration>) -> Result<Vec<i16>, Errno> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |d| {
        // Round up so that a short timeout does not become a busy zero-timeout loop.
        let ms = d.as_nanos().div_ceil(1_000_000);
        ms.min(i32::MAX as u128) as i32
    });
    // SAFETY: pfds is a live, writable array of pfds.len() pollfd structs.
    match cvt(unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) } as _) {
        Ok(_) | Err(Errno::INTR) => Ok(pfds.iter().map(|p| p.revents).collect()),
        Err(e) => Err(e),
    }
}
