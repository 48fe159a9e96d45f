//! The thread-pool engine: a bounded pool of workers running `preadv2`/`pwritev2`,
//! `fsync`, `fdatasync` and `poll` on behalf of the ring. It needs nothing but threads
//! and positional I/O, so it is the fallback where io_uring is denied, and it never
//! blocks the submitting thread, buffered or not.
//!
//! - `submit` pushes the whole batch onto the job queue under one lock and wakes one
//!   sleeping worker; a worker that takes a job while more wait wakes the next one. No
//!   system call is made to submit: [`EngineStats::submit_syscalls`] counts the submits
//!   that had to wake a sleeping worker (a futex wake), and is 0 while the pool is busy.
//! - A worker runs one request at a time, appends its completion to the completion queue,
//!   then signals the request's own eventfd. The ring's notification eventfd is signalled
//!   once per reap cycle: when the first completion lands after a reap (or when a reap
//!   leaves completions behind), not once per completion.
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

use super::{Cqe, Engine, EngineCancel, EngineKind, EngineStats, Sqe};
use crate::op::OpCode;
use crate::sys::eventfd::{self, events};
use crate::sys::file::{self, IoVec};
use crate::sys::Errno;
use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a worker sleeps in `poll(2)` before it re-checks for cancellation on its
/// own; cancellation and shutdown normally wake it at once through its eventfd.
const POLL_SLICE: Duration = Duration::from_secs(5);

/// The offset `preadv2`/`pwritev2` read as "the file position" (-1).
const CURRENT_POSITION: u64 = u64::MAX;

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
    /// Workers asleep on `jobs_cv`.
    idle: usize,
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
}

struct Shared {
    jobs: Mutex<Jobs>,
    jobs_cv: Condvar,
    done: Mutex<Done>,
    done_cv: Condvar,
    notify: OwnedFd,
    /// One eventfd per worker, to interrupt a poll it is running.
    wakers: Box<[OwnedFd]>,
    submit_wakeups: AtomicU64,
    reap_sleeps: AtomicU64,
    reaped_at_once: AtomicU64,
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
        let notify = eventfd::eventfd().map_err(sys)?;
        let wakers = (0..threads)
            .map(|_| eventfd::eventfd())
            .collect::<Result<Box<[OwnedFd]>, Errno>>()
            .map_err(sys)?;
        let shared = Arc::new(Shared {
            jobs: Mutex::new(Jobs {
                queue: VecDeque::with_capacity(capacity as usize),
                slots: vec![None; capacity as usize],
                pinned: (0..capacity).map(|_| [None, None]).collect(),
                idle: 0,
                exit: false,
            }),
            jobs_cv: Condvar::new(),
            done: Mutex::new(Done {
                cqes: VecDeque::with_capacity(capacity as usize),
                want: 0,
                woken: false,
                signalled: false,
            }),
            done_cv: Condvar::new(),
            notify,
            wakers,
            submit_wakeups: AtomicU64::new(0),
            reap_sleeps: AtomicU64::new(0),
            reaped_at_once: AtomicU64::new(0),
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

impl Shared {
    /// Publishes a completion: the slot is forgotten first (so a reaped slot can be reused
    /// at once), then the completion is queued, then the eventfds are signalled.
    fn complete(&self, sqe: &Sqe, res: i64) {
        // Closed only after the eventfd below has been signalled.
        let _pinned = {
            let mut jobs = lock(&self.jobs);
            let mut pinned = [None, None];
            if let Some(entry) = jobs.slots.get_mut(sqe.slot as usize) {
                if entry.is_some_and(|i| i.user_data == sqe.user_data) {
                    *entry = None;
                    if let Some(p) = jobs.pinned.get_mut(sqe.slot as usize) {
                        pinned = std::mem::take(p);
                    }
                }
            }
            pinned
        };
        let signal = {
            let mut done = lock(&self.done);
            done.cqes.push_back(Cqe {
                user_data: sqe.user_data,
                res,
            });
            if done.want > 0 && done.cqes.len() >= done.want {
                self.done_cv.notify_one();
            }
            !std::mem::replace(&mut done.signalled, true)
        };
        if signal {
            let _ = eventfd::eventfd_signal(self.notify.as_raw_fd(), 1);
        }
        if let Some(fd) = sqe.resfd {
            let _ = eventfd::eventfd_signal(fd, 1);
        }
    }

    /// Takes the next job, sleeping while there is none; `None` when told to exit.
    fn next_job(&self, id: usize) -> Option<Sqe> {
        let mut jobs = lock(&self.jobs);
        loop {
            if let Some(sqe) = jobs.queue.pop_front() {
                if let Some(Some(info)) = jobs.slots.get_mut(sqe.slot as usize) {
                    info.running = true;
                    info.worker = id;
                }
                // Pass the wake-up on: the submitter woke only one of us.
                if !jobs.queue.is_empty() && jobs.idle > 0 {
                    self.jobs_cv.notify_one();
                }
                return Some(sqe);
            }
            if jobs.exit {
                return None;
            }
            jobs.idle += 1;
            jobs = self.jobs_cv.wait(jobs).unwrap_or_else(|e| e.into_inner());
            jobs.idle -= 1;
        }
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

fn worker(shared: &Shared, id: usize) {
    let mut prio = Priority::new();
    while let Some(sqe) = shared.next_job(id) {
        let res = match prio.apply(sqe.ioprio) {
            Ok(()) => run(shared, id, &sqe),
            Err(e) => -i64::from(e.0),
        };
        shared.complete(&sqe, res);
    }
}

/// The worker thread's I/O priority, changed only when a request asks for another one.
struct Priority {
    default: Option<u16>,
    current: Option<u16>,
}

impl Priority {
    fn new() -> Priority {
        let default = file::thread_ioprio().ok();
        Priority {
            default,
            current: default,
        }
    }

    fn apply(&mut self, want: Option<u16>) -> Result<(), Errno> {
        let Some(target) = want.or(self.default) else {
            return Ok(());
        };
        if self.current == Some(target) {
            return Ok(());
        }
        match file::set_thread_ioprio(target) {
            Ok(()) => {
                self.current = Some(target);
                Ok(())
            }
            Err(e) if want.is_some() => Err(e),
            // Restoring the default failed: carry on at whatever priority is in force.
            Err(_) => Ok(()),
        }
    }
}

/// Runs one request; returns bytes transferred, the poll mask, or a negated errno.
fn run(shared: &Shared, id: usize, sqe: &Sqe) -> i64 {
    let result = match sqe.op {
        OpCode::Read | OpCode::Readv | OpCode::Write | OpCode::Writev => {
            // SAFETY: submit's contract keeps the buffers and iovec tables of this request
            // valid until its completion is reaped, which is after `complete` below.
            unsafe { read_write(sqe) }
        }
        OpCode::Fsync => file::fsync(sqe.fd).map(|()| 0),
        OpCode::Fdatasync => file::fdatasync(sqe.fd).map(|()| 0),
        OpCode::Poll => poll(shared, id, sqe),
        OpCode::Nop => Ok(0),
    };
    match result {
        Ok(n) => n as i64,
        Err(e) => -i64::from(e.0),
    }
}

/// # Safety
/// The addresses in `sqe` must name live buffers (or a live `iovec` table of `len`
/// entries for the vectored ops) for the duration of the call.
unsafe fn read_write(sqe: &Sqe) -> Result<usize, Errno> {
    let one = [IoVec {
        base: sqe.addr as usize,
        len: sqe.len as usize,
    }];
    let iov: &[IoVec] = match sqe.op {
        OpCode::Readv | OpCode::Writev => {
            // SAFETY: for vectored ops the ring passes the address and length of the slot's
            // iovec table, which the caller keeps alive.
            unsafe { std::slice::from_raw_parts(sqe.addr as *const IoVec, sqe.len as usize) }
        }
        _ => &one,
    };
    // A stream (pipe, socket) has no offsets: its read or write goes to the stream, as
    // io_uring and kernel AIO do it, rather than failing with ESPIPE.
    let mut offset = sqe.offset;
    match sqe.op {
        OpCode::Read | OpCode::Readv => loop {
            // SAFETY: the caller keeps every buffer named by iov writable and alive.
            match unsafe { file::preadv2(sqe.fd, iov, offset, sqe.rw_flags) } {
                Err(Errno::SPIPE) if offset != CURRENT_POSITION => {
                    offset = CURRENT_POSITION;
                }
                other => return other,
            }
        },
        _ => {
            let wanted: usize = iov.iter().map(|v| v.len).sum();
            let mut tries = 0;
            loop {
                // SAFETY: the caller keeps every buffer named by iov readable and alive.
                let n = match unsafe { file::pwritev2(sqe.fd, iov, offset, sqe.rw_flags) } {
                    Err(Errno::SPIPE) if offset != CURRENT_POSITION => {
                        offset = CURRENT_POSITION;
                        continue;
                    }
                    other => other?,
                };
                // A short write is reported as the kernel's engines report it; only a
                // write that made no progress at all is tried again.
                if n > 0 || wanted == 0 || tries == ZERO_WRITE_RETRIES {
                    return Ok(n);
                }
                tries += 1;
            }
        }
    }
}

/// Waits for readiness of `sqe.fd`, or for cancellation, which the canceller announces
/// by setting the slot's flag and then signalling this worker's eventfd.
fn poll(shared: &Shared, id: usize, sqe: &Sqe) -> Result<usize, Errno> {
    let wanted = sqe.len as u16 as i16;
    let mask = wanted | events::POLLERR | events::POLLHUP;
    let waker = shared.wakers.get(id).map_or(-1, |w| w.as_raw_fd());
    loop {
        // The flag is checked before sleeping; a cancel that sets it afterwards also
        // signals the eventfd, so the poll below returns at once.
        if shared.cancelled(sqe) {
            return Err(Errno::CANCELED);
        }
        let revents = eventfd::poll(
            &[(sqe.fd, wanted), (waker, events::POLLIN)],
            Some(POLL_SLICE),
        )?;
        let (ready, woken) = (revents[0], revents[1]);
        if ready & events::POLLNVAL != 0 {
            return Err(Errno::BADF);
        }
        if ready & mask != 0 {
            return Ok((ready & mask) as u16 as usize);
        }
        if woken != 0 {
            if let Some(w) = shared.wakers.get(id) {
                let _ = eventfd::eventfd_drain(w.as_fd());
            }
        }
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
                    if let Ok(dup) = file::dup_cloexec(sqe.fd) {
                        sqe.fd = dup.as_raw_fd();
                        p[0] = Some(dup);
                    }
                    if let Some(Ok(dup)) = sqe.resfd.map(file::dup_cloexec) {
                        sqe.resfd = Some(dup.as_raw_fd());
                        p[1] = Some(dup);
                    }
                }
            }
            jobs.queue.push_back(sqe);
        }
        if jobs.idle > 0 {
            self.shared.submit_wakeups.fetch_add(1, Ordering::Relaxed);
            self.shared.jobs_cv.notify_one();
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
        let again = !done.cqes.is_empty();
        done.signalled = again;
        drop(done);
        if again {
            let _ = eventfd::eventfd_signal(shared.notify.as_raw_fd(), 1);
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
                let _ = eventfd::eventfd_signal(w.as_raw_fd(), 1);
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

    fn wake(&self) {
        let mut done = lock(&self.shared.done);
        done.woken = true;
        if done.want > 0 {
            self.shared.done_cv.notify_one();
        }
    }

    fn notify_fd(&self) -> BorrowedFd<'_> {
        self.shared.notify.as_fd()
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            submit_syscalls: self.shared.submit_wakeups.load(Ordering::Relaxed),
            reap_syscalls: self.shared.reap_sleeps.load(Ordering::Relaxed),
            reaped_without_syscall: self.shared.reaped_at_once.load(Ordering::Relaxed),
            punted_reads: 0,
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Workers finish whatever is still queued (polls among it end as cancelled: the
        // exit flag cancels them) and then return.
        lock(&self.shared.jobs).exit = true;
        self.shared.jobs_cv.notify_all();
        for w in self.shared.wakers.iter() {
            let _ = eventfd::eventfd_signal(w.as_raw_fd(), 1);
        }
        for handle in self.workers.drain(..) {
            // A worker that panicked has nothing left to join; its request is lost to a
            // bug, not to shutdown, and there is nothing better to do here.
            let _ = handle.join();
        }
    }
}
