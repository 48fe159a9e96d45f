//! Routes each call to the engine that serves its context: contexts created on an
//! emulated engine (`uring`, `threads`) are found in the registry; every other context id
//! (ours on `native`, or one created by a direct system call) goes to the kernel.
//!
//! # Safety
//!
//! Only forwards the callers' contracts to the engines.
#![allow(unsafe_code)]

use crate::abi::{ctx_id, IoContext, IoEvent, Iocb, Sigset, Timespec};
use crate::context::{self, Kind};
use crate::emulated::Emulated;
use crate::engine;
use crate::native;
use aiolos::sys::Errno;
use aiolos::EngineKind;
use std::ffi::{c_int, c_long};
use std::sync::Arc;

fn emulated(ctx: IoContext) -> Option<Arc<Emulated>> {
    if engine::configured() == EngineKind::Native {
        return None;
    }
    match context::get(ctx_id(ctx)) {
        Some(Kind::Emulated(e)) => Some(e),
        _ => None,
    }
}

/// `io_setup` on the configured engine (`uring` falls back to `threads` where io_uring
/// cannot be set up).
///
/// # Safety
/// `ctxp` is NULL or points to an `io_context_t`.
///
/// # Errors
/// As [`native::setup`].
pub unsafe fn setup(maxevents: c_int, ctxp: *mut IoContext) -> Result<c_int, Errno> {
    let kind = engine::configured();
    if kind == EngineKind::Native {
        // SAFETY: forwarded contract.
        return unsafe { native::setup(maxevents, ctxp) };
    }
    if ctxp.is_null() {
        return Err(Errno::FAULT);
    }
    let mut current = [0u8; 8];
    if crate::caller::load(ctxp.cast(), &mut current)? != 8 {
        return Err(Errno::FAULT);
    }
    if maxevents <= 0 || current != [0; 8] {
        return Err(Errno::INVAL);
    }
    let ctx = match Emulated::new(kind, maxevents) {
        // The probe allowed io_uring, but this ring could not be set up (descriptors or
        // locked memory ran out since): the thread pool, as the rule says.
        Err(e) if kind == EngineKind::Uring => {
            if aiolos::engine::log_enabled() {
                eprintln!("aiolos: io_uring could not be set up ({e}); this context uses threads");
            }
            Emulated::new(EngineKind::Threads, maxevents)?
        }
        other => other?,
    };
    if let Err(e) = crate::caller::store_u64(ctxp.cast(), ctx.id()) {
        ctx.destroy();
        return Err(e);
    }
    context::register(ctx.id(), Kind::Emulated(ctx));
    Ok(0)
}

/// `io_destroy`.
///
/// # Errors
/// `EINVAL` for a context that is not live.
pub fn destroy(ctx: IoContext) -> Result<c_int, Errno> {
    if engine::configured() != EngineKind::Native {
        if let Some(Kind::Emulated(e)) = context::get(ctx_id(ctx)) {
            context::unregister(ctx_id(ctx));
            e.destroy();
            return Ok(0);
        }
    }
    native::destroy(ctx)
}

/// `io_submit`.
///
/// # Safety
/// The iocbs and their buffers stay valid until their completions are reaped.
///
/// # Errors
/// As the kernel's.
pub unsafe fn submit(ctx: IoContext, nr: c_long, ios: *mut *mut Iocb) -> Result<c_int, Errno> {
    match emulated(ctx) {
        Some(e) => e.submit(nr, ios).map(crate::ffi::count),
        // SAFETY: forwarded contract.
        None => unsafe { native::submit(ctx, nr, ios) },
    }
}

/// `io_getevents`.
///
/// # Safety
/// As [`native::getevents`].
///
/// # Errors
/// As [`native::getevents`].
pub unsafe fn getevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *const Timespec,
) -> Result<c_int, Errno> {
    match emulated(ctx) {
        Some(e) => e
            .getevents(min_nr, nr, events, timeout)
            .map(crate::ffi::count),
        // SAFETY: forwarded contract.
        None => unsafe { native::getevents(ctx, min_nr, nr, events, timeout) },
    }
}

/// `io_pgetevents`: on every engine the signal mask is in effect for the whole call, so a
/// signal it unblocks interrupts the wait (`EINTR`).
///
/// # Safety
/// As [`native::pgetevents`].
///
/// # Errors
/// As [`native::pgetevents`].
pub unsafe fn pgetevents(
    ctx: IoContext,
    min_nr: c_long,
    nr: c_long,
    events: *mut IoEvent,
    timeout: *const Timespec,
    sigmask: *const Sigset,
) -> Result<c_int, Errno> {
    match emulated(ctx) {
        Some(e) => e
            .pgetevents(min_nr, nr, events, timeout, sigmask)
            .map(crate::ffi::count),
        // SAFETY: forwarded contract.
        None => unsafe { native::pgetevents(ctx, min_nr, nr, events, timeout, sigmask) },
    }
}

/// `io_cancel`. `evt` is never written, on any engine: the kernel ignores it and delivers
/// a cancelled request's completion through the ring.
///
/// # Safety
/// As [`native::cancel`].
///
/// # Errors
/// As [`native::cancel`].
pub unsafe fn cancel(ctx: IoContext, iocb: *mut Iocb, evt: *mut IoEvent) -> Result<c_int, Errno> {
    match emulated(ctx) {
        Some(e) => e.cancel(iocb).map(|()| 0),
        // SAFETY: forwarded contract.
        None => unsafe { native::cancel(ctx, iocb, evt) },
    }
}
