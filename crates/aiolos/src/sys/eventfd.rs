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

/// Like [`poll`], but sleeps with the signal mask `mask` in effect, installed and removed
/// atomically with the sleep (`ppoll(2)`), and reports an interruption as `EINTR`.
///
/// `mask` is the kernel's signal set (`_NSIG / 8` = 8 bytes on Linux: bit `n - 1` blocks
/// signal `n`). A signal that `mask` unblocks and that is pending on entry, or arrives
/// while waiting, ends the call with `EINTR` after its handler has run; the thread's own
/// mask is back in place when this returns. With `Some(Duration::ZERO)` the call does not
/// sleep but still delivers such a pending signal.
///
/// # Errors
/// `EINTR` as above; `EINVAL` or `ENOMEM` from `ppoll(2)`.
///
/// # References
/// `ppoll(2)`.
#[doc(alias = "ppoll")]
pub fn poll_with_sigmask(
    fds: &[(RawFd, i16)],
    timeout: Option<Duration>,
    mask: u64,
) -> Result<Vec<i16>, Errno> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // The raw system call, so the kernel gets exactly this 8-byte set (the C library's
    // wrapper may adjust the mask it is given).
    // SAFETY: pfds is a live, writable array of pfds.len() pollfd structs; ts_ptr is NULL
    // or points to a live timespec; mask is 8 readable bytes, the size passed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            ts_ptr,
            &mask as *const u64,
            std::mem::size_of::<u64>(),
        )
    })?;
    Ok(pfds.iter().map(|p| p.revents).collect())
}
