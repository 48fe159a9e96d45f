//! The kernel AIO engine: `io_submit` for a whole batch, completions read from the
//! context's ring in shared memory before any `io_getevents`.
//!
//! Kernel AIO is only truly asynchronous for O_DIRECT; on buffered files `io_submit`
//! performs the I/O before it returns. The engine choice in [`super`] routes buffered
//! requests elsewhere when the caller asks for that.
//!
//! # Safety
//!
//! The engine keeps one `iocb` per in-flight slot, at a fixed address, because the kernel
//! identifies a request to `io_cancel` by the address it was submitted from. A slot's iocb
//! is written only in `submit`, under the `scratch` lock (the ring calls `submit` without
//! its own table lock, one submitter at a time), and read by the kernel and by `cancel`,
//! which takes the `scratch` lock too; the ring never reuses a slot before its completion
//! is reaped.
#![allow(unsafe_code)]

use super::helper::{Helper, HELPER_DATA};
use super::{Cqe, Engine, EngineCancel, EngineKind, EngineStats, Sqe};
use crate::eventfd;
use crate::op::OpCode;
use crate::sys::aio::{self, AioContext, IoEvent, Iocb};
use crate::sys::Errno;
use rustix::event::PollFlags;
use std::cell::UnsafeCell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `user_data` of the internal poll request that wakes a blocked reaper.
const WAKE_DATA: u64 = u64::MAX;

pub(crate) struct Native {
    ctx: AioContext,
    /// The ring's capacity: iocb `capacity` is the wake poll's, `capacity + 1` the
    /// helper poll's.
    capacity: usize,
    /// Runs what kernel AIO cannot: every path and metadata operation.
    helper: Helper,
    iocbs: Box<[UnsafeCell<Iocb>]>,
    notify: OwnedFd,
    wake: OwnedFd,
    scratch: Mutex<Scratch>,
    /// Completions made without the kernel (no-ops).
    local: Mutex<Vec<Cqe>>,
    submit_syscalls: AtomicU64,
    reap_syscalls: AtomicU64,
    reaped_in_memory: AtomicU64,
}

#[derive(Default)]
struct Scratch {
    ptrs: Vec<*mut Iocb>,
    events: Vec<IoEvent>,
}

// SAFETY: the raw iocb pointers in Scratch are only used inside submit under the mutex and
// point into this engine's own iocb table.
unsafe impl Send for Scratch {}

// SAFETY: the iocb cells are written only by the thread submitting that slot (serialised by
// the ring) and never while the kernel may reread them (io_submit copies the iocb); all
// other state is atomics, a mutex, or immutable after construction.
unsafe impl Sync for Native {}

impl Native {
    /// Creates a context for `capacity` requests (plus one internal wake request).
    pub(crate) fn new(capacity: u32) -> Result<Native, crate::Error> {
        // Two events more than asked for, for the internal wake poll and the poll on the
        // helper pool's descriptor; the error names the number the caller asked for.
        let ctx = aio::io_setup(capacity.saturating_add(2))
            .map_err(|e| crate::Error::io_setup_for(e, capacity))?;
        let make =
            || -> Result<(OwnedFd, OwnedFd), Errno> { Ok((eventfd::new()?, eventfd::new()?)) };
        let (notify, wake) = match make() {
            Ok(fds) => fds,
            Err(e) => {
                let _ = aio::io_destroy(ctx);
                return Err(crate::Error::Sys("eventfd", e));
            }
        };
        let iocbs = (0..capacity.saturating_add(2))
            .map(|_| UnsafeCell::new(Iocb::default()))
            .collect();
        let engine = Native {
            ctx,
            capacity: capacity as usize,
            helper: Helper::new(capacity),
            iocbs,
            notify,
            wake,
            scratch: Mutex::new(Scratch::default()),
            local: Mutex::new(Vec::new()),
            submit_syscalls: AtomicU64::new(0),
            reap_syscalls: AtomicU64::new(0),
            reaped_in_memory: AtomicU64::new(0),
        };
        engine
            .arm_wake()
            .map_err(|e| crate::Error::Sys("io_submit (wake poll)", e))?;
        Ok(engine)
    }

    fn wake_slot(&self) -> usize {
        self.capacity
    }

    /// Submits the poll on the helper pool's descriptor; its completion signals the
    /// ring's notification descriptor too.
    fn arm_helper(&self) -> Result<(), Errno> {
        let Some(fd) = self.helper.notify_fd() else {
            return Ok(());
        };
        let iocb = self.iocbs[self.capacity + 1].get();
        // SAFETY: the helper slot is used only here, by the first submit to the pool and
        // then by the reaper after the previous poll completed.
        unsafe {
            *iocb = Iocb {
                aio_data: HELPER_DATA,
                aio_lio_opcode: aio::IOCB_CMD_POLL,
                aio_fildes: fd.as_raw_fd() as u32,
                aio_buf: PollFlags::IN.bits() as u64,
                aio_flags: aio::IOCB_FLAG_RESFD,
                aio_resfd: self.notify.as_raw_fd() as u32,
                ..Iocb::default()
            };
        }
        // SAFETY: the iocb lives in self.iocbs for the engine's lifetime; a poll names no buffer.
        let n = unsafe { aio::io_submit(self.ctx, &[iocb]) }?;
        if n == 1 {
            Ok(())
        } else {
            Err(Errno::AGAIN)
        }
    }

    /// Whether kernel AIO cannot take `op` (the helper pool runs it).
    fn pooled(op: OpCode) -> bool {
        !matches!(
            op,
            OpCode::Read
                | OpCode::Write
                | OpCode::Readv
                | OpCode::Writev
                | OpCode::Fsync
                | OpCode::Fdatasync
                | OpCode::Poll
                | OpCode::Nop
        )
    }

    /// Submits the internal poll on the wake eventfd.
    fn arm_wake(&self) -> Result<(), Errno> {
        let slot = self.wake_slot();
        let iocb = self.iocbs[slot].get();
        // SAFETY: the wake slot is used only here and by the reaper that re-arms it after its
        // previous poll completed, so nobody else touches this iocb now.
        unsafe {
            *iocb = Iocb {
                aio_data: WAKE_DATA,
                aio_lio_opcode: aio::IOCB_CMD_POLL,
                aio_fildes: self.wake.as_raw_fd() as u32,
                aio_buf: PollFlags::IN.bits() as u64,
                ..Iocb::default()
            };
        }
        // SAFETY: the iocb lives in self.iocbs for the engine's lifetime; a poll names no buffer.
        let n = unsafe { aio::io_submit(self.ctx, &[iocb]) }?;
        if n == 1 {
            Ok(())
        } else {
            Err(Errno::AGAIN)
        }
    }

    fn fill_iocb(&self, sqe: &Sqe) -> *mut Iocb {
        let (opcode, buf, nbytes) = match sqe.op {
            OpCode::Read => (aio::IOCB_CMD_PREAD, sqe.addr, sqe.len),
            OpCode::Write => (aio::IOCB_CMD_PWRITE, sqe.addr, sqe.len),
            OpCode::Readv => (aio::IOCB_CMD_PREADV, sqe.addr, sqe.len),
            OpCode::Writev => (aio::IOCB_CMD_PWRITEV, sqe.addr, sqe.len),
            OpCode::Fsync => (aio::IOCB_CMD_FSYNC, 0, 0),
            OpCode::Fdatasync => (aio::IOCB_CMD_FDSYNC, 0, 0),
            OpCode::Poll => (aio::IOCB_CMD_POLL, sqe.len, 0),
            // Never submitted: no-ops complete locally and the rest go to the pool.
            _ => (aio::IOCB_CMD_NOOP, 0, 0),
        };
        let (resfd, mut flags) = match sqe.resfd {
            Some(fd) => (fd as u32, aio::IOCB_FLAG_RESFD),
            None => (self.notify.as_raw_fd() as u32, aio::IOCB_FLAG_RESFD),
        };
        let mut prio = 0i16;
        if let Some(p) = sqe.ioprio {
            flags |= aio::IOCB_FLAG_IOPRIO;
            prio = p as i16;
        }
        let iocb = self.iocbs[sqe.slot as usize].get();
        // SAFETY: the ring gives each in-flight request its own slot; this slot's previous
        // request has been reaped, so the kernel no longer refers to this iocb.
        unsafe {
            *iocb = Iocb {
                aio_data: sqe.user_data,
                aio_rw_flags: sqe.rw_flags,
                aio_lio_opcode: opcode,
                aio_reqprio: prio,
                aio_fildes: sqe.fd as u32,
                aio_buf: buf,
                aio_nbytes: nbytes,
                aio_offset: sqe.offset as i64,
                aio_flags: flags,
                aio_resfd: resfd,
                ..Iocb::default()
            };
        }
        iocb
    }

    /// Moves events into `out`, re-arming the wake poll if it fired. Returns whether the
    /// wake request was among them.
    fn take_events(&self, events: &[IoEvent], out: &mut Vec<Cqe>) -> bool {
        let mut woken = false;
        for ev in events {
            if ev.data == HELPER_DATA {
                // Clear and collect, then arm again: a later completion fires it anew.
                self.helper.take(out, usize::MAX);
                let _ = self.arm_helper();
                woken = true;
                continue;
            }
            if ev.data == WAKE_DATA {
                woken = true;
                let _ = eventfd::drain(self.wake.as_fd());
                // If re-arming fails the reaper still returns; later wakes fall back to
                // the reap timeout chosen by the ring.
                let _ = self.arm_wake();
            } else {
                out.push(Cqe {
                    user_data: ev.data,
                    res: ev.res,
                });
            }
        }
        woken
    }
}

/// Whether `op` reads or writes data.
fn rw(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Read | OpCode::Write | OpCode::Readv | OpCode::Writev
    )
}

impl Engine for Native {
    fn kind(&self) -> EngineKind {
        EngineKind::Native
    }

    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno> {
        // Kernel AIO has no working no-op command (IOCB_CMD_NOOP is refused), so no-ops
        // complete here; the batch is split at them.
        let pooled = sqes.iter().take_while(|s| Self::pooled(s.op)).count();
        if pooled > 0 {
            for (i, s) in sqes[..pooled].iter().enumerate() {
                // SAFETY: the caller's contract, forwarded to the pool.
                match unsafe { self.helper.submit(s) } {
                    Ok(true) => self.arm_helper()?,
                    Ok(false) => {}
                    Err(e) if i == 0 => return Err(e),
                    Err(_) => return Ok(i),
                }
            }
            return Ok(pooled);
        }
        let nops = sqes.iter().take_while(|s| s.op == OpCode::Nop).count();
        if nops > 0 {
            let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
            local.extend(sqes[..nops].iter().map(|s| Cqe {
                user_data: s.user_data,
                res: 0,
            }));
            drop(local);
            let _ = eventfd::signal(self.notify.as_fd());
            self.wake();
            return Ok(nops);
        }
        let end = sqes
            .iter()
            .position(|s| s.op == OpCode::Nop || Self::pooled(s.op))
            .unwrap_or(sqes.len());
        let sqes = &sqes[..end];
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        scratch.ptrs.clear();
        for sqe in sqes {
            let p = self.fill_iocb(sqe);
            scratch.ptrs.push(p);
        }
        self.submit_syscalls.fetch_add(1, Ordering::Relaxed);
        // SAFETY: each pointer names an iocb in our table; the caller guarantees that the
        // buffers they name stay valid until their completions are reaped.
        let submitted = unsafe { aio::io_submit(self.ctx, &scratch.ptrs) };
        drop(scratch);
        match submitted {
            // Kernel AIO reads and writes only files whose driver has `read_iter` and
            // `write_iter`, and refuses the others with EINVAL before it looks further:
            // directories, and many procfs files and devices (`/proc/kallsyms`,
            // `/proc/self/status`, `/dev/kmsg`). The pool does what read(2) and write(2) do
            // with them, as the other engines answer (the data, or EISDIR for a
            // directory), and gives back EINVAL itself where the request is at fault. The
            // iocb in the request's slot was refused, so the kernel holds nothing of it.
            Err(Errno::INVAL) if rw(sqes[0].op) => {
                // SAFETY: the caller's contract, forwarded to the pool.
                if unsafe { self.helper.submit(&sqes[0]) }? {
                    self.arm_helper()?;
                }
                Ok(1)
            }
            r => r,
        }
    }

    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let want = max.max(1);
        scratch.events.resize(want, IoEvent::default());
        let start = out.len();
        out.append(&mut self.local.lock().unwrap_or_else(|e| e.into_inner()));
        // Shared memory first: no system call when completions are already there.
        // SAFETY: the context is live until Drop, and the ring lets only one thread reap.
        let n = unsafe { aio::ring_reap(self.ctx, &mut scratch.events[..want]) };
        self.reaped_in_memory.fetch_add(n as u64, Ordering::Relaxed);
        let events = std::mem::take(&mut scratch.events);
        let woken = self.take_events(&events[..n], out);
        scratch.events = events;
        if woken || out.len() - start >= min.max(1) || timeout == Some(Duration::ZERO) {
            return Ok(());
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        // Block without holding the scratch lock: submitters must be able to proceed.
        let mut events = std::mem::take(&mut scratch.events);
        drop(scratch);
        let got = out.len() - start;
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.reap_syscalls.fetch_add(1, Ordering::Relaxed);
        let room = want - got;
        let r = aio::io_getevents(
            self.ctx,
            min.saturating_sub(got).max(1),
            &mut events[..room],
            remaining,
        );
        let result = match r {
            Ok(n) => {
                self.take_events(&events[..n], out);
                Ok(())
            }
            Err(Errno::INTR) => Ok(()),
            Err(e) => Err(e),
        };
        self.scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events = events;
        result
    }

    fn cancel(&self, slot: u32, user_data: u64) -> EngineCancel {
        if let Some(c) = self.helper.cancel(slot, user_data) {
            return c;
        }
        let iocb = self.iocbs[slot as usize].get();
        // The ring may be handing this very slot to `submit` right now (it marks a batch in
        // flight, then submits without its lock): the scratch lock orders this read after
        // that write, or before it (then the iocb still names the slot's previous request,
        // whose user_data differs).
        let submitted = {
            let _g = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: reading our own iocb's aio_data under the scratch lock, which every
            // write to it holds.
            unsafe { (*iocb).aio_data }
        };
        if submitted != user_data {
            return EngineCancel::NotCancellable;
        }
        let mut ev = IoEvent::default();
        // SAFETY: iocb is the address this request was submitted from.
        match unsafe { aio::io_cancel(self.ctx, iocb, &mut ev) } {
            // Cancellation started (poll): the completion arrives through the ring.
            Ok(()) | Err(Errno::INPROGRESS) => EngineCancel::Requested,
            Err(_) => EngineCancel::NotCancellable,
        }
    }

    fn wake(&self) {
        let _ = eventfd::signal(self.wake.as_fd());
    }

    fn notify_fd(&self) -> BorrowedFd<'_> {
        self.notify.as_fd()
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            submit_syscalls: self.submit_syscalls.load(Ordering::Relaxed),
            reap_syscalls: self.reap_syscalls.load(Ordering::Relaxed),
            reaped_without_syscall: self.reaped_in_memory.load(Ordering::Relaxed),
            punted_reads: 0,
            run_by_waiter: 0,
        }
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        // io_destroy waits for every request still in flight (the ring already waited for
        // its own) and releases the internal wake poll.
        let _ = aio::io_destroy(self.ctx);
    }
}
