//! Eventfd counters, the library's one way of saying "something is ready": each engine's
//! notification descriptor (completions for its ring), a request's own eventfd, the
//! thread pool's per-worker wakers and the `fs` driver's wake descriptor.
//!
//! The system calls are `rustix`'s; this module adds only the protocol every user shares:
//! descriptors are non-blocking, a signal adds 1, a drain reads and resets the counter (0
//! when nothing was signalled), and an interrupted call is retried.
//!
//! # References
//! `eventfd(2)`, `poll(2)`.

use crate::sys::Errno;
use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

/// Creates a non-blocking, close-on-exec eventfd with counter 0.
///
/// # Errors
/// `EMFILE`/`ENFILE` when out of descriptors.
pub(crate) fn new() -> Result<OwnedFd, Errno> {
    Ok(rustix::event::eventfd(
        0,
        EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC,
    )?)
}

/// Adds 1 to an eventfd's counter (what the kernel does for `IOCB_FLAG_RESFD`).
///
/// # Errors
/// `EBADF` or `EINVAL` for a descriptor that is not a writable eventfd; `EAGAIN` if the
/// counter would overflow.
#[doc(alias = "eventfd_write")]
pub(crate) fn signal(fd: BorrowedFd<'_>) -> Result<(), Errno> {
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
pub(crate) fn drain(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
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

/// `timeout` as `poll` takes it: `None` waits without limit.
pub(crate) fn timespec(timeout: Duration) -> Timespec {
    Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    })
}

/// Sleeps until one of `fds` is readable or `timeout` passes (`None`: no limit); returns
/// which are readable. A signal ends the sleep with none readable, so callers re-check
/// their state and loop.
///
/// # Errors
/// `EINVAL` or `ENOMEM` from `poll(2)`.
pub(crate) fn wait_readable<const N: usize>(
    fds: [BorrowedFd<'_>; N],
    timeout: Option<Duration>,
) -> Result<[bool; N], Errno> {
    let mut pfds = fds.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN));
    let ts = timeout.map(timespec);
    match rustix::event::poll(&mut pfds, ts.as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(pfds.map(|p| !p.revents().is_empty())),
        Err(e) => Err(e.into()),
    }
}
