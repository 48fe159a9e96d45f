//! The hand-off between futures that push requests and the reaper that submits them: a
//! push made while the reaper sleeps must wake it, and a push the reaper can see before it
//! sleeps must keep it awake, so that no request stays queued while its reaper sleeps.
//!
//! Two flags make that work (each side writes its own flag, then reads the other's): a
//! pusher raises `submit_pending`, then looks at `sleeping`; a reaper about to sleep raises
//! `sleeping`, then looks at `submit_pending`. A sequentially consistent fence between each
//! side's write and read makes at least one of them see the other. (The fences, rather than
//! `SeqCst` on the accesses alone, are what loom can check: it models `SeqCst` accesses as
//! acquire/release, under which it rightly finds the wake-up lost.) [`turn`] is the reaper's side, written once over the [`Reaper`] trait so
//! that the loom model in `loom_model.rs` runs this very code against a model of the ring
//! and the wake descriptor, with pushers calling [`Handshake::after_push`].

// Under `--cfg aiolos_loom` the flags are loom's, for the model.
use crate::error::Error;
#[cfg(aiolos_loom)]
use ::loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
use std::sync::atomic::Ordering::SeqCst;
#[cfg(not(aiolos_loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicUsize};
use std::time::Duration;

/// The two flags of the hand-off.
#[derive(Debug, Default)]
pub(crate) struct Handshake {
    /// Requests were pushed since the reaper last began a pass.
    submit_pending: AtomicBool,
    /// How many reapers are about to sleep, or sleep.
    sleeping: AtomicUsize,
}

impl Handshake {
    /// After a push: true for the first push since the reaper's last pass (later pushes of
    /// the same batch need not wake it again).
    pub(crate) fn pushed(&self) -> bool {
        !self.submit_pending.swap(true, SeqCst)
    }

    /// Whether a reaper sleeps or is about to (the first push must then wake it).
    pub(crate) fn reaper_sleeps(&self) -> bool {
        self.sleeping.load(SeqCst) > 0
    }

    /// After a push: calls `wake` if this is the first push since the reaper's last pass
    /// and a reaper sleeps or is about to.
    pub(crate) fn after_push(&self, wake: impl FnOnce()) {
        if self.pushed() {
            // Orders the raised flag before the look at `sleeping` (see the module).
            fence(SeqCst);
            if self.reaper_sleeps() {
                wake();
            }
        }
    }

    /// The reaper begins a pass: everything pushed before this is submitted by the pass.
    pub(crate) fn pass_begins(&self) {
        self.submit_pending.store(false, SeqCst);
    }

    /// The reaper found nothing to do and is about to sleep.
    pub(crate) fn sleep_begins(&self) {
        self.sleeping.fetch_add(1, SeqCst);
        // Orders the raised count before the look at `submit_pending` (see the module).
        fence(SeqCst);
    }

    /// Whether something was pushed since the last pass began (the reaper must not sleep).
    pub(crate) fn push_pending(&self) -> bool {
        self.submit_pending.load(SeqCst)
    }

    /// The reaper is awake again.
    pub(crate) fn sleep_ends(&self) {
        self.sleeping.fetch_sub(1, SeqCst);
    }
}

/// What a reaper pass needs from its surroundings: the driver's ring and descriptors, or a
/// model of them.
pub(crate) trait Reaper {
    /// The hand-off shared with the pushers.
    fn handshake(&self) -> &Handshake;
    /// Begins a pass ([`Handshake::pass_begins`]), submits everything queued and hands out
    /// what completed, without blocking; returns how many were handed out.
    fn submit_and_reap(&self) -> Result<usize, Error>;
    /// Clears the completion notification, then does as `submit_and_reap`.
    fn reap_ready(&self) -> Result<usize, Error>;
    /// Sleeps until a completion is notified, a pusher wakes it, or `timeout` passes.
    fn sleep(&self, timeout: Option<Duration>) -> Result<(), Error>;
}

/// One reaper pass: submits what was pushed and hands out what completed; when nothing
/// did, sleeps until a completion, a push or `timeout` (forever with `None`), then does the
/// same once more. Returns how many completions were handed out.
pub(crate) fn turn<R: Reaper>(r: &R, timeout: Option<Duration>) -> Result<usize, Error> {
    let n = r.submit_and_reap()?;
    if n > 0 || timeout == Some(Duration::ZERO) {
        return Ok(n);
    }
    let hs = r.handshake();
    hs.sleep_begins();
    // A push from here on either is seen below or sees the reaper asleep and wakes it.
    let slept = sleep(r, timeout);
    hs.sleep_ends();
    Ok(slept? + r.submit_and_reap()?)
}

/// The sleeping part of [`turn`], with the reaper already counted as sleeping.
fn sleep<R: Reaper>(r: &R, timeout: Option<Duration>) -> Result<usize, Error> {
    if r.handshake().push_pending() {
        return Ok(0);
    }
    // Clear the notification, then look once more: a completion that landed before the
    // clear is collected here, any later one notifies again.
    let n = r.reap_ready()?;
    if n > 0 || r.handshake().push_pending() {
        return Ok(n);
    }
    r.sleep(timeout)?;
    Ok(0)
}
