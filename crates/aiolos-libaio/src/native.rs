//! The `native` engine: `io_context_t` is the kernel's own AIO context and every call
//! passes through to the kernel, which validates the caller's pointers (`EFAULT`) and
//! counts (`EINVAL`). Programs that read the completion ring behind `io_context_t`
//! directly keep working, and so do programs that mix this library with direct system
//! calls on the same context.
//!
//! What is added on top: NULL `ctxp` is refused before anything is written through it, and
//! `io_getevents` with a zero timeout answers from the ring without a system call when the
//! ring is empty (libaio's fast path), for contexts this library created and only after
//! checking the timeout pointer and the counts.
//!
//! # Safety
//!
//! Pointers from C are passed to the kernel unchanged; this module itself reads only
//! `*timeout` when it lies on the caller's live stack, and the ring header of a context
//! that the registry holds as live.
#![allow(unsafe_code)]

use crate::abi::{ctx_id, plausible, IoContext, IoEvent, Iocb, Sigset, Timespec, ZERO_TIMEOUT};
use crate::context;
use crate::region::on_live_stack;
use aiolos::sys::aio::raw;
use aiolos::sys::aio::{ring_has_events, AioContext};
use aiolos::sys::Errno;
use std::ffi::{c_int, c_long};

/// `io_setup`: creates a kernel context for `maxevents` requests and stores it in `*ctxp`,
/// which must hold NULL. Every check is the kernel's, in its order (`*ctxp` is read
/// first, so a bad `ctxp` is `EFAULT` whatever `maxevents` is).
///
/// # Errors
/// `EFAULT` for a bad `ctxp`; `EINVAL` when `maxevents` is 0 or too large, or `*ctxp` is
/// not NULL; `EAGAIN` over `fs.aio-max-nr`.
///
/// # Safety
/// `ctxp` is NULL or points to an `io_context_t`; the kernel checks it before writing.
pub unsafe fn setup(maxevents: c_int, ctxp: *mut IoContext) -> Result<c_int, Errno> {
    // SAFETY: the kernel validates ctxp (copy_from_user/copy_to_user).
    unsafe { raw::io_setup(maxevents as u32, ctxp.cast::<u64>()) }?;
    // SAFETY: the kernel has just written the context id through ctxp, so it is a valid,
    // aligned, writable io_context_t.
    let id = ctx_id(unsafe { ctxp.read() });
    context::register(id);
    Ok(0)
}

/// `io_destroy`: waits for the context's requests, wakes its waiters, and frees it.
///
/// # Errors
/// `EINVAL` for a context that is not live in this process.
pub fn destroy(ctx: IoContext) -> Result<c_int, Errno> {
    let id = ctx_id(ctx);
    context::unregister(id);
    raw::io_destroy(id)?;
    Ok(0)
}

/// `io_submit`: queues up to `nr` requests; returns how many the kernel took.
///
/// # Safety
/// The caller keeps the iocbs and their buffers valid until their completions are reaped.
///
/// # Errors
/// The kernel's, when it took none: `EINVAL`, `EFAULT`, `EBADF`, `EAGAIN`.
pub unsafe fn submit(ctx: IoContext, nr: c_long, ios: *mut *mut Iocb) -> Result<c_int, Errno> {
    // SAFETY: forwarded contract; the kernel validates the pointers.
    let n = unsafe { raw::io_submit(ctx_id(ctx), nr, ios) }?;
    Ok(crate::ffi::count(n))
}

/// `io_cancel`.
///
/// # Errors
/// `EINVAL` (not found or not cancellable), `EINPROGRESS`, `EFAULT`, `EAGAIN`.
///
/// # Safety
/// None beyond the kernel's check of `iocb` (`EFAULT`); the kernel ignores `evt`.
pub unsafe fn cancel(ctx: IoContext, iocb: *mut Iocb, evt: *mut IoEvent) -> Result<c_int, Errno> {
    // SAFETY: the kernel validates both pointers.
    unsafe { raw::io_cancel(ctx_id(ctx), iocb, evt) }?;
    Ok(0)
}

/// Whether `timeout` points to `{0, 0}`. The timespec is read only where that cannot fault
/// (on the caller's live stack, or our own constant); otherwise the answer is "no" and the
/// kernel, reading it with `copy_from_user`, decides.
fn is_zero_timeout(timeout: *const Timespec) -> bool {
    if std::ptr::eq(timeout, &ZERO_TIMEOUT) {
        return true;
    }
    if !plausible(timeout) || !on_live_stack(timeout as usize, std::mem::size_of::<Timespec>()) {
        return false;
    }
    // SAFETY: the timespec is aligned and lies in the mapped, live part of this thread's
    // stack; it is plain data, read by value.
    let t = unsafe { timeout.read() };
    t.tv_sec == 0 && t.tv_nsec == 0
}

/// libaio's fast path: with a zero timeout and valid counts, an empty ring of a live context
/// of ours means "no events" without a system call.
fn ring_is_empty_and_zero_wait(id: u64, min_nr: c_long, nr: c_long, t: *const Timespec) -> bool {
    if !(0 <= min_nr && min_nr <= nr) {
        return false;
    }
    // The registry first: a context of another process (a fork child's inherited one)
    // goes to the kernel without the timeout check, whose one-time stack lookup allocates
    // (`pthread_getattr_np`), which a fork child of a threaded program must not do.
    context::with_live(id, || {
        if !is_zero_timeout(t) {
            return false;
        }
        // SAFETY: the registry holds this context as live and its read lock keeps
        // io_destroy from unmapping the ring while we look at it.
        !unsafe { ring_has_events(AioContext(id)) }
    })
    .unwrap_or(false)
}

/// `io_getevents`: reaps between `min_nr` and `nr` completions into `events`.
///
/// # Errors
/// `EINVAL` (bad context or counts, or the context destroyed while waiting), `EFAULT`,
/// `EINTR`.
///
/// # Safety
/// None beyond the kernel's checks: `events` and `timeout` go to the kernel, and `timeout`
/// is read here only where that cannot fault.
pub unsafe fn getevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *const Timespec,
) -> Result<c_int, Errno> {
    let id = ctx_id(ctx);
    if ring_is_empty_and_zero_wait(id, min_nr, nr, timeout) {
        return Ok(0);
    }
    // SAFETY: the kernel validates events and timeout; no Rust reference aliases them.
    let n = unsafe { raw::io_getevents(id, min_nr, nr, events, timeout) }?;
    Ok(crate::ffi::count(n))
}

/// `io_pgetevents`: [`getevents`] with `sigmask` applied while waiting.
///
/// # Errors
/// As [`getevents`].
///
/// # Safety
/// As [`getevents`]; `sigmask` is NULL or a `sigset_t` (checked by the kernel).
pub unsafe fn pgetevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *const Timespec,
    sigmask: *const Sigset,
) -> Result<c_int, Errno> {
    let id = ctx_id(ctx);
    // A certainly-bad mask goes to the kernel for its EFAULT, even when the ring is empty.
    let mask_ok = sigmask.is_null() || plausible(sigmask);
    if mask_ok && ring_is_empty_and_zero_wait(id, min_nr, nr, timeout) {
        return Ok(0);
    }
    // SAFETY: the kernel validates events, timeout and sigmask.
    let n = unsafe { raw::io_pgetevents(id, min_nr, nr, events, timeout, sigmask) }?;
    Ok(crate::ffi::count(n))
}
