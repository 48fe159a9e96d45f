//! The io_uring engine: a whole batch goes to the kernel with one `io_uring_enter`,
//! completions are read from the completion queue in shared memory before any system
//! call, and a blocked reaper waits with a timeout passed through `IORING_ENTER_EXT_ARG`.
//!
//! # Setup flags
//!
//! `IORING_SETUP_COOP_TASKRUN` is used where the kernel knows it (setup is retried without
//! it on `EINVAL`): completions are not forced onto the submitting thread by an
//! interrupt, which saves an IPI and a kernel entry per batch. The cost, measured on
//! Linux 6.18: when a thread other than the submitter waits and the submitter is busy in
//! user space, a completion that needs the submitter's task work can be up to one
//! scheduler tick late (a sleeping submitter is woken at once).
//! `IORING_SETUP_SUBMIT_ALL` makes the kernel go on past a request it refuses (that
//! request completes with its own error).
//!
//! `IORING_SETUP_SINGLE_ISSUER` and `IORING_SETUP_DEFER_TASKRUN` require every submission
//! and every wait to come from one thread, while a [`Ring`](crate::Ring) normally lets any
//! thread submit, wait and cancel; so they are opt-in
//! ([`RingBuilder::single_issuer`](crate::RingBuilder::single_issuer)), with
//! `IORING_SETUP_TASKRUN_FLAG`. Completions are then posted only when the issuing thread
//! enters the kernel with `IORING_ENTER_GETEVENTS`: the kernel does no completion work in
//! interrupt context or in task work of its own, and a waiter is woken once when enough
//! completions are there rather than per completion. Every submit enters with
//! `GETEVENTS` when the kernel flags pending completion work, so a submit also collects
//! what finished meanwhile (as fio's io_uring engine does). Measured on Linux 6.18, 4 KiB
//! O_DIRECT random reads: see `docs/benchmarks.md`.
//!
//! # Reserved `user_data`
//!
//! Ring tokens are `generation << 32 | index` with `generation >= 1`, so every value
//! below `1 << 32` and the top values are free for the engine's own requests:
//! [`WAKE_DATA`] (no-ops that wake a reaper), [`CANCEL_DATA`] (the async-cancel requests,
//! whose own completions are swallowed) and `slot` (generation 0) for the linked eventfd
//! write of the request in that slot.
//!
//! # Per-request eventfd
//!
//! A request with an eventfd is submitted as a pair: the request, hard-linked
//! (`IOSQE_IO_HARDLINK`, so the link survives a failed, short or cancelled request) to an
//! `IORING_OP_WRITE` of a static `1u64` to the eventfd. The kernel signals the eventfd
//! itself, so it fires even if nobody reaps the ring. The write's completion is not
//! skipped (`IOSQE_CQE_SKIP_SUCCESS`): the engine holds the request's completion back
//! until the write has completed too, because the kernel resolves the eventfd's
//! descriptor number only when it issues the write, and the descriptor is owned by the
//! request, which the ring frees once its completion is handed back. So when a ring hands
//! back such a completion, its eventfd has already been signalled.
//!
//! # Safety
//!
//! The submission queue is written only under the `sq` mutex and the completion queue is
//! read only under the `cq` mutex (one [`SubmissionQueue`](io_uring::SubmissionQueue) and
//! one [`CompletionQueue`](io_uring::CompletionQueue) at a time, as `submission_shared`
//! and `completion_shared` require). Addresses in submitted entries come from the ring,
//! which keeps them valid until the completion is reaped; the engine's own entries name
//! only the static [`ONE`].
#![allow(unsafe_code)]

mod buffered_reads;
mod entry;
mod setup;

use super::helper::{Helper, HELPER_DATA};
use super::{Cqe, Engine, EngineCancel, EngineKind, EngineStats, Sqe};
use crate::eventfd;
use crate::op::OpCode;
use crate::sys::Errno;
use crate::sys::IoVec;
pub use buffered_reads::AsyncBuffered;
use buffered_reads::{Budget, ReadPolicy};
use entry::FdKinds;
use io_uring::{opcode, squeue, types, IoUring};
pub(crate) use setup::{ToRegister, UringOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `user_data` of the no-ops that wake a blocked reaper.
const WAKE_DATA: u64 = u64::MAX;
/// `user_data` of async-cancel requests; their own completions are swallowed.
const CANCEL_DATA: u64 = u64::MAX - 1;
/// The largest submission queue the engine asks for; bigger batches go in several calls.
const MAX_SQ_ENTRIES: u32 = 4096;
/// Submission-queue entries kept beyond the ring's capacity for wakes and cancels.
const SQ_RESERVE: u32 = 8;
/// The largest single read or write the kernel performs (`MAX_RW_COUNT`).
const MAX_RW: u64 = 0x7fff_f000;

/// What the linked eventfd writes add to the counter.
static ONE: u64 = 1;

/// What the submitting side keeps under the `sq` lock.
struct SqState {
    policy: ReadPolicy,
    fds: FdKinds,
}

/// Where a request with a linked eventfd write stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Idle,
    /// The request completed (`user_data`, result); its eventfd write has not.
    Head(u64, i64),
    /// The eventfd write completed before the request's own completion was seen.
    WriteDone,
}

struct CqState {
    links: Vec<Link>,
}

/// Which of the operations beyond reads, writes, syncs and polls this kernel's io_uring
/// has (its opcode probe); the others go to the engine's [`Helper`] pool.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KernelOps(u32);

impl KernelOps {
    const PROBED: [(OpCode, u8); 9] = [
        (OpCode::OpenAt, opcode::OpenAt::CODE),
        (OpCode::Statx, opcode::Statx::CODE),
        (OpCode::UnlinkAt, opcode::UnlinkAt::CODE),
        (OpCode::RenameAt, opcode::RenameAt::CODE),
        (OpCode::MkdirAt, opcode::MkDirAt::CODE),
        (OpCode::LinkAt, opcode::LinkAt::CODE),
        (OpCode::SymlinkAt, opcode::SymlinkAt::CODE),
        (OpCode::Fallocate, opcode::Fallocate::CODE),
        (OpCode::Ftruncate, opcode::Ftruncate::CODE),
    ];

    /// Asks the kernel (`IORING_REGISTER_PROBE`); nothing is assumed from its version.
    fn probe(ring: &IoUring) -> KernelOps {
        let mut probe = io_uring::Probe::new();
        if ring.submitter().register_probe(&mut probe).is_err() {
            return KernelOps(0);
        }
        let mut bits = 0;
        for (i, (_, code)) in Self::PROBED.iter().enumerate() {
            if probe.is_supported(*code) {
                bits |= 1 << i;
            }
        }
        KernelOps(bits)
    }

    /// Whether the kernel takes `op` (reads, writes, syncs, polls and no-ops always).
    fn has(self, op: OpCode) -> bool {
        match Self::PROBED.iter().position(|(o, _)| *o == op) {
            Some(i) => self.0 & (1 << i) != 0,
            None => true,
        }
    }
}

pub(crate) struct Uring {
    ring: IoUring,
    /// Operations this kernel's io_uring has.
    kernel_ops: KernelOps,
    /// Runs what the kernel's io_uring cannot.
    helper: Helper,
    sq: Mutex<SqState>,
    cq: Mutex<CqState>,
    /// Registered with `IORING_REGISTER_EVENTFD`: the kernel signals it per completion.
    notify: OwnedFd,
    /// Whether the request in each slot carries a linked eventfd write.
    linked: Box<[AtomicBool]>,
    /// Set by `wake`, consumed by the reaper.
    woken: AtomicBool,
    /// Completions the blocked reaper asked the kernel for (0 when nobody waits).
    waiting_for: AtomicUsize,
    sqpoll: bool,
    /// Set up with `IORING_SETUP_DEFER_TASKRUN` (and `SINGLE_ISSUER`): completions are
    /// posted only when the issuing thread enters with `GETEVENTS`.
    deferred: bool,
    /// [`crate::sys::fork_generation`] at creation. The rings' memory and descriptor are
    /// shared with a fork child, so a child must never touch them: a cancel or wake from
    /// it would act on the parent's requests.
    fork_generation: u64,
    submit_syscalls: AtomicU64,
    reap_syscalls: AtomicU64,
    reaped_in_memory: AtomicU64,
    punted_reads: AtomicU64,
    /// Registered files: (descriptor, index in the table), sorted by descriptor. The
    /// descriptors stay open (`_files`) while the ring lives, so no other file can take
    /// their numbers.
    fixed_files: Vec<(RawFd, u32)>,
    _files: Vec<crate::Fd>,
    /// The registered buffer pool: kept alive for as long as the ring (and its kernel
    /// registration) exists.
    fixed_bufs: Option<std::sync::Arc<crate::buf::fixed::Region>>,
    registration: super::Registration,
}

fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::INVAL, Errno)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state consistent before anything can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Uring {
    /// Whether this is a fork child of the process that created the ring.
    fn forked(&self) -> bool {
        crate::sys::fork_generation() != self.fork_generation
    }

    /// Enters the kernel to submit what is in the submission queue. Called with the `sq`
    /// lock held. Requests already in the queue stay there if this fails; the next enter
    /// (a submit, a wake, or a reaper's wait) takes them.
    fn enter_submit(&self, need_wakeup: bool) {
        if !self.sqpoll || need_wakeup {
            self.submit_syscalls.fetch_add(1, Ordering::Relaxed);
        }
        loop {
            match self.ring.submit() {
                Err(e) if errno_of(&e) == Errno::INTR => continue,
                _ => break,
            }
        }
    }

    /// Puts internal entries in the submission queue and submits them. Returns how many
    /// were queued.
    fn push_internal(&self, entries: &[squeue::Entry]) -> usize {
        let _g = lock(&self.sq);
        let mut done = 0;
        for _attempt in 0..64 {
            // SAFETY: the sq lock is held, so this is the only SubmissionQueue.
            let mut sq = unsafe { self.ring.submission_shared() };
            while done < entries.len() && !sq.is_full() {
                // SAFETY: internal entries name no memory (no-op, cancel by user_data).
                if unsafe { sq.push(&entries[done]) }.is_err() {
                    break;
                }
                done += 1;
            }
            sq.sync();
            let need_wakeup = sq.need_wakeup();
            drop(sq);
            self.enter_submit(need_wakeup);
            if done == entries.len() {
                break;
            }
            if self.sqpoll {
                // The kernel thread has not consumed the queue yet: wait for room.
                let _ = self.ring.submitter().squeue_wait();
            }
        }
        done
    }

    /// Moves completions from the completion queue into `out` (at most `room` ring
    /// completions). Returns how many ring completions were added.
    fn drain(&self, st: &mut CqState, out: &mut Vec<Cqe>, room: usize) -> usize {
        let mut added = 0;
        let mut helper_fired = false;
        // SAFETY: the cq lock is held (st borrows from it), so this is the only
        // CompletionQueue.
        let mut cq = unsafe { self.ring.completion_shared() };
        while added < room {
            let Some(c) = cq.next() else { break };
            let user_data = c.user_data();
            let res = i64::from(c.result());
            if user_data == WAKE_DATA || user_data == CANCEL_DATA {
                continue;
            }
            if user_data == HELPER_DATA {
                helper_fired = true;
                continue;
            }
            if user_data >> 32 == 0 {
                // A linked eventfd write: `user_data` is the slot.
                let Some(link) = st.links.get_mut(user_data as usize) else {
                    continue;
                };
                match *link {
                    Link::Head(ud, r) => {
                        *link = Link::Idle;
                        out.push(Cqe {
                            user_data: ud,
                            res: r,
                        });
                        added += 1;
                    }
                    _ => *link = Link::WriteDone,
                }
                continue;
            }
            let slot = (user_data & 0xffff_ffff) as usize;
            let linked = self
                .linked
                .get(slot)
                .is_some_and(|l| l.load(Ordering::Acquire));
            if linked {
                if let Some(link) = st.links.get_mut(slot) {
                    if *link == Link::WriteDone {
                        *link = Link::Idle;
                    } else {
                        *link = Link::Head(user_data, res);
                        continue;
                    }
                }
            }
            out.push(Cqe { user_data, res });
            added += 1;
        }
        cq.sync();
        drop(cq);
        if helper_fired {
            // Clear and collect, then arm again: a completion from here on fires the poll.
            added += self.helper.take(out, room.saturating_sub(added));
            if let Some(fd) = self.helper.notify_fd() {
                self.push_internal(&[Self::helper_poll(fd.as_raw_fd())]);
            }
        }
        added
    }

    /// The one-shot poll on the helper pool's notification descriptor.
    fn helper_poll(fd: RawFd) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(fd), rustix::event::PollFlags::IN.bits() as u32)
            .build()
            .user_data(HELPER_DATA)
    }
}

impl Engine for Uring {
    fn kind(&self) -> EngineKind {
        EngineKind::Uring
    }

    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno> {
        if self.forked() {
            return Err(Errno::AGAIN);
        }
        let mut g = lock(&self.sq);
        let SqState { policy, fds } = &mut *g;
        // SAFETY: the sq lock is held, so this is the only SubmissionQueue.
        let mut sq = unsafe { self.ring.submission_shared() };
        let mut n = 0;
        // The plan for this batch's buffered reads, chosen at the first of them.
        let mut plan = None;
        let (mut reads, mut bytes) = (0u32, 0u64);
        for s in sqes {
            let room = sq.capacity() - sq.len();
            if !self.kernel_ops.has(s.op) {
                // The pool's first request also arms the poll on its descriptor.
                if room < 1 {
                    break;
                }
                if let Some(l) = self.linked.get(s.slot as usize) {
                    l.store(false, Ordering::Release);
                }
                // SAFETY: the caller's contract, forwarded to the pool.
                match unsafe { self.helper.submit(s) } {
                    Ok(true) => {
                        if let Some(fd) = self.helper.notify_fd() {
                            // SAFETY: a poll names no memory.
                            let _ = unsafe { sq.push(&Self::helper_poll(fd.as_raw_fd())) };
                        }
                    }
                    Ok(false) => {}
                    Err(e) if n == 0 => return Err(e),
                    Err(_) => break,
                }
                n += 1;
                continue;
            }
            let mut entry = self.entry(s);
            // Whether this is a buffered read, and if so whether it is punted.
            let mut buffered_read = None;
            if policy.mode() != AsyncBuffered::Never
                && matches!(s.op, OpCode::Read | OpCode::Readv)
                && fds.buffered(s.fd)
            {
                let p = *plan.get_or_insert_with(|| policy.plan());
                if p.punts() {
                    entry = entry.flags(squeue::Flags::ASYNC);
                }
                buffered_read = Some(p.punts());
            }
            let linked = self.linked.get(s.slot as usize);
            let pushed = match s.resfd {
                Some(resfd) if room >= 2 => {
                    if let Some(l) = linked {
                        l.store(true, Ordering::Release);
                    }
                    let pair = [
                        entry.flags(squeue::Flags::IO_HARDLINK),
                        Self::eventfd_write(resfd, s.slot),
                    ];
                    // SAFETY: the caller guarantees the request's buffers stay valid until
                    // its completion is reaped; the linked write reads the static ONE.
                    unsafe { sq.push_multiple(&pair) }.is_ok()
                }
                None if room >= 1 => {
                    if let Some(l) = linked {
                        l.store(false, Ordering::Release);
                    }
                    // SAFETY: as above.
                    unsafe { sq.push(&entry) }.is_ok()
                }
                _ => false,
            };
            if !pushed {
                break;
            }
            match buffered_read {
                Some(true) => {
                    self.punted_reads.fetch_add(1, Ordering::Relaxed);
                }
                Some(false) => {
                    reads += 1;
                    // SAFETY: the caller guarantees the iovec table of a readv stays
                    // valid until its completion is reaped.
                    bytes = bytes.saturating_add(unsafe { Self::read_len(s) });
                }
                None => {}
            }
            n += 1;
        }
        if n == 0 {
            return Err(Errno::AGAIN);
        }
        sq.sync();
        let need_wakeup = sq.need_wakeup();
        drop(sq);
        // The entries are in the shared queue now and cannot be taken back: even if this
        // enter fails, the next one submits them, so they count as accepted.
        match plan {
            Some(p) if p.measures() && reads > 0 && policy.mode() == AsyncBuffered::Auto => {
                let t0 = Instant::now();
                self.enter_submit(need_wakeup);
                let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                policy.observe(p, reads, bytes, ns);
            }
            _ => self.enter_submit(need_wakeup),
        }
        Ok(n)
    }

    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        if self.forked() {
            return Err(Errno::PERM);
        }
        let mut st = lock(&self.cq);
        let max = max.max(1);
        let target = min.max(1).min(max);
        let start = out.len();
        let deadline = timeout.map(|t| Instant::now() + t);
        // Shared memory first: no system call when completions are already there.
        let n = self.drain(&mut st, out, max);
        self.reaped_in_memory.fetch_add(n as u64, Ordering::Relaxed);
        if self.deferred && n < target && timeout == Some(Duration::ZERO) {
            // Deferred completions reach the queue only through an enter with GETEVENTS;
            // the kernel flags (IORING_SQ_TASKRUN) when there are some, and `submit` then
            // enters with GETEVENTS and nothing to wait for.
            let pending = {
                let _g = lock(&self.sq);
                // SAFETY: the sq lock is held, so this is the only SubmissionQueue.
                unsafe { self.ring.submission_shared() }.taskrun()
            };
            if pending {
                self.reap_syscalls.fetch_add(1, Ordering::Relaxed);
                let _ = self.ring.submit();
                let room = max - (out.len() - start);
                self.drain(&mut st, out, room);
            }
        }
        loop {
            let got = out.len() - start;
            if got >= target || timeout == Some(Duration::ZERO) {
                return Ok(());
            }
            if self.woken.swap(false, Ordering::SeqCst) {
                return Ok(());
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Ok(());
            }
            // Ask the kernel for no more than a wake can supply in one batch of no-ops.
            let want = (target - got).min(MAX_SQ_ENTRIES as usize / 2);
            self.waiting_for.store(want, Ordering::SeqCst);
            // A wake that came before `waiting_for` was published must not be lost: it
            // set `woken` first, so look again.
            if self.woken.swap(false, Ordering::SeqCst) {
                self.waiting_for.store(0, Ordering::SeqCst);
                return Ok(());
            }
            let ts = remaining.map(types::Timespec::from);
            let args = match &ts {
                Some(ts) => types::SubmitArgs::new().timespec(ts),
                None => types::SubmitArgs::new(),
            };
            self.reap_syscalls.fetch_add(1, Ordering::Relaxed);
            let r = self.ring.submitter().submit_with_args(want, &args);
            self.waiting_for.store(0, Ordering::SeqCst);
            match r {
                Ok(_) => {}
                Err(e) => match errno_of(&e) {
                    Errno::TIME | Errno::INTR | Errno::BUSY | Errno::AGAIN => {}
                    other => return Err(other),
                },
            }
            let room = max - (out.len() - start);
            self.drain(&mut st, out, room);
        }
    }

    fn cancel(&self, slot: u32, user_data: u64) -> EngineCancel {
        if self.forked() {
            return EngineCancel::NotCancellable;
        }
        if let Some(c) = self.helper.cancel(slot, user_data) {
            return c;
        }
        let entry = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(CANCEL_DATA);
        if self.push_internal(&[entry]) == 1 {
            // The target completes once, with ECANCELED or its real result.
            EngineCancel::Requested
        } else {
            EngineCancel::NotCancellable
        }
    }

    fn wake(&self) {
        if self.forked() {
            return;
        }
        self.woken.store(true, Ordering::SeqCst);
        // The kernel returns from a wait once it has as many completions as were asked
        // for, so post that many no-ops (they complete during this enter).
        let n = self.waiting_for.load(Ordering::SeqCst).max(1);
        let nop = opcode::Nop::new().build().user_data(WAKE_DATA);
        let entries = vec![nop; n];
        self.push_internal(&entries);
    }

    fn notify_fd(&self) -> BorrowedFd<'_> {
        self.notify.as_fd()
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            submit_syscalls: self.submit_syscalls.load(Ordering::Relaxed),
            reap_syscalls: self.reap_syscalls.load(Ordering::Relaxed),
            reaped_without_syscall: self.reaped_in_memory.load(Ordering::Relaxed),
            punted_reads: self.punted_reads.load(Ordering::Relaxed),
            run_by_waiter: 0,
        }
    }

    fn single_thread(&self) -> bool {
        self.deferred
    }

    fn registration(&self) -> super::Registration {
        self.registration.clone()
    }
}

// These talk to the kernel, which Miri cannot emulate.

#[cfg(all(test, not(miri)))]
mod tests;
