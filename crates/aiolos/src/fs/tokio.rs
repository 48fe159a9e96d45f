//! The tokio reaper: a task that watches the ring's notification descriptor with
//! `AsyncFd` and, each time it becomes readable, collects the ready completions and wakes
//! their futures. One task per driver; the ring is shared by every worker thread.
//!
//! Readiness is cleared *before* the completions are collected, so a completion that
//! lands while the task collects signals the descriptor again and is not missed.
//!
//! The task also submits: futures only queue their requests and notify it (once per
//! batch). (On the thread pool of a multi-thread runtime the futures submit and the
//! pool's workers hand out completions, see `shared.rs`; the task then only collects what
//! no worker completes.) Each pass submits everything queued and collects what is ready; after a pass
//! that handed out completions the task yields, and tokio runs a yielded task again only
//! once the worker's queue of ready tasks is empty, so the futures it woke all get to
//! queue their next request before the next pass submits them together.
//!
//! # Safety
//!
//! Registering a raw descriptor with tokio is unsafe: it must stay open (and be the same
//! file) while the `AsyncFd` lives. [`Reaper`] holds the ring that owns the descriptor and
//! drops the `AsyncFd` before it.
#![allow(unsafe_code)]

use super::shared::{Kick, Shared};
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
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

/// The tokio driver of the runtime the caller runs in (see `Driver::default_driver`), made
/// on first use; `None` outside a runtime, or in one without I/O enabled.
pub(crate) fn runtime_driver() -> Option<super::Driver> {
    use std::cell::RefCell;
    use std::sync::Mutex;
    use tokio::runtime::Id;
    /// Each runtime's driver (`None`: the runtime cannot host one), pruned of runtimes
    /// that are gone whenever one is added.
    static DRIVERS: Mutex<Vec<(Id, Option<super::Driver>)>> = Mutex::new(Vec::new());
    thread_local! {
        static LAST: RefCell<Option<(Id, super::Driver)>> = const { RefCell::new(None) };
    }
    let id = tokio::runtime::Handle::try_current().ok()?.id();
    let hit = LAST.with(|l| match &*l.borrow() {
        Some((i, d)) if *i == id && !d.is_closed() => Some(d.clone()),
        _ => None,
    });
    if hit.is_some() {
        return hit;
    }
    let d = {
        let mut all = DRIVERS.lock().unwrap_or_else(|e| e.into_inner());
        match all.iter().find(|(i, _)| *i == id) {
            Some((_, d)) if d.as_ref().is_none_or(|d| !d.is_closed()) => d.clone(),
            _ => {
                all.retain(|(i, d)| *i != id && d.as_ref().is_some_and(|d| !d.is_closed()));
                let d = super::Driver::builder().build_tokio().ok();
                all.push((id, d.clone()));
                d
            }
        }
    }?;
    LAST.with(|l| *l.borrow_mut() = Some((id, d.clone())));
    Some(d)
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
        // tokio panics (rather than fail) when the runtime has no I/O driver: turn that
        // into an error (the panic message is still printed by the panic hook).
        std::panic::catch_unwind(|| {
            // SAFETY: `raw` is the ring's notification descriptor; the ring lives in
            // `shared`, which the Reaper below keeps, and the Reaper drops this AsyncFd
            // first (field order). NotifyFd::as_raw_fd always returns the same number.
            unsafe { AsyncFd::register_with_interest(NotifyFd(raw), Interest::READABLE) }
        })
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the tokio runtime has no I/O driver: build it with enable_io() (or \
                 enable_all())",
            )
        })??
    };
    Ok(rt.spawn(run(Reaper { fd, shared })))
}

async fn run(reaper: Reaper) {
    let Kick::Tokio(notify) = &reaper.shared.kick else {
        unreachable!("a tokio driver's shared state has a tokio kick")
    };
    loop {
        match reaper.shared.submit_and_reap() {
            // Closed (or the engine failed): Reaper::drop hands out the rest.
            Err(_) => return,
            Ok(n) if n > 0 => {
                // Let the woken futures run (and queue their next requests) first.
                tokio::task::yield_now().await;
                continue;
            }
            Ok(_) => {}
        }
        // Nothing ready: sleep until a completion signals the descriptor or a future
        // queues a request (a notification sent since the last pass is kept as a permit).
        let mut notified = pin!(notify.notified());
        let readable = poll_fn(|cx| {
            if notified.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(false));
            }
            match reaper.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    guard.clear_ready();
                    Poll::Ready(Ok(true))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match readable {
            Ok(true) => {
                let _ = crate::eventfd::drain(reaper.shared.ring.notify_fd());
            }
            Ok(false) => {}
            Err(_) => return,
        }
    }
}
