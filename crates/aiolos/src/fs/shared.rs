//! What every [`Driver`](super::Driver) handle, file and future shares: the ring (whose
//! slots keep each request's buffers and its task's waker: the fs layer has no table of
//! its own), and the hand-off with the driver's reaper.
//!
//! # Batched submission
//!
//! A future's first poll only pushes its request onto the ring's queue and marks a
//! submission as pending; it makes no system call. The reaper submits everything queued
//! in one call per pass ([`Ring::drive`]), just before it collects completions, so a burst
//! of futures that start together (typically those the previous pass woke) costs one
//! submission. The first push after a pass wakes the reaper if it sleeps: the
//! completion-thread and manual reapers sleep in `poll(2)` on the ring's notification
//! descriptor and a wake eventfd (written only while a reaper sleeps there); the tokio
//! reaper waits on the descriptor and a `tokio::sync::Notify`. A push either sees the
//! reaper asleep and wakes it, or is seen by the reaper before it sleeps (`handshake.rs`),
//! so no request stays queued while its reaper sleeps.
//!
//! # On the thread pool
//!
//! On the thread-pool engine a submission is no system call (the request joins the pool's
//! queue and an idle worker is woken), so a thread or tokio driver lets the push submit at
//! once, and the worker that finishes a request hands the completion to its future
//! itself ([`Ring::set_completion_hook`]): neither the request nor its completion waits
//! for the reaper to wake. The reaper then only collects what no worker completes (a
//! request cancelled while queued). A manual driver keeps the reaper doing both: nothing
//! runs by itself there.

use super::erased::ErasedBuf;
use super::handshake::{self, Handshake, Reaper};
use crate::error::Error;
use crate::eventfd;
use crate::ring::Ring;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How a push wakes a sleeping reaper.
pub(crate) enum Kick {
    /// The reaper sleeps in `poll(2)` on the ring's notification descriptor and `fd`.
    Fd {
        /// Written by the first push after a pass while the reaper sleeps.
        fd: OwnedFd,
    },
    /// The tokio reaper task waits on this as well as on the notification descriptor.
    #[cfg(feature = "tokio")]
    Tokio(::tokio::sync::Notify),
}

/// The state every handle, future and reaper shares.
pub(crate) struct Shared {
    /// Requests of every file on the driver; the payload is unused.
    pub(crate) ring: Ring<ErasedBuf, ()>,
    /// Pushers and the sleeping reaper (the completion thread, and any thread in
    /// [`Driver::run_once`](super::Driver::run_once)) meet here.
    handshake: Handshake,
    pub(crate) kick: Kick,
    /// Set once the driver has shut down (its ring is closed).
    closed: std::sync::atomic::AtomicBool,
    /// Pushes submit at once and the pool's workers hand out completions (see the module).
    pool_direct: bool,
}

impl Shared {
    /// The state of a driver on `ring`. With `pool_direct` and a thread-pool ring, pushes
    /// submit at once and the worker that finishes a request hands out its completion (see
    /// the module); on other engines `pool_direct` changes nothing.
    pub(crate) fn new(ring: Ring<ErasedBuf, ()>, kick: Kick, pool_direct: bool) -> Arc<Shared> {
        Arc::new_cyclic(|me: &Weak<Shared>| {
            let me = me.clone();
            // The hook holds the state weakly: the ring (inside it) owns the hook. A worker
            // whose hook ends up holding the last reference drops the ring there, which the
            // pool allows (`Ring::set_completion_hook`).
            let pool_direct = pool_direct
                && ring.set_completion_hook(move || {
                    if let Some(s) = me.upgrade() {
                        // Never leaves a completion behind: a thread holding the reaper's
                        // turn reaps once more before its turn ends.
                        let _ = s.ring.drive(Some(Duration::ZERO));
                    }
                });
            Shared {
                ring,
                handshake: Handshake::default(),
                kick,
                closed: std::sync::atomic::AtomicBool::new(false),
                pool_direct,
            }
        })
    }

    /// After a push: on the pool (see the module) submits it at once; otherwise marks a
    /// submission as pending and, if the push is the first since the reaper's last pass and
    /// the reaper sleeps, wakes it.
    pub(crate) fn pushed(&self) {
        // A submission that fails (the ring was closed meanwhile, a fork) is left to the
        // reaper, which reports the failure as for any batch.
        if self.pool_direct && self.ring.submit().is_ok() {
            return;
        }
        match &self.kick {
            Kick::Fd { fd } => self.handshake.after_push(|| {
                let _ = eventfd::signal(fd.as_fd());
            }),
            #[cfg(feature = "tokio")]
            Kick::Tokio(notify) => {
                // Only the first push of a batch needs to: later ones find it notified.
                if self.handshake.pushed() {
                    notify.notify_one();
                }
            }
        }
    }

    /// Wakes a reaper sleeping in [`Shared::turn`] (or the tokio reaper) unconditionally.
    fn kick(&self) {
        match &self.kick {
            Kick::Fd { fd, .. } => {
                let _ = eventfd::signal(fd.as_fd());
            }
            #[cfg(feature = "tokio")]
            Kick::Tokio(notify) => notify.notify_one(),
        }
    }

    /// Whether the driver has shut down.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Submits everything queued (one system call for the whole batch) and hands the
    /// completions that are ready to their futures, without blocking. Returns how many.
    pub(crate) fn submit_and_reap(&self) -> Result<usize, Error> {
        self.handshake.pass_begins();
        self.ring.drive(Some(Duration::ZERO))
    }

    /// Clears the notification descriptor, then does as [`Shared::submit_and_reap`]: a
    /// completion that lands from here on signals the descriptor again.
    pub(crate) fn reap_ready(&self) -> Result<usize, Error> {
        let _ = eventfd::drain(self.ring.notify_fd());
        self.submit_and_reap()
    }

    /// One pass of the completion thread or of [`Driver::run_once`](super::Driver::run_once):
    /// submits what futures queued and hands out what completed; when nothing did, sleeps
    /// until a completion, a push or `timeout` (forever with `None`), then does the same
    /// once more.
    pub(crate) fn turn(&self, timeout: Option<Duration>) -> Result<usize, Error> {
        // Without the tokio feature `Kick` has one variant and this always matches.
        #[allow(irrefutable_let_patterns)]
        let Kick::Fd { fd } = &self.kick
        else {
            return self.submit_and_reap();
        };
        handshake::turn(&FdReaper { shared: self, fd }, timeout)
    }

    /// Closes the ring (waiting for what is in flight, whose futures are woken with their
    /// completions) and wakes a reaper asleep, which finds the ring closed and stops.
    pub(crate) fn shut_down(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let _ = self.ring.close();
        self.kick();
    }
}

/// The driver's side of [`handshake::turn`]: a reaper that sleeps in `poll(2)` on the
/// ring's notification descriptor and the wake eventfd `fd`.
struct FdReaper<'a> {
    shared: &'a Shared,
    fd: &'a OwnedFd,
}

impl Reaper for FdReaper<'_> {
    fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }

    fn submit_and_reap(&self) -> Result<usize, Error> {
        self.shared.submit_and_reap()
    }

    fn reap_ready(&self) -> Result<usize, Error> {
        self.shared.reap_ready()
    }

    fn sleep(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let ready =
            eventfd::wait_readable([self.shared.ring.notify_fd(), self.fd.as_fd()], timeout)
                .map_err(|e| Error::Sys("poll", e))?;
        if ready[1] {
            let _ = eventfd::drain(self.fd.as_fd());
        }
        Ok(())
    }
}
