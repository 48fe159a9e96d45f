//! Interrupt requests (`SIGINT`, `SIGTERM`) turned into a flag that a long-running loop
//! polls, so a tool can stop cleanly: print what it has, remove its temporary files.
//!
//! The handler only stores to an atomic (async-signal-safe) and is installed with
//! `SA_RESETHAND`, so a second Ctrl-C ends the process the default way. Blocking calls
//! interrupted by the signal fail with `EINTR` or are restarted (`SA_RESTART`); callers
//! should wait with timeouts and check [`interrupted`] between waits.

use super::{cvt, Errno};
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for `SIGINT` and `SIGTERM`. Idempotent.
///
/// # Errors
/// The kernel's errno from `sigaction(2)`.
///
/// # References
/// `sigaction(2)`.
#[doc(alias = "sigaction")]
pub fn catch_interrupt() -> Result<(), Errno> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART | libc::SA_RESETHAND;
        // SAFETY: sa is a fully initialised sigaction whose handler is async-signal-safe
        // (one atomic store); a null old-action pointer is allowed.
        cvt(unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } as _)?;
    }
    Ok(())
}

/// Whether `SIGINT` or `SIGTERM` arrived since [`catch_interrupt`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Marks the process as interrupted, as if the signal had arrived (for tests and for
/// tools that stop for other reasons through the same path).
pub fn request_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}
