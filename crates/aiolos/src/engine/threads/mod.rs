//! The thread-pool engine: a bounded pool of workers running `preadv2`/`pwritev2`,
//! `fsync`, `fdatasync` and `poll` on behalf of the ring. It needs nothing but threads
//! and positional I/O, so it is the fallback where io_uring is denied, and it never
//! blocks the submitting thread, buffered or not.
//!
//! - `submit` pushes the whole batch onto the job queue under one lock and wakes one
//!   sleeping worker, if any sleeps; a worker that takes a job while more wait wakes the
//!   next one. Sleepers are woken last-in first-out, each on a condition variable of its
//!   own: the worker that went idle last (its stack and cache still warm) gets the next
//!   job, so a light load keeps running on the same one or two threads instead of
//!   rotating through the whole pool (with one shared condition variable the futex woke
//!   the longest sleeper: at queue depth 1 every request ran on another cold thread).
//!   No system call is made to submit: [`EngineStats::submit_syscalls`] counts the
//!   submits that had to wake a sleeping worker (a futex wake), and is 0 while the pool
//!   is busy.
//! - A worker runs one request at a time. When it is done it takes the job queue's lock
//!   once, both to forget the finished request and to take its next one, then appends the
//!   completion to the completion queue and signals the request's own eventfd (a worker
//!   with nothing to take publishes its completion before it sleeps).
//! - A sleeping reaper is woken once, by the completion that meets what it waits for;
//!   later completions until it runs make no further futex call.
//! - The ring's notification eventfd is signalled only once somebody has asked for it
//!   ([`Engine::notify_fd`]), and then once per reap cycle: when the first completion
//!   lands after a reap (or when a reap leaves completions behind), not once per
//!   completion. A ring nobody polls makes no `write` for it.
//! - `reap` sleeps on a condition variable until enough completions are queued, the
//!   timeout passes or [`Engine::wake`] is called. [`EngineStats::reap_syscalls`] counts
//!   the reaps that had to sleep; completions taken without sleeping are counted in
//!   [`EngineStats::reaped_without_syscall`].
//! - Cancel: a request still in the job queue is removed and completes with `ECANCELED`;
//!   a running poll is woken through its worker's eventfd and completes with `ECANCELED`;
//!   a running read, write or sync cannot be cancelled and completes with its result.
//! - A request whose descriptors are only borrowed (`Fd::from_raw`, as the C ABI passes
//!   them) gets duplicates of them at submit, closed at its completion: like the kernel's
//!   engines, which take the file at submission, a request never acts on a file that
//!   reused the number after the caller closed it.
//! - Drop tells the workers to exit once the job queue is empty, cancels running polls,
//!   and joins every worker. The ring has already waited for every request, so no request
//!   is abandoned.
//!
//! Per-request I/O priorities are applied with `ioprio_set` on the worker thread for the
//! duration of the request (an invalid priority fails that request with `EINVAL`).
//!
//! # Safety
//!
//! A job carries raw buffer and `iovec` addresses. [`Engine::submit`]'s contract keeps
//! them valid until the request's completion is reaped, and a worker touches them only
//! before it publishes that completion, so the memory is live whenever the kernel or a
//! worker uses it.
#![allow(unsafe_code)]

mod request;

use super::{CompletionHook, Cqe, Engine, EngineCancel, EngineKind, EngineStats, Sqe};
use crate::eventfd;
use crate::op::OpCode;
use crate::sys::ioprio;
use crate::sys::{Errno, IoVec};
use request::{dup_cloexec, request_fd, run, Priority};
use rustix::event::{PollFd, PollFlags};
use rustix::io::ReadWriteFlags;
use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a worker sleeps in `poll(2)` before it re-checks for cancellation on its
/// own; cancellation and shutdown normally wake it at once through its eventfd.
const POLL_SLICE: Duration = Duration::from_secs(5);

/// How often a write that makes no progress is retried before its 0 is reported.
const ZERO_WRITE_RETRIES: usize = 3;

/// The default pool size: `min(4, 2 × cores)`.
pub(crate) fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores).min(4)
}

/// What the engine knows about the request in one ring slot.
#[derive(Clone, Copy, Debug)]
struct SlotInfo {
    user_data: u64,
    op: OpCode,
    /// A worker has taken it (and has not yet published its completion).
    running: bool,
    /// The worker running it.
    worker: usize,
    /// Cancellation was asked for while it runs (acted on by polls only).
    cancel: bool,
}

struct Jobs {
    queue: VecDeque<Sqe>,
    slots: Vec<Option<SlotInfo>>,
    /// Per slot: duplicates of a request's borrowed descriptors (file, eventfd), held
    /// from submit to completion as the kernel holds a file from `io_submit` on.
    pinned: Vec<[Option<OwnedFd>; 2]>,
    /// Workers asleep on their condition variables, the one that went idle last at the
    /// end (the next to be woken). A worker leaves it when it is woken.
    idle: Vec<usize>,
    /// Per worker: it was woken (taken off `idle`) and has not yet looked at the queue.
    woken: Vec<bool>,
    /// Requests taken from the queue and not yet finished.
    running: usize,
    exit: bool,
}

struct Done {
    cqes: VecDeque<Cqe>,
    /// How many completions the sleeping reaper waits for (0: nobody sleeps).
    want: usize,
    /// `wake` was called since the last reap.
    woken: bool,
    /// The notification eventfd was signalled since the last reap.
    signalled: bool,
    /// Somebody asked for the notification eventfd: completions signal it from now on.
    notify_wanted: bool,
}

struct Shared {
    jobs: Mutex<Jobs>,
    /// One per worker, all used with `jobs`.
    job_cvs: Box<[Condvar]>,
    done: Mutex<Done>,
    done_cv: Condvar,
    notify: OwnedFd,
    /// `Done::notify_wanted`, readable without the lock (it only ever turns true).
    notify_wanted: AtomicBool,
    /// One eventfd per worker, to interrupt a poll it is running.
    wakers: Box<[OwnedFd]>,
    submit_wakeups: AtomicU64,
    reap_sleeps: AtomicU64,
    reaped_at_once: AtomicU64,
    helped: AtomicU64,
    /// Set once ([`Engine::set_completion_hook`]): a worker calls it after queueing a
    /// completion, in place of signalling `notify`.
    hook: OnceLock<CompletionHook>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state consistent before anything that can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A bounded pool of I/O threads.
pub(crate) struct Threads {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Threads {
    /// Starts `threads` workers for a ring of `capacity` slots.
    pub(crate) fn new(capacity: u32, threads: usize) -> Result<Threads, crate::Error> {
        let sys = |e| crate::Error::Sys("eventfd", e);
        let notify = eventfd::new().map_err(sys)?;
        let wakers = (0..threads)
            .map(|_| eventfd::new())
            .collect::<Result<Box<[OwnedFd]>, Errno>>()
            .map_err(sys)?;
        let shared = Arc::new(Shared {
            jobs: Mutex::new(Jobs {
                queue: VecDeque::with_capacity(capacity as usize),
                slots: vec![None; capacity as usize],
                pinned: (0..capacity).map(|_| [None, None]).collect(),
                idle: Vec::with_capacity(threads),
                woken: vec![false; threads],
                running: 0,
                exit: false,
            }),
            job_cvs: (0..threads).map(|_| Condvar::new()).collect(),
            done: Mutex::new(Done {
                cqes: VecDeque::with_capacity(capacity as usize),
                want: 0,
                woken: false,
                signalled: false,
                notify_wanted: false,
            }),
            done_cv: Condvar::new(),
            notify,
            notify_wanted: AtomicBool::new(false),
            wakers,
            submit_wakeups: AtomicU64::new(0),
            reap_sleeps: AtomicU64::new(0),
            reaped_at_once: AtomicU64::new(0),
            helped: AtomicU64::new(0),
            hook: OnceLock::new(),
        });
        let mut engine = Threads {
            shared,
            workers: Vec::with_capacity(threads),
        };
        for id in 0..threads {
            let shared = Arc::clone(&engine.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("aiolos-io-{id}"))
                .spawn(move || worker(&shared, id));
            match spawned {
                Ok(handle) => engine.workers.push(handle),
                // Dropping `engine` stops and joins the workers already started.
                Err(e) => {
                    let errno = Errno(e.raw_os_error().unwrap_or(Errno::AGAIN.0));
                    return Err(crate::Error::Sys("spawning an I/O thread", errno));
                }
            }
        }
        Ok(engine)
    }
}

/// Descriptors a request held from submit to completion, closed after its eventfd is
/// signalled.
type Pinned = [Option<OwnedFd>; 2];

impl Jobs {
    /// Forgets a finished request (so its slot can be reused as soon as its completion is
    /// reaped) and returns the descriptors it pinned.
    fn forget(&mut self, sqe: &Sqe) -> Pinned {
        let mut pinned = [None, None];
        if let Some(entry) = self.slots.get_mut(sqe.slot as usize) {
            if let Some(info) = entry.filter(|i| i.user_data == sqe.user_data) {
                if info.running {
                    self.running -= 1;
                }
                *entry = None;
                if let Some(p) = self.pinned.get_mut(sqe.slot as usize) {
                    pinned = std::mem::take(p);
                }
            }
        }
        pinned
    }

    /// Takes the next job for worker `id`, if one is queued. When more are queued, also
    /// picks another sleeper to pass the wake-up on to (the submitter woke only one of
    /// us), which the caller wakes once it has let go of the lock.
    fn take(&mut self, id: usize) -> Option<(Sqe, Option<usize>)> {
        let sqe = self.queue.pop_front()?;
        if let Some(Some(info)) = self.slots.get_mut(sqe.slot as usize) {
            info.running = true;
            info.worker = id;
            self.running += 1;
        }
        let next = if self.queue.is_empty() {
            None
        } else {
            self.pick_sleeper()
        };
        Some((sqe, next))
    }

    /// Chooses the worker that went idle last, if any sleeps, and marks it woken; the
    /// caller then calls [`Shared::wake`] for it after releasing the lock, so the worker
    /// does not wake up only to wait for the lock (the marking, under the lock, is what
    /// it checks; a `notify_one` is a futex call even when it wakes nobody, so a pool with
    /// no sleeper makes none).
    fn pick_sleeper(&mut self) -> Option<usize> {
        let id = self.idle.pop()?;
        if let Some(w) = self.woken.get_mut(id) {
            *w = true;
        }
        Some(id)
    }
}

impl Shared {
    /// Publishes a completion (the worker has already forgotten the request's slot, so a
    /// reaped slot can be reused at once): the completion is queued, then the eventfds are
    /// signalled, then the request's pinned descriptors are closed.
    fn publish(&self, sqe: &Sqe, res: i64, pinned: Pinned) {
        self.publish_then(sqe, res, pinned, false);
    }

    /// [`Shared::publish`]; with `hooked`, the caller runs the completion hook afterwards
    /// instead of the notification descriptor being signalled.
    fn publish_then(&self, sqe: &Sqe, res: i64, pinned: Pinned, hooked: bool) {
        let (wake, signal) = {
            let mut done = lock(&self.done);
            done.cqes.push_back(Cqe {
                user_data: sqe.user_data,
                res,
            });
            // One wake-up per sleep: the reaper sets `want` again if it sleeps again.
            let wake = done.want > 0 && done.cqes.len() >= done.want;
            if wake {
                done.want = 0;
            }
            (
                wake,
                !hooked && done.notify_wanted && !std::mem::replace(&mut done.signalled, true),
            )
        };
        // After the unlock, so the reaper does not wake only to wait for the lock; it
        // cannot miss this: it sleeps only while `want` is set, which this cleared.
        if wake {
            self.done_cv.notify_one();
        }
        if signal {
            let _ = eventfd::signal(self.notify.as_fd());
        }
        // SAFETY: the request's eventfd is held open until this completion is published
        // (see `request_fd`), and this is before.
        if let Some(fd) = sqe.resfd.and_then(|fd| unsafe { request_fd(fd) }) {
            let _ = eventfd::signal(fd);
        }
        drop(pinned);
    }

    /// Completes a request that never ran (cancelled in the queue).
    fn complete(&self, sqe: &Sqe, res: i64) {
        let pinned = lock(&self.jobs).forget(sqe);
        self.publish(sqe, res, pinned);
    }

    /// Wakes worker `id`, which [`Jobs::pick_sleeper`] chose (outside the queue's lock).
    fn wake(&self, id: Option<usize>) {
        if let Some(cv) = id.and_then(|id| self.job_cvs.get(id)) {
            cv.notify_one();
        }
    }

    /// Takes the next job, sleeping while there is none; `None` when told to exit.
    fn next_job(&self, id: usize) -> Option<Sqe> {
        let mut jobs = lock(&self.jobs);
        loop {
            if let Some((sqe, next)) = jobs.take(id) {
                drop(jobs);
                self.wake(next);
                return Some(sqe);
            }
            if jobs.exit {
                return None;
            }
            let cv = self.job_cvs.get(id)?;
            jobs.idle.push(id);
            // Spurious wake-ups sleep again: only a waker (who took us off `idle`) or
            // shutdown ends the sleep, so `idle` never names a worker that is awake.
            while !jobs.woken.get(id).copied().unwrap_or(true) && !jobs.exit {
                jobs = cv.wait(jobs).unwrap_or_else(|e| e.into_inner());
            }
            match jobs.woken.get_mut(id) {
                Some(w) if *w => *w = false,
                _ => jobs.idle.retain(|&w| w != id),
            }
        }
    }

    /// Forgets `finished` and takes the next job in one acquisition of the queue's lock,
    /// then publishes `finished`'s completion. Sleeps for a job only after publishing.
    fn finish_and_next(&self, id: usize, finished: &Sqe, res: i64) -> Option<Sqe> {
        if let Some(hook) = self.hook.get() {
            // The hook runs before this worker takes another job: a job taken and not
            // started would wait for the hook, which reaps, and may even drop the ring
            // (whose drop waits for every request, and then for the workers: see Drop).
            let pinned = lock(&self.jobs).forget(finished);
            self.publish_then(finished, res, pinned, true);
            hook();
            return self.next_job(id);
        }
        let (pinned, next) = {
            let mut jobs = lock(&self.jobs);
            let pinned = jobs.forget(finished);
            (pinned, jobs.take(id))
        };
        let next = next.map(|(sqe, sleeper)| {
            self.wake(sleeper);
            sqe
        });
        self.publish(finished, res, pinned);
        next.or_else(|| self.next_job(id))
    }

    /// Runs the request at the head of the queue on the calling thread, which is about to
    /// sleep until a completion comes, when that is the quickest way to one: no request
    /// is running (so no other completion can come first: the pool is idle and the
    /// worker the submit woke is still on its way), and the request cannot block for
    /// long: a read, write or sync of a block device or of a regular file on one, at the
    /// thread's own I/O priority (never a poll, a pipe or a socket, which may wait for
    /// another party, nor a file of a network or FUSE file system, which may stall).
    /// Saves the two thread hand-offs (to a worker and back) that a lone request pays.
    /// Returns whether it ran one; its completion is then queued as a worker's is.
    ///
    /// Only on request ([`Ring::help`](crate::Ring::help)), never inside `reap`: the
    /// reaper holds the ring's one reaper turn, so every other waiter, and the reaper's
    /// own timeout, would wait for the request too.
    fn help(&self) -> bool {
        let sqe = {
            let mut jobs = lock(&self.jobs);
            // Looked at under the lock (a `statx`, while the pool is idle): the request
            // cannot be taken, finished and its descriptor closed meanwhile.
            let lone = jobs.running == 0 && !jobs.exit;
            if !lone || !jobs.queue.front().is_some_and(may_run_here) {
                return false;
            }
            match jobs.take(HELPER) {
                Some((sqe, sleeper)) => {
                    drop(jobs);
                    self.wake(sleeper);
                    sqe
                }
                None => return false,
            }
        };
        let res = run(self, HELPER, &sqe, &mut Vec::new());
        let pinned = lock(&self.jobs).forget(&sqe);
        self.publish(&sqe, res, pinned);
        self.helped.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether the running request in `sqe`'s slot should stop (cancel or shutdown).
    fn cancelled(&self, sqe: &Sqe) -> bool {
        let jobs = lock(&self.jobs);
        jobs.exit
            || jobs
                .slots
                .get(sqe.slot as usize)
                .and_then(|s| *s)
                .is_some_and(|i| i.user_data == sqe.user_data && i.cancel)
    }
}

/// The worker number of a thread outside the pool that runs a request ([`Shared::help`]);
/// it never runs a poll, the only request that uses its worker's number.
const HELPER: usize = usize::MAX;

/// Whether a request may run on a thread outside the pool ([`Shared::help`]). Called
/// with the queue's lock held, on a request still in the queue.
fn may_run_here(sqe: &Sqe) -> bool {
    let io = matches!(
        sqe.op,
        OpCode::Read
            | OpCode::Readv
            | OpCode::Write
            | OpCode::Writev
            | OpCode::Fsync
            | OpCode::Fdatasync
    );
    if !io || sqe.ioprio.is_some() {
        return false;
    }
    // SAFETY: a queued request's descriptor (pinned, or open by `Fd::from_raw`'s contract)
    // stays open until its completion is published; the caller holds the queue's lock.
    let Some(fd) = (unsafe { request_fd(sqe.fd) }) else {
        return false;
    };
    crate::sys::describe(fd).is_ok_and(|id| match id.file_type() {
        rustix::fs::FileType::BlockDevice => true,
        // Network, FUSE and other virtual file systems have anonymous devices (major 0);
        // their requests may stall for as long as their server wants.
        rustix::fs::FileType::RegularFile => rustix::fs::major(id.dev) != 0,
        _ => false,
    })
}

fn worker(shared: &Shared, id: usize) {
    let mut prio = Priority::new();
    // The iovec table of the request at hand, reused from one request to the next.
    let mut iov = Vec::new();
    let mut next = shared.next_job(id);
    while let Some(sqe) = next {
        let res = match prio.apply(sqe.ioprio) {
            Ok(()) => run(shared, id, &sqe, &mut iov),
            Err(e) => -i64::from(e.0),
        };
        next = shared.finish_and_next(id, &sqe, res);
    }
}

impl Engine for Threads {
    fn kind(&self) -> EngineKind {
        EngineKind::Threads
    }

    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno> {
        if sqes.is_empty() {
            return Ok(0);
        }
        let mut jobs = lock(&self.shared.jobs);
        for sqe in sqes {
            let Some(entry) = jobs.slots.get_mut(sqe.slot as usize) else {
                return Err(Errno::INVAL);
            };
            *entry = Some(SlotInfo {
                user_data: sqe.user_data,
                op: sqe.op,
                running: false,
                worker: 0,
                cancel: false,
            });
            let mut sqe = *sqe;
            if sqe.borrowed_fds {
                if let Some(p) = jobs.pinned.get_mut(sqe.slot as usize) {
                    // Hold the files now, as the kernel does at submission. Should that
                    // fail (EBADF, EMFILE), the request goes on with the numbers: a bad
                    // one then fails the request with the kernel's answer.
                    if let Ok(dup) = dup_cloexec(sqe.fd) {
                        sqe.fd = dup.as_raw_fd();
                        p[0] = Some(dup);
                    }
                    if let Some(Ok(dup)) = sqe.resfd.map(dup_cloexec) {
                        sqe.resfd = Some(dup.as_raw_fd());
                        p[1] = Some(dup);
                    }
                }
            }
            jobs.queue.push_back(sqe);
        }
        let sleeper = jobs.pick_sleeper();
        drop(jobs);
        if sleeper.is_some() {
            self.shared.wake(sleeper);
            self.shared.submit_wakeups.fetch_add(1, Ordering::Relaxed);
        }
        Ok(sqes.len())
    }

    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let shared = &*self.shared;
        let target = min.max(1);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut done = lock(&shared.done);
        let mut slept = false;
        while done.cqes.len() < target && !done.woken {
            let wait = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break,
                },
            };
            done.want = target;
            slept = true;
            done = match wait {
                None => shared.done_cv.wait(done).unwrap_or_else(|e| e.into_inner()),
                Some(left) => match shared.done_cv.wait_timeout(done, left) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                },
            };
            done.want = 0;
        }
        done.woken = false;
        let n = done.cqes.len().min(max.max(1));
        out.extend(done.cqes.drain(..n));
        // Later completions signal the notification fd again; completions left behind by
        // a short reap keep it readable.
        let again = !done.cqes.is_empty() && done.notify_wanted;
        done.signalled = again;
        drop(done);
        if again {
            let _ = eventfd::signal(shared.notify.as_fd());
        }
        if slept {
            shared.reap_sleeps.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.reaped_at_once.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn cancel(&self, slot: u32, user_data: u64) -> EngineCancel {
        let mut jobs = lock(&self.shared.jobs);
        let Some(Some(info)) = jobs.slots.get_mut(slot as usize) else {
            return EngineCancel::NotCancellable;
        };
        if info.user_data != user_data {
            return EngineCancel::NotCancellable;
        }
        if info.running {
            if info.op != OpCode::Poll {
                return EngineCancel::NotCancellable;
            }
            info.cancel = true;
            let worker = info.worker;
            drop(jobs);
            if let Some(w) = self.shared.wakers.get(worker) {
                let _ = eventfd::signal(w.as_fd());
            }
            return EngineCancel::Requested;
        }
        let pos = jobs
            .queue
            .iter()
            .position(|s| s.slot == slot && s.user_data == user_data);
        // Not queued and not running: its completion is already on its way.
        let Some(sqe) = pos.and_then(|p| jobs.queue.remove(p)) else {
            return EngineCancel::NotCancellable;
        };
        drop(jobs);
        self.shared.complete(&sqe, -i64::from(Errno::CANCELED.0));
        EngineCancel::Requested
    }

    fn help(&self) -> bool {
        self.shared.help()
    }

    fn set_completion_hook(&self, hook: CompletionHook) -> bool {
        self.shared.hook.set(hook).is_ok()
    }

    fn wake(&self) {
        let mut done = lock(&self.shared.done);
        done.woken = true;
        if done.want > 0 {
            done.want = 0;
            self.shared.done_cv.notify_one();
        }
    }

    fn notify_fd(&self) -> BorrowedFd<'_> {
        if self.shared.notify_wanted.load(Ordering::Relaxed) {
            return self.shared.notify.as_fd();
        }
        let mut done = lock(&self.shared.done);
        self.shared.notify_wanted.store(true, Ordering::Relaxed);
        if !done.notify_wanted {
            // From now on completions signal it; completions already queued must too.
            done.notify_wanted = true;
            if !done.cqes.is_empty() {
                done.signalled = true;
                let _ = eventfd::signal(self.shared.notify.as_fd());
            }
        }
        drop(done);
        self.shared.notify.as_fd()
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            submit_syscalls: self.shared.submit_wakeups.load(Ordering::Relaxed),
            reap_syscalls: self.shared.reap_sleeps.load(Ordering::Relaxed),
            reaped_without_syscall: self.shared.reaped_at_once.load(Ordering::Relaxed),
            punted_reads: 0,
            run_by_waiter: self.shared.helped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Workers finish whatever is still queued (polls among it end as cancelled: the
        // exit flag cancels them) and then return.
        lock(&self.shared.jobs).exit = true;
        for cv in self.shared.job_cvs.iter() {
            cv.notify_all();
        }
        for w in self.shared.wakers.iter() {
            let _ = eventfd::signal(w.as_fd());
        }
        let me = std::thread::current().id();
        for handle in self.workers.drain(..) {
            if handle.thread().id() == me {
                // The ring was dropped on this worker (its completion hook let go of the
                // last reference): it cannot wait for itself. It finds `exit` set when
                // the hook returns and ends; it keeps the state it uses (`shared`).
                continue;
            }
            // A worker that panicked has nothing left to join; its request is lost to a
            // bug, not to shutdown, and there is nothing better to do here.
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    //! [`Shared::help`] on a pool with no worker, so that only the helping thread can run
    //! a request and each outcome is certain.
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsFd, AsRawFd};

    fn sqe(slot: u32, op: OpCode, fd: RawFd, buf: &mut [u8]) -> Sqe {
        Sqe {
            user_data: 100 + u64::from(slot),
            slot,
            op,
            fd,
            addr: buf.as_mut_ptr() as u64,
            addr2: 0,
            len: buf.len() as u64,
            offset: 0,
            rw_flags: 0,
            ioprio: None,
            resfd: None,
            borrowed_fds: false,
        }
    }

    /// A temporary file on a block device's file system (the helper leaves files of
    /// anonymous-device file systems, tmpfs among them, to the workers), or `None` here.
    fn local_file() -> Option<std::fs::File> {
        let dirs = [std::env::temp_dir(), env!("CARGO_MANIFEST_DIR").into()];
        let file = dirs
            .iter()
            .filter_map(|d| tempfile::tempfile_in(d).ok())
            .find(|f| {
                crate::sys::describe(f.as_fd()).is_ok_and(|id| rustix::fs::major(id.dev) != 0)
            });
        if file.is_none() {
            eprintln!("SKIP: neither the temporary directory nor the crate is on a block device");
        }
        file
    }

    /// A pool with no worker, with a read of `contents` (written to a local file, which is
    /// returned to be kept open) into `buf` queued in `slot`; `None` where no local file
    /// can be made.
    fn queued_read(slot: u32, contents: &[u8], buf: &mut [u8]) -> Option<(Threads, std::fs::File)> {
        let engine = Threads::new(8, 0).expect("pool");
        let mut file = local_file()?;
        file.write_all(contents).expect("write");
        let read = sqe(slot, OpCode::Read, file.as_raw_fd(), buf);
        // SAFETY: the caller keeps `buf` for as long as the engine, and the file is returned.
        unsafe { engine.submit(&[read]) }.expect("submit");
        Some((engine, file))
    }

    fn reap_now(engine: &Threads) -> Vec<Cqe> {
        let mut out = Vec::new();
        engine
            .reap(&mut out, 0, 16, Some(Duration::ZERO))
            .expect("reap");
        out
    }

    #[test]
    #[cfg_attr(miri, ignore = "real files and system calls")]
    fn a_waiting_thread_runs_a_lone_file_read_itself() {
        let mut buf = [0u8; 11];
        let Some((engine, _file)) = queued_read(0, b"aiolos help", &mut buf) else {
            return;
        };
        assert!(reap_now(&engine).is_empty(), "no worker: nothing ran yet");
        assert!(engine.help(), "a lone file read is run by the helper");
        assert_eq!(
            reap_now(&engine),
            vec![Cqe {
                user_data: 100,
                res: 11
            }]
        );
        assert_eq!(&buf, b"aiolos help");
        assert_eq!(engine.stats().run_by_waiter, 1);
        assert!(!engine.help(), "nothing is left to run");
    }

    #[test]
    #[cfg_attr(miri, ignore = "real files and system calls")]
    fn pipes_polls_and_requests_with_a_priority_are_left_to_the_workers() {
        let engine = Threads::new(8, 0).expect("pool");
        let (rx, _tx) = std::io::pipe().expect("pipe");
        let mut buf = [0u8; 4];
        let pipe_read = sqe(0, OpCode::Read, rx.as_raw_fd(), &mut buf);
        // SAFETY: the requests are never run (no worker) and the engine is dropped first.
        unsafe { engine.submit(&[pipe_read]) }.expect("submit");
        assert!(
            !engine.help(),
            "a pipe read may wait forever: not the helper's"
        );

        let engine = Threads::new(8, 0).expect("pool");
        let mut poll = sqe(1, OpCode::Poll, rx.as_raw_fd(), &mut buf);
        poll.len = 1;
        // SAFETY: as above.
        unsafe { engine.submit(&[poll]) }.expect("submit");
        assert!(!engine.help(), "a poll waits for another party");

        let engine = Threads::new(8, 0).expect("pool");
        let file = tempfile::tempfile().expect("temp file");
        let mut prio = sqe(2, OpCode::Read, file.as_raw_fd(), &mut buf);
        prio.ioprio = Some(0);
        // SAFETY: as above.
        unsafe { engine.submit(&[prio]) }.expect("submit");
        assert!(
            !engine.help(),
            "a request's own priority is a worker's to apply"
        );
        assert_eq!(engine.stats().run_by_waiter, 0);

        // tmpfs, like FUSE and network file systems, has an anonymous device.
        if let Ok(shm) = tempfile::tempfile_in("/dev/shm") {
            let anonymous =
                crate::sys::describe(shm.as_fd()).is_ok_and(|id| rustix::fs::major(id.dev) == 0);
            let engine = Threads::new(8, 0).expect("pool");
            let read = sqe(3, OpCode::Read, shm.as_raw_fd(), &mut buf);
            // SAFETY: as above.
            unsafe { engine.submit(&[read]) }.expect("submit");
            assert_eq!(
                engine.help(),
                !anonymous,
                "a file of an anonymous-device file system"
            );
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "real files and system calls")]
    fn a_reap_never_runs_a_request_itself_so_its_timeout_holds() {
        let mut buf = [0u8; 3];
        let Some((engine, _file)) = queued_read(3, b"xyz", &mut buf) else {
            return;
        };
        let mut out = Vec::new();
        let t0 = Instant::now();
        engine
            .reap(&mut out, 1, 16, Some(Duration::from_millis(50)))
            .expect("reap");
        assert!(out.is_empty(), "the reap ran the request: {out:?}");
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert!(engine.help());
        assert_eq!(
            reap_now(&engine),
            vec![Cqe {
                user_data: 103,
                res: 3
            }]
        );
        assert_eq!(&buf, b"xyz");
    }
}
