//! The thread pool that the io_uring and kernel AIO engines hand the operations they cannot
//! submit to the kernel: for kernel AIO every path and metadata operation (it has none),
//! for io_uring those the kernel's opcode probe says are missing.
//!
//! The pool is a [`Threads`] engine of its own, started on first use, so a ring that never
//! needs it costs no thread. Its completions are merged into the outer engine's: the outer
//! engine keeps a poll request on the pool's notification descriptor in the kernel (an
//! `IORING_OP_POLL_ADD`, an `IOCB_CMD_POLL`), whose completion wakes whoever waits on the
//! ring (a blocked reaper, or a task watching the ring's notification descriptor); the
//! reaper then takes the pool's completions without blocking and arms the poll again. A
//! completion that lands after the pool was emptied signals its descriptor again, and an
//! armed poll on a readable descriptor completes at once, so none is left behind.
//!
//! # Safety
//!
//! [`Helper::submit`] forwards [`Engine::submit`]'s contract: the ring keeps every
//! address of the request valid until its completion is reaped.
#![allow(unsafe_code)]

use super::threads::Threads;
use super::{Cqe, Engine, EngineCancel, Sqe};
use crate::eventfd;
use crate::sys::Errno;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// `user_data` (io_uring) or `aio_data` (kernel AIO) of the poll on the pool's descriptor.
pub(crate) const HELPER_DATA: u64 = u64::MAX - 2;

/// The pool of an io_uring or kernel AIO engine.
pub(crate) struct Helper {
    pool: OnceLock<Result<Threads, Errno>>,
    capacity: u32,
    threads: usize,
    /// Per ring slot: the request in it runs on the pool.
    on_pool: Box<[AtomicBool]>,
}

impl Helper {
    pub(crate) fn new(capacity: u32) -> Helper {
        Helper {
            pool: OnceLock::new(),
            capacity,
            threads: super::threads::default_threads().min(4),
            on_pool: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// The pool, if it has been started.
    fn started(&self) -> Option<&Threads> {
        self.pool.get().and_then(|p| p.as_ref().ok())
    }

    /// Hands one request to the pool, starting it first if needed. Returns whether it was
    /// started by this call (the caller then arms the poll on [`Helper::notify_fd`]).
    ///
    /// # Safety
    /// As [`Engine::submit`].
    pub(crate) unsafe fn submit(&self, sqe: &Sqe) -> Result<bool, Errno> {
        let mut started_now = false;
        let pool = self.pool.get_or_init(|| {
            started_now = true;
            Threads::new(self.capacity, self.threads).map_err(|e| e.errno().unwrap_or(Errno::AGAIN))
        });
        let pool = pool.as_ref().map_err(|e| *e)?;
        if let Some(flag) = self.on_pool.get(sqe.slot as usize) {
            flag.store(true, Ordering::Release);
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { pool.submit(std::slice::from_ref(sqe)) }?;
        Ok(started_now)
    }

    /// The pool's notification descriptor (once started).
    pub(crate) fn notify_fd(&self) -> Option<BorrowedFd<'_>> {
        self.started().map(|p| p.notify_fd())
    }

    /// Cancels the request in `slot` if the pool has it; `None` if it is the kernel's.
    pub(crate) fn cancel(&self, slot: u32, user_data: u64) -> Option<EngineCancel> {
        let ours = self
            .on_pool
            .get(slot as usize)
            .is_some_and(|f| f.load(Ordering::Acquire));
        if !ours {
            return None;
        }
        Some(self.started()?.cancel(slot, user_data))
    }

    /// After the poll fired: clears the pool's descriptor (the caller arms the poll again
    /// after this), then moves up to `room` of the pool's completions into `out` without
    /// blocking. Completions left behind keep the descriptor readable.
    pub(crate) fn take(&self, out: &mut Vec<Cqe>, room: usize) -> usize {
        let Some(pool) = self.started() else {
            return 0;
        };
        let _ = eventfd::drain(pool.notify_fd());
        let start = out.len();
        let _ = pool.reap(out, 0, room.max(1), Some(Duration::ZERO));
        for c in &out[start..] {
            if let Some(flag) = self.on_pool.get((c.user_data & 0xffff_ffff) as usize) {
                flag.store(false, Ordering::Release);
            }
        }
        out.len() - start
    }
}
