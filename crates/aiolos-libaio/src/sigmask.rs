//! `io_pgetevents`'s signal mask on the emulated engines: a sleep with the caller's mask in
//! effect, installed and removed atomically with the sleep, as the kernel does.
//!
//! This is `ppoll(2)` made as the raw system call with the kernel's 8-byte signal set:
//! `rustix` has no `ppoll` with a mask, and the C library's wrapper may adjust the mask it
//! is given. It is the drop-in's only system call outside `caller`.
//!
//! # Safety
//!
//! The kernel reads the `pollfd` array, the timeout and the mask, all of which live on
//! this function's stack until the call returns.
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use std::os::fd::RawFd;
use std::time::Duration;

/// Sleeps until `fd` (if any) is readable or `timeout` passes (`None`: no limit), with the
/// signal mask `mask` in effect.
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
pub fn ppoll(fd: Option<RawFd>, timeout: Option<Duration>, mask: u64) -> Result<(), Errno> {
    let mut pfd = libc::pollfd {
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: pfd is one live, writable pollfd (none when fd is None); ts_ptr is NULL or
    // points to a live timespec; mask is 8 readable bytes, the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            &mut pfd as *mut libc::pollfd,
            libc::nfds_t::from(fd.is_some()),
            ts_ptr,
            &mask as *const u64,
            std::mem::size_of::<u64>(),
        )
    };
    if r == -1 {
        return Err(Errno::last());
    }
    Ok(())
}
