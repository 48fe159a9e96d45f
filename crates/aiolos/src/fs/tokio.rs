//! The tokio reaper: a task that watches the ring's notification descriptor with
//! `AsyncFd` and, each time it becomes readable, collects the ready completions and wakes
//! their futures. One task per driver; the ring is shared by every worker thread.
//!
//! Readiness is cleared *before* the completions are collected, so a completion that
//! lands while the task collects signals the descriptor again and is not missed.
//!
//! # Safety
//!
//! Registering a raw descriptor with tokio is unsafe: it must stay open (and be the same
//! file) while the `AsyncFd` lives. [`Reaper`] holds the ring that owns the descriptor and
//! drops the `AsyncFd` before it.
#![allow(unsafe_code)]

use super::driver::Shared;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The ring's notification descriptor, borrowed for as long as the ring lives.
struct NotifyFd(RawFd);

impl AsRawFd for NotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Owns what the task needs. Field order matters: the `AsyncFd` is deregistered before
/// the ring (and its descriptor) can go away.
struct Reaper {
    fd: AsyncFd<NotifyFd>,
    shared: Arc<Shared>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // The runtime is shutting down (or the driver was dropped): close the ring so that
        // later requests fail instead of waiting for a reaper that is gone, wait for what
        // is in flight, and hand out what completed.
        self.shared.shut_down();
    }
}

pub(crate) fn spawn_reaper(shared: Arc<Shared>) -> io::Result<tokio::task::JoinHandle<()>> {
    let rt = tokio::runtime::Handle::try_current().map_err(|e| {
        io::Error::other(format!(
            "Driver::tokio must be called from inside a tokio runtime: {e}"
        ))
    })?;
    let raw = shared.ring.notify_fd().as_raw_fd();
    let fd = {
        let _guard = rt.enter();
        // SAFETY: `raw` is the ring's notification descriptor; the ring lives in `shared`,
        // which the Reaper below keeps, and the Reaper drops this AsyncFd first (field
        // order). NotifyFd::as_raw_fd always returns the same number.
        unsafe { AsyncFd::register_with_interest(NotifyFd(raw), Interest::READABLE)? }
    };
    Ok(rt.spawn(run(Reaper { fd, shared })))
}

async fn run(reaper: Reaper) {
    let mut batch = Vec::with_capacity(256);
    loop {
        let mut guard = match reaper.fd.readable().await {
            Ok(g) => g,
            Err(_) => return,
        };
        guard.clear_ready();
        if reaper.shared.reap_ready(&mut batch).is_err() {
            // Closed (or the engine failed): Reaper::drop hands out the rest.
            return;
        }
    }
}
