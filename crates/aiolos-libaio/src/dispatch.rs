//! Routes each call to the engine that serves its context: contexts created on an
//! emulated engine (`uring`, `threads`) are found by their address (or their ring
//! header); every other context id (ours on `native`, or one created by a direct system
//! call) goes to the kernel.
//!
//! Where the kernel checks an argument before it looks the context up (the count of
//! `io_submit`, the timeout and signal mask of `io_getevents`/`io_pgetevents`), so does
//! the emulation, so that the error is the kernel's whatever else is wrong.
//!
//! An emulated call holds the thread's signals off from start to end ([`Held`]), as a
//! system call does: a handler runs when the call returns, or while it sleeps (with the
//! program's mask, atomically), never while the thread holds one of the library's locks.
//! `io_setup`, `io_destroy` and `io_cancel` always do; `io_submit` and `io_getevents`
//! when `AIOLOS_HOLD_SIGNALS=1` (it costs two system calls per call).
//!
//! # Safety
//!
//! Only forwards the callers' contracts to the engines.
#![allow(unsafe_code)]

use crate::abi::{IoContext, IoEvent, Iocb, Sigset, Timespec};
use crate::emulated::{self, Ctx, Mask};
use crate::engine;
use crate::native;
use crate::sigmask::Held;
use aiolos::sys::Errno;
use aiolos::EngineKind;
use std::ffi::{c_int, c_long};
use std::sync::Arc;

/// The emulated context `ctx` names, with `held` (the thread's signals held off for the
/// call, or not); `None` (signals as they were) for the kernel's contexts.
fn emulated(ctx: IoContext, held: fn() -> Held) -> Option<(Arc<Ctx>, Held)> {
    if engine::configured() == EngineKind::Native {
        return None;
    }
    let held = held();
    emulated::lookup(ctx).map(|c| (c, held))
}

/// `io_setup` on the configured engine.
///
/// # Safety
/// `ctxp` is checked by the kernel (or read through it).
///
/// # Errors
/// As the kernel's `io_setup`.
pub unsafe fn setup(maxevents: c_int, ctxp: *mut IoContext) -> Result<c_int, Errno> {
    match engine::configured() {
        EngineKind::Native => {
            // The registry of this library's kernel contexts is written under a lock.
            let _held = Held::always();
            // SAFETY: forwarded contract.
            unsafe { native::setup(maxevents, ctxp) }
        }
        kind => {
            let _held = Held::always();
            emulated::setup(kind, maxevents, ctxp).map(|()| 0)
        }
    }
}

/// `io_destroy`.
///
/// # Errors
/// `EINVAL` for a context that is not live.
pub fn destroy(ctx: IoContext) -> Result<c_int, Errno> {
    match emulated(ctx, Held::always) {
        Some((e, _held)) => e.destroy().map(|()| 0),
        None => {
            // As in `setup`: the registry's lock.
            let _held = Held::always();
            native::destroy(ctx)
        }
    }
}

/// `io_submit`.
///
/// # Safety
/// The iocbs and their buffers stay valid until their completions are reaped.
///
/// # Errors
/// As the kernel's.
pub unsafe fn submit(ctx: IoContext, nr: c_long, ios: *mut *mut Iocb) -> Result<c_int, Errno> {
    if nr < 0 {
        return Err(Errno::INVAL);
    }
    match emulated(ctx, Held::if_asked) {
        Some((e, _held)) => e.submit(nr, ios).map(crate::ffi::count),
        // SAFETY: forwarded contract.
        None => unsafe { native::submit(ctx, nr, ios) },
    }
}

/// The counts `io_getevents` accepts.
fn counts_ok(min_nr: c_long, nr: c_long) -> bool {
    0 <= min_nr && min_nr <= nr
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
    if engine::configured() != EngineKind::Native {
        let wait = emulated::read_timeout(timeout)?;
        let held = Held::if_asked();
        if let Some(e) = emulated::lookup(ctx) {
            if !counts_ok(min_nr, nr) {
                return Err(Errno::INVAL);
            }
            return e
                .getevents(
                    min_nr,
                    nr,
                    events,
                    wait,
                    held.before().map_or(Mask::None, Mask::Thread),
                )
                .map(crate::ffi::count);
        }
    }
    // SAFETY: forwarded contract.
    unsafe { native::getevents(ctx, min_nr, nr, events, timeout) }
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
    if engine::configured() != EngineKind::Native {
        let wait = emulated::read_timeout(timeout)?;
        let mask = if sigmask.is_null() {
            None
        } else {
            Some(emulated::read_sigmask(sigmask)?)
        };
        let held = Held::if_asked();
        if let Some(e) = emulated::lookup(ctx) {
            if !counts_ok(min_nr, nr) {
                return Err(Errno::INVAL);
            }
            let mask = match (mask, held.before()) {
                (Some(m), _) => Mask::Call(m),
                (None, Some(m)) => Mask::Thread(m),
                (None, None) => Mask::None,
            };
            return e
                .getevents(min_nr, nr, events, wait, mask)
                .map(crate::ffi::count);
        }
    }
    // SAFETY: forwarded contract.
    unsafe { native::pgetevents(ctx, min_nr, nr, events, timeout, sigmask) }
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
    match emulated(ctx, Held::always) {
        Some((e, _held)) => e.cancel(iocb).map(|()| 0),
        // SAFETY: forwarded contract.
        None => unsafe { native::cancel(ctx, iocb, evt) },
    }
}
