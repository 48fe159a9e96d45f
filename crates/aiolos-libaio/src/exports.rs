//! The functions `libaio.so.1` exports, with libaio 0.3.113's symbol versions.
//!
//! Each function is a thin shell: it hands its arguments to the engine inside
//! [`c_return`], which turns the result into libaio's return convention. Functions that
//! exist in two versions are defined here under internal names (`aiolos_*_0_1`,
//! `aiolos_*_0_4`) and bound to `name@LIBAIO_0.1` / `name@@LIBAIO_0.4` with `.symver`; the
//! version script (`libaio.map`) hides every other symbol.
//!
//! # Safety
//!
//! These functions are called from C with whatever the caller passes. None of them turns a
//! caller's pointer into a Rust reference; pointers go to the kernel, which validates them,
//! except where the engine documents a read of its own (see `native`).
#![allow(unsafe_code)]

use crate::abi::{IoCallback, IoContext, IoEvent, Iocb, Sigset, Timespec, ZERO_TIMEOUT};
use crate::dispatch;
use crate::ffi::c_return;
use aiolos::sys::Errno;
use std::ffi::{c_int, c_long};

#[cfg(not(test))]
std::arch::global_asm!(
    ".symver aiolos_io_getevents_0_4, io_getevents@@LIBAIO_0.4",
    ".symver aiolos_io_getevents_0_1, io_getevents@LIBAIO_0.1",
    ".symver aiolos_io_cancel_0_4, io_cancel@@LIBAIO_0.4",
    ".symver aiolos_io_cancel_0_1, io_cancel@LIBAIO_0.1",
    ".symver aiolos_io_queue_wait_0_4, io_queue_wait@@LIBAIO_0.4",
    ".symver aiolos_io_queue_wait_0_1, io_queue_wait@LIBAIO_0.1",
);

/// `io_setup(maxevents, ctxp)` (`LIBAIO_0.4`): creates a context able to hold `maxevents`
/// requests; `*ctxp` must be NULL on entry.
///
/// Returns 0, or `-EINVAL` (`maxevents <= 0`, too large, `*ctxp` not NULL), `-EFAULT`
/// (bad `ctxp`), `-EAGAIN` (over `fs.aio-max-nr`), `-ENOMEM`.
///
/// # Safety
/// `ctxp` is NULL or points to an `io_context_t` (the kernel checks it).
#[no_mangle]
pub unsafe extern "C" fn io_setup(maxevents: c_int, ctxp: *mut IoContext) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::setup(maxevents, ctxp) })
}

/// `io_destroy(ctx)` (`LIBAIO_0.4`): waits for the context's in-flight requests, wakes
/// every thread waiting on it (they get `-EINVAL`) and frees it. `-EINVAL` for a context
/// that is not live.
///
/// # Safety
/// None: `ctx` is only compared and passed to the kernel.
#[no_mangle]
pub unsafe extern "C" fn io_destroy(ctx: IoContext) -> c_int {
    c_return(|| dispatch::destroy(ctx))
}

/// `io_queue_init(maxevents, ctxp)` (`LIBAIO_0.1`): sets `*ctxp` to NULL and calls
/// [`io_setup`]. `-EINVAL` for `maxevents <= 0`, `-EFAULT` for a NULL `ctxp`.
///
/// # Safety
/// `ctxp` is NULL or points to a writable `io_context_t`.
#[no_mangle]
pub unsafe extern "C" fn io_queue_init(maxevents: c_int, ctxp: *mut IoContext) -> c_int {
    c_return(|| {
        if maxevents <= 0 {
            return Err(Errno::INVAL);
        }
        if !crate::abi::plausible(ctxp) {
            return Err(Errno::FAULT);
        }
        // libaio stores NULL first, so whatever *ctxp held does not matter. The store goes
        // through the kernel, so a bad ctxp is -EFAULT rather than a crash; where a seccomp
        // filter denies that, store directly (ctxp is at least plausible).
        match crate::caller::store_u64(ctxp.cast(), 0) {
            Ok(()) => {}
            Err(Errno::FAULT) => return Err(Errno::FAULT),
            // SAFETY: plausible() rejected NULL, misaligned and non-user pointers; the
            // caller vouches for the rest, as libaio's io_queue_init writes it the same way.
            Err(_) => unsafe { ctxp.write(std::ptr::null_mut()) },
        }
        // SAFETY: ctxp holds NULL; the kernel checks it again.
        unsafe { dispatch::setup(maxevents, ctxp) }
    })
}

/// `io_queue_release(ctx)` (`LIBAIO_0.1`): [`io_destroy`].
///
/// # Safety
/// As [`io_destroy`].
#[no_mangle]
pub unsafe extern "C" fn io_queue_release(ctx: IoContext) -> c_int {
    c_return(|| dispatch::destroy(ctx))
}

/// `io_submit(ctx, nr, ios)` (`LIBAIO_0.1`): queues `nr` requests; returns how many were
/// queued (a partial count when the kernel stops early), or `-EINVAL` (bad context, `nr <
/// 0`, bad iocb), `-EFAULT`, `-EBADF`, `-EAGAIN` when none was. `nr == 0` returns 0.
///
/// # Safety
/// Every iocb and the memory it names stays valid until its completion is reaped.
#[no_mangle]
pub unsafe extern "C" fn io_submit(ctx: IoContext, nr: c_long, ios: *mut *mut Iocb) -> c_int {
    // SAFETY: forwarded contract.
    c_return(|| unsafe { dispatch::submit(ctx, nr, ios) })
}

/// `io_getevents(ctx, min_nr, nr, events, timeout)` (`LIBAIO_0.4`, default): waits for at
/// least `min_nr` and reaps at most `nr` completions. A NULL timeout waits forever; `{0,0}`
/// on an empty ring returns 0 without a system call.
///
/// # Safety
/// `events` has room for `nr` events and `timeout` is NULL or a `timespec` (both checked by
/// the kernel; `timeout` is also read here for the fast path).
#[no_mangle]
pub unsafe extern "C" fn aiolos_io_getevents_0_4(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *mut Timespec,
) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::getevents(ctx, min_nr, nr, events, timeout) })
}

/// `io_getevents(ctx, nr, events, timeout)` (`LIBAIO_0.1`): the 4-argument form, waiting
/// for at least one event.
///
/// # Safety
/// As [`aiolos_io_getevents_0_4`].
#[no_mangle]
pub unsafe extern "C" fn aiolos_io_getevents_0_1(
    ctx: IoContext,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *const Timespec,
) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::getevents(ctx, 1, nr, events, timeout) })
}

/// `io_pgetevents(ctx, min_nr, nr, events, timeout, sigmask)` (`LIBAIO_0.5`):
/// `io_getevents` with `sigmask` (NULL: unchanged) applied while waiting.
///
/// # Safety
/// As [`aiolos_io_getevents_0_4`]; `sigmask` is NULL or a `sigset_t`.
#[no_mangle]
pub unsafe extern "C" fn io_pgetevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *mut Timespec,
    sigmask: *mut Sigset,
) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::pgetevents(ctx, min_nr, nr, events, timeout, sigmask) })
}

/// `io_cancel(ctx, iocb, evt)` (`LIBAIO_0.4`, default): asks to cancel a request. Reads,
/// writes and syncs cannot be cancelled (`-EINVAL`; they complete normally); a pending poll
/// answers `-EINPROGRESS` and then completes once, with res 0. `evt` is never written (the
/// kernel ignores it too).
///
/// # Safety
/// `iocb` is checked by the kernel (or read through it); `evt` is not used.
#[no_mangle]
pub unsafe extern "C" fn aiolos_io_cancel_0_4(
    ctx: IoContext,
    iocb: *mut Iocb,
    evt: *mut IoEvent,
) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::cancel(ctx, iocb, evt) })
}

/// `io_cancel(ctx, iocb)` (`LIBAIO_0.1`): the 2-argument form; the result event is
/// discarded.
///
/// # Safety
/// As [`aiolos_io_cancel_0_4`].
#[no_mangle]
pub unsafe extern "C" fn aiolos_io_cancel_0_1(ctx: IoContext, iocb: *mut Iocb) -> c_int {
    let mut evt = IoEvent::default();
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::cancel(ctx, iocb, &mut evt) })
}

/// `io_queue_wait(ctx, timeout)` (`LIBAIO_0.4`, default; not declared in the header): waits
/// for completions without reaping any (`io_getevents(ctx, 0, 0, NULL, timeout)`).
///
/// # Safety
/// `timeout` is NULL or a `timespec`.
#[no_mangle]
pub unsafe extern "C" fn aiolos_io_queue_wait_0_4(ctx: IoContext, timeout: *mut Timespec) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::getevents(ctx, 0, 0, std::ptr::null_mut(), timeout) })
}

/// `io_queue_wait(ctx, timeout)` (`LIBAIO_0.1`): as [`aiolos_io_queue_wait_0_4`].
///
/// # Safety
/// As [`aiolos_io_queue_wait_0_4`].
#[no_mangle]
pub unsafe extern "C" fn aiolos_io_queue_wait_0_1(
    ctx: IoContext,
    timeout: *const Timespec,
) -> c_int {
    // SAFETY: forwarded contract (see this function's # Safety).
    c_return(|| unsafe { dispatch::getevents(ctx, 0, 0, std::ptr::null_mut(), timeout) })
}

/// `io_queue_run(ctx)` (`LIBAIO_0.1`): reaps every completion that is ready, one at a
/// time, and calls the callback stored in each event's `data` (by `io_set_callback`) as
/// `cb(ctx, iocb, res, res2)`. Events without a callback are reaped and dropped. Returns 0
/// when no completion is left, or a negative errno.
///
/// # Safety
/// Every non-NULL `data` of a completion on this context is an `io_callback_t`.
#[no_mangle]
pub unsafe extern "C" fn io_queue_run(ctx: IoContext) -> c_int {
    c_return(|| loop {
        let mut ev = IoEvent::default();
        // SAFETY: ev is one writable event and ZERO_TIMEOUT a valid timespec.
        if unsafe { dispatch::getevents(ctx, 0, 1, &mut ev, &ZERO_TIMEOUT) }? != 1 {
            return Ok(0);
        }
        // The caller's function pointer came back as an integer: take the provenance it
        // was exposed with (transmuting the integer itself would give a pointer to nothing).
        let p: *const () = std::ptr::with_exposed_provenance(ev.data as usize);
        // SAFETY: the caller stored an io_callback_t (or NULL) in data via io_set_callback;
        // Option<fn> has the layout of a nullable function pointer.
        let cb: IoCallback = unsafe { std::mem::transmute::<*const (), IoCallback>(p) };
        if let Some(cb) = cb {
            // SAFETY: calling the caller's own callback with its own context and iocb.
            unsafe {
                cb(
                    ctx,
                    ev.obj as usize as *mut Iocb,
                    ev.res as c_long,
                    ev.res2 as c_long,
                )
            };
        }
    })
}

#[cfg(test)]
mod tests;
