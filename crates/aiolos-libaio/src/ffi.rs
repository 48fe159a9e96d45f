//! The C boundary: the one place where a `Result` becomes libaio's return convention.
//!
//! libaio returns a negated errno on failure and leaves the caller's `errno` as it was
//! (programs written for it often read `errno` only after other calls). The system-call
//! wrappers this library uses do set `errno`, so [`c_return`] saves it on entry and puts it
//! back on exit. A panic inside the library is caught here and reported as `-EIO`; it never
//! unwinds into C.
//!
//! Thread cancellation is held off for the call (`NoCancel`). libaio's calls are system
//! calls, none of them a cancellation point, so a cancelled thread leaves them normally and
//! is cancelled at its next cancellation point. This library makes calls that are
//! (`pwritev`, `pread`, `write`): a pending cancellation acted inside one and unwound the
//! thread through Rust frames, which aborted the process (`thread_cancellation.c`).
//!
//! # Safety
//!
//! Reads and writes `errno` through `__errno_location`, which returns a valid pointer to
//! the calling thread's `errno` for the life of the thread.
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The errno reported when the library panicked (a bug in aiolos, never the caller's fault).
pub const PANIC_ERRNO: c_int = libc::EIO;

fn errno_get() -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

fn errno_set(v: c_int) {
    // SAFETY: as in errno_get.
    unsafe { *libc::__errno_location() = v }
}

// Not in the libc crate for Linux: glibc's <pthread.h>.
#[cfg(not(miri))]
extern "C" {
    fn pthread_setcancelstate(state: c_int, oldstate: *mut c_int) -> c_int;
}

/// `PTHREAD_CANCEL_DISABLE` in glibc's <pthread.h> (`PTHREAD_CANCEL_ENABLE` is 0).
const PTHREAD_CANCEL_DISABLE: c_int = 1;

/// Sets the calling thread's cancel state; returns the one it replaces.
#[cfg(not(miri))]
fn set_cancel_state(state: c_int) -> c_int {
    let mut old = 0;
    // SAFETY: changes only the calling thread's cancel state; `old` is a valid out-pointer.
    unsafe { pthread_setcancelstate(state, &mut old) };
    old
}

/// Miri has no thread cancellation.
#[cfg(miri)]
fn set_cancel_state(_state: c_int) -> c_int {
    0
}

/// The calling thread's cancellation held off until this is dropped, then put back as it
/// was (a cancellation requested meanwhile acts at the thread's next cancellation point,
/// outside the library).
struct NoCancel(c_int);

impl NoCancel {
    fn hold() -> NoCancel {
        NoCancel(set_cancel_state(PTHREAD_CANCEL_DISABLE))
    }
}

impl Drop for NoCancel {
    fn drop(&mut self) {
        set_cancel_state(self.0);
    }
}

/// Runs `f` and turns its outcome into a C return value: `Ok(n)` gives `n`, `Err(e)` gives
/// `-e`, a panic gives `-PANIC_ERRNO`. The caller's `errno` is unchanged afterwards.
pub fn c_return(f: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    let _no_cancel = NoCancel::hold();
    let saved = errno_get();
    let ret = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => -e.raw(),
        Err(_) => -PANIC_ERRNO,
    };
    errno_set(saved);
    ret
}

/// Converts a count to a C `int` return value (counts here are bounded by a `long` the
/// caller passed in and by the ring size, so this saturates only for absurd inputs).
pub fn count(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_become_counts_or_negative_errnos_and_errno_is_kept() {
        errno_set(1234);
        assert_eq!(c_return(|| Ok(7)), 7);
        assert_eq!(
            c_return(|| {
                errno_set(libc::EBADF);
                Err(Errno::INVAL)
            }),
            -libc::EINVAL
        );
        assert_eq!(errno_get(), 1234, "the caller's errno survives");
    }

    #[test]
    fn a_panic_is_stopped_and_reported_as_eio_with_errno_kept() {
        errno_set(77);
        let r = c_return(|| {
            errno_set(libc::ENOMEM);
            panic!("a bug inside the library");
        });
        assert_eq!(r, -PANIC_ERRNO);
        assert_eq!(errno_get(), 77);
    }

    #[test]
    fn counts_saturate_at_int_max() {
        assert_eq!(count(5), 5);
        assert_eq!(count(usize::MAX), c_int::MAX);
    }
}
