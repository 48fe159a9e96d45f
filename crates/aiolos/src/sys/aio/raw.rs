//! Kernel AIO system calls taking the caller's raw pointers unchanged, for the C ABI
//! (`libaio.so.1`'s `native` engine), where the pointers come from C code and may be NULL
//! or wild.
//!
//! The kernel validates every pointer it is handed (`EFAULT`), so these functions never
//! dereference a pointer themselves; they exist so that a bad pointer from C reaches the
//! kernel as it is instead of being turned into a Rust reference first.
//!
//! # References
//! `io_setup(2)`, `io_submit(2)`, `io_getevents(2)`, `io_cancel(2)`.

use super::{IoEvent, Iocb};
use crate::sys::{cvt, Errno};
use linux_raw_sys::general as nr;

/// `io_setup(2)` writing the new context to `ctxp` (which must hold 0 on entry).
///
/// # Safety
/// None beyond the kernel's own checks: the kernel reads and writes `*ctxp` through
/// `copy_from_user`/`copy_to_user` and reports `EFAULT` for an unmapped address. The caller
/// owns the context created and must destroy it.
///
/// # Errors
/// `EINVAL` (`nr_events` 0 or huge, `*ctxp` not 0), `EFAULT`, `EAGAIN` (over
/// `fs.aio-max-nr`), `ENOMEM`.
///
/// # References
/// `io_setup(2)`.
pub unsafe fn io_setup(nr_events: u32, ctxp: *mut u64) -> Result<(), Errno> {
    // SAFETY: the kernel validates ctxp; nr_events is a plain integer.
    cvt(unsafe {
        libc::syscall(
            nr::__NR_io_setup as libc::c_long,
            nr_events as libc::c_long,
            ctxp,
        )
    })?;
    Ok(())
}

/// `io_submit(2)` with the caller's count and pointer array.
///
/// # Safety
/// The kernel validates the array and each iocb (`EFAULT`), but the buffers the iocbs name
/// are written asynchronously: the caller must keep them (and the iocbs) valid until each
/// request's completion has been reaped.
///
/// # Errors
/// `EINVAL` (bad context, `nr < 0`, bad iocb), `EFAULT`, `EBADF`, `EAGAIN`.
///
/// # References
/// `io_submit(2)`.
pub unsafe fn io_submit(ctx: u64, nr: libc::c_long, iocbs: *mut *mut Iocb) -> Result<usize, Errno> {
    // SAFETY: the caller upholds the buffer lifetimes; the kernel validates the pointers.
    let n = cvt(unsafe { libc::syscall(nr::__NR_io_submit as libc::c_long, ctx, nr, iocbs) })?;
    Ok(n as usize)
}

/// `io_getevents(2)` with the caller's counts, event array and timeout pointer.
///
/// # Safety
/// The kernel validates `events` and `timeout` (`EFAULT`); the caller vouches that no Rust
/// reference aliases the `events` memory during the call.
///
/// # Errors
/// `EINVAL` (bad context or counts), `EFAULT`, `EINTR`.
///
/// # References
/// `io_getevents(2)`.
pub unsafe fn io_getevents(
    ctx: u64,
    min_nr: libc::c_long,
    nr: libc::c_long,
    events: *mut IoEvent,
    timeout: *const libc::timespec,
) -> Result<usize, Errno> {
    // SAFETY: see the function's contract; the kernel validates every pointer.
    let n = cvt(unsafe {
        libc::syscall(
            nr::__NR_io_getevents as libc::c_long,
            ctx,
            min_nr,
            nr,
            events,
            timeout,
        )
    })?;
    Ok(n as usize)
}

/// `io_pgetevents(2)`: [`io_getevents`] with `sigmask` (NULL: unchanged) applied while
/// waiting.
///
/// # Safety
/// As [`io_getevents`]; the kernel validates `sigmask` too.
///
/// # Errors
/// As [`io_getevents`]; `ENOSYS` before Linux 4.18.
///
/// # References
/// `io_getevents(2)`; the system call `io_pgetevents` (Linux 4.18).
pub unsafe fn io_pgetevents(
    ctx: u64,
    min_nr: libc::c_long,
    nr: libc::c_long,
    events: *mut IoEvent,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> Result<usize, Errno> {
    #[repr(C)]
    struct SigsetArg {
        ss: *const libc::sigset_t,
        ss_len: usize,
    }
    // The kernel's sigset is _NSIG / 8 = 8 bytes on Linux.
    let arg = SigsetArg {
        ss: sigmask,
        ss_len: 8,
    };
    // SAFETY: see the function's contract; arg lives until the call returns.
    let n = cvt(unsafe {
        libc::syscall(
            nr::__NR_io_pgetevents as libc::c_long,
            ctx,
            min_nr,
            nr,
            events,
            timeout,
            &arg as *const SigsetArg,
        )
    })?;
    Ok(n as usize)
}

/// `io_cancel(2)` with the caller's iocb and result pointers.
///
/// # Safety
/// The kernel only uses `iocb` to read its key and find the request; it validates both
/// pointers (`EFAULT`).
///
/// # Errors
/// `EINVAL` (not found or not cancellable), `EINPROGRESS`, `EFAULT`, `EAGAIN`.
///
/// # References
/// `io_cancel(2)`.
pub unsafe fn io_cancel(ctx: u64, iocb: *mut Iocb, result: *mut IoEvent) -> Result<(), Errno> {
    // SAFETY: the kernel validates every pointer.
    cvt(unsafe { libc::syscall(nr::__NR_io_cancel as libc::c_long, ctx, iocb, result) })?;
    Ok(())
}

/// `io_destroy(2)` of a context id given as a plain integer.
///
/// # Errors
/// `EINVAL` for a context that is not live in this process.
///
/// # References
/// `io_destroy(2)`.
pub fn io_destroy(ctx: u64) -> Result<(), Errno> {
    super::io_destroy(super::AioContext(ctx))
}
