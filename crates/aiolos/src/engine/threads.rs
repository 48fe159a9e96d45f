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
use crate::eventfd;
use crate::op::OpCode;
use crate::sys::ioprio;
use crate::sys::{Errno, IoVec};
use rustix::event::{PollFd, PollFlags};
use rustix::io::ReadWriteFlags;
use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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
            let _ = eventfd::signal(self.notify.as_fd());
        }
        // SAFETY: the request's eventfd is held open until this completion is published
        // (see `request_fd`), and this is before.
        if let Some(fd) = sqe.resfd.and_then(|fd| unsafe { request_fd(fd) }) {
            let _ = eventfd::signal(fd);
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
    // The iovec table of the request at hand, reused from one request to the next.
    let mut iov = Vec::new();
    while let Some(sqe) = shared.next_job(id) {
        let res = match prio.apply(sqe.ioprio) {
            Ok(()) => run(shared, id, &sqe, &mut iov),
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
        let default = ioprio::thread_ioprio().ok();
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
        match ioprio::set_thread_ioprio(target) {
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
fn run(shared: &Shared, id: usize, sqe: &Sqe, iov: &mut Vec<IoVec>) -> i64 {
    let result = match sqe.op {
        OpCode::Read | OpCode::Readv | OpCode::Write | OpCode::Writev => {
            // SAFETY: submit's contract keeps the buffers and iovec tables of this request
            // valid until its completion is reaped, which is after `complete` below.
            unsafe { read_write(sqe, iov) }
        }
        OpCode::Fsync => sync(sqe, |fd| rustix::fs::fsync(fd)),
        OpCode::Fdatasync => sync(sqe, |fd| rustix::fs::fdatasync(fd)),
        OpCode::Poll => poll(shared, id, sqe),
        OpCode::Nop => Ok(0),
        // SAFETY: submit's contract keeps the paths and statx buffer of this
        // request alive until its completion is reaped, which is after `complete` below.
        _ => return unsafe { run_other(sqe) },
    };
    match result {
        Ok(n) => n as i64,
        Err(e) => -i64::from(e.0),
    }
}

/// Runs a path, metadata or space operation as the kernel's io_uring would. Returns the
/// result (a new descriptor's number for an open, which the taker of the completion owns)
/// or a negated errno.
///
/// # Safety
/// The addresses in `sqe` (paths, statx buffer) must be alive for the call, and its
/// descriptor (unless `AT_FDCWD`) open.
pub(crate) unsafe fn run_other(sqe: &Sqe) -> i64 {
    use rustix::fs::{AtFlags, FallocateFlags, Mode, OFlags, RenameFlags, StatxFlags};
    use std::ffi::CStr;
    use std::os::fd::IntoRawFd;
    let dir = if sqe.fd == crate::sys::path::AT_FDCWD {
        rustix::fs::CWD
    } else {
        // SAFETY: the request's descriptor stays open until its completion is published
        // (the function's contract).
        match unsafe { request_fd(sqe.fd) } {
            Some(fd) => fd,
            None => return -i64::from(Errno::BADF.0),
        }
    };
    let raw_flags = sqe.rw_flags as u32;
    let mode = sqe.len as u32;
    // SAFETY: the ring put a NUL-terminated path (a CString the slot owns) at addr, and for
    // two-path operations at addr2; the caller keeps them alive for the call.
    let path = || unsafe { CStr::from_ptr(sqe.addr as *const std::ffi::c_char) };
    // SAFETY: as above, for the second path.
    let path2 = || unsafe { CStr::from_ptr(sqe.addr2 as *const std::ffi::c_char) };
    let r: rustix::io::Result<i64> = match sqe.op {
        OpCode::OpenAt => rustix::fs::openat(
            dir,
            path(),
            OFlags::from_bits_retain(raw_flags),
            Mode::from_bits_retain(mode),
        )
        .map(|fd| i64::from(fd.into_raw_fd())),
        OpCode::Statx => {
            let flags = AtFlags::from_bits_retain(raw_flags);
            rustix::fs::statx(dir, path(), flags, StatxFlags::from_bits_retain(mode)).map(|st| {
                // SAFETY: addr2 is the slot's statx buffer, at least STATX_SIZE bytes (the
                // ring checked), alive for the call.
                unsafe { crate::sys::path::store_statx(&st, sqe.addr2 as *mut u8) };
                0
            })
        }
        OpCode::UnlinkAt => {
            rustix::fs::unlinkat(dir, path(), AtFlags::from_bits_retain(raw_flags)).map(|()| 0)
        }
        OpCode::RenameAt => {
            let flags = RenameFlags::from_bits_retain(raw_flags);
            rustix::fs::renameat_with(dir, path(), dir, path2(), flags).map(|()| 0)
        }
        OpCode::MkdirAt => {
            rustix::fs::mkdirat(dir, path(), Mode::from_bits_retain(mode)).map(|()| 0)
        }
        OpCode::LinkAt => {
            let flags = AtFlags::from_bits_retain(raw_flags);
            rustix::fs::linkat(dir, path(), dir, path2(), flags).map(|()| 0)
        }
        OpCode::SymlinkAt => rustix::fs::symlinkat(path(), dir, path2()).map(|()| 0),
        OpCode::Fallocate => {
            let flags = FallocateFlags::from_bits_retain(raw_flags);
            rustix::fs::fallocate(dir, flags, sqe.offset, sqe.len).map(|()| 0)
        }
        OpCode::Ftruncate => rustix::fs::ftruncate(dir, sqe.len).map(|()| 0),
        _ => Err(rustix::io::Errno::INVAL),
    };
    match r {
        Ok(n) => n,
        Err(e) => -i64::from(e.raw_os_error()),
    }
}

/// Makes `call` again while a signal interrupts it: the kernel's engines never report
/// `EINTR` for file I/O, and neither does this one.
fn retry<T>(mut call: impl FnMut() -> rustix::io::Result<T>) -> Result<T, Errno> {
    loop {
        match call() {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(Errno::from),
        }
    }
}

/// `fsync` or `fdatasync` of the request's descriptor.
fn sync(
    sqe: &Sqe,
    call: impl Fn(BorrowedFd<'_>) -> rustix::io::Result<()>,
) -> Result<usize, Errno> {
    // SAFETY: a running request's descriptor stays open until its completion is published.
    let fd = unsafe { request_fd(sqe.fd) }.ok_or(Errno::BADF)?;
    retry(|| call(fd)).map(|()| 0)
}

// `IoVec` has `struct iovec`'s layout (asserted in `sys`), and std documents `IoSlice` and
// `IoSliceMut` as ABI compatible with it on Unix; the casts below rely on both.
const _: () = {
    assert!(std::mem::size_of::<IoSliceMut<'static>>() == std::mem::size_of::<IoVec>());
    assert!(std::mem::align_of::<IoSliceMut<'static>>() == std::mem::align_of::<IoVec>());
    assert!(std::mem::size_of::<IoSlice<'static>>() == std::mem::size_of::<IoVec>());
    assert!(std::mem::align_of::<IoSlice<'static>>() == std::mem::align_of::<IoVec>());
};

/// An iovec table as the `IoSliceMut`s `preadv2` takes, without making a reference to any
/// buffer it names.
///
/// # Safety
/// The result must only be handed to the kernel (which checks each address and answers
/// `EFAULT`), never read or written through by Rust code: its addresses may be anything
/// a C caller passed.
unsafe fn io_slices_mut(iov: &mut [IoVec]) -> &mut [IoSliceMut<'_>] {
    // SAFETY: `IoSliceMut` is ABI compatible with `struct iovec` on Unix (std's docs) and
    // `IoVec` has that layout (asserted above); there its one field is a raw `iovec`, so
    // any address is a valid value. The table is borrowed exclusively for as long as the
    // result lives, and the function's contract keeps Rust from using the addresses.
    unsafe { std::slice::from_raw_parts_mut(iov.as_mut_ptr().cast(), iov.len()) }
}

/// An iovec table as the `IoSlice`s `pwritev2` takes; see [`io_slices_mut`].
///
/// # Safety
/// As [`io_slices_mut`].
unsafe fn io_slices(iov: &[IoVec]) -> &[IoSlice<'_>] {
    // SAFETY: as in `io_slices_mut`, for a shared borrow of the table.
    unsafe { std::slice::from_raw_parts(iov.as_ptr().cast(), iov.len()) }
}

/// # Safety
/// The addresses in `sqe` must name live buffers (or a live `iovec` table of `len`
/// entries for the vectored ops) for the duration of the call.
unsafe fn read_write(sqe: &Sqe, iov: &mut Vec<IoVec>) -> Result<usize, Errno> {
    // SAFETY: a running request's descriptor stays open until its completion is published.
    let fd = unsafe { request_fd(sqe.fd) }.ok_or(Errno::BADF)?;
    // The table is copied into the worker's own, which preadv2 may borrow mutably.
    iov.clear();
    match sqe.op {
        OpCode::Readv | OpCode::Writev => {
            // SAFETY: for vectored ops the ring passes the address and length of the slot's
            // iovec table, which the caller keeps alive.
            let table =
                unsafe { std::slice::from_raw_parts(sqe.addr as *const IoVec, sqe.len as usize) };
            iov.extend_from_slice(table);
        }
        _ => iov.push(IoVec {
            base: sqe.addr as usize,
            len: sqe.len as usize,
        }),
    }
    // Unknown bits go to the kernel, which refuses them (`EOPNOTSUPP`) as it does on the
    // other engines.
    let flags = ReadWriteFlags::from_bits_retain(sqe.rw_flags as u32);
    match sqe.op {
        OpCode::Read | OpCode::Readv => {
            // SAFETY: the slices go only to the kernel; the caller keeps every buffer named
            // by iov writable and alive.
            let bufs = unsafe { io_slices_mut(iov) };
            retry(|| rustix::io::preadv2(fd, bufs, sqe.offset, flags))
        }
        _ => {
            let wanted: usize = iov.iter().map(|v| v.len).sum();
            // SAFETY: the slices go only to the kernel; the caller keeps every buffer named
            // by iov readable and alive.
            let bufs = unsafe { io_slices(iov) };
            let mut tries = 0;
            loop {
                let n = retry(|| rustix::io::pwritev2(fd, bufs, sqe.offset, flags))?;
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

/// A descriptor of a request, for the duration of the request: `None` for `-1`, which
/// names no descriptor (the kernel answers `EBADF` for it).
///
/// # Safety
/// `fd` must stay open until the request's completion is published. The ring upholds
/// this: the request owns its descriptors ([`Fd`](crate::Fd)), or [`Engine::submit`]
/// pinned duplicates of borrowed ones, or (when duplicating failed) `Fd::from_raw`'s
/// contract keeps the number open.
unsafe fn request_fd<'a>(fd: RawFd) -> Option<BorrowedFd<'a>> {
    // SAFETY: not -1, and open for as long as the caller uses it (the function's contract).
    (fd != -1).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the file a borrowed one names, which
/// keeps it open even when the caller closes `fd` and its number is reused.
fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: while it submits, the caller keeps a borrowed descriptor open
    // (`Fd::from_raw`'s contract); the borrow ends before submit returns.
    let fd = unsafe { request_fd(fd) }.ok_or(Errno::BADF)?;
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// Waits for readiness of `sqe.fd`, or for cancellation, which the canceller announces
/// by setting the slot's flag and then signalling this worker's eventfd.
fn poll(shared: &Shared, id: usize, sqe: &Sqe) -> Result<usize, Errno> {
    // SAFETY: a running request's descriptor stays open until its completion is published.
    let fd = unsafe { request_fd(sqe.fd) }.ok_or(Errno::BADF)?;
    // The bits' integer type is u16 or i16 depending on rustix's backend (libc's under Miri).
    let wanted = PollFlags::from_bits_retain(sqe.len as u16 as _);
    let mask = wanted | PollFlags::ERR | PollFlags::HUP;
    let waker = shared.wakers.get(id).map(|w| w.as_fd());
    let slice = eventfd::timespec(POLL_SLICE);
    loop {
        // The flag is checked before sleeping; a cancel that sets it afterwards also
        // signals the eventfd, so the poll below returns at once.
        if shared.cancelled(sqe) {
            return Err(Errno::CANCELED);
        }
        let mut fds = [
            PollFd::from_borrowed_fd(fd, wanted),
            PollFd::from_borrowed_fd(waker.unwrap_or(fd), PollFlags::IN),
        ];
        let watched = if waker.is_some() { 2 } else { 1 };
        match rustix::event::poll(&mut fds[..watched], Some(&slice)) {
            // Interrupted: nothing is ready; look at the flag and sleep again.
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = fds[0].revents();
        if ready.contains(PollFlags::NVAL) {
            return Err(Errno::BADF);
        }
        if ready.intersects(mask) {
            #[allow(
                clippy::unnecessary_cast,
                reason = "the bits are i16 on rustix's libc backend (Miri's)"
            )]
            let ready = (ready & mask).bits() as u16;
            return Ok(usize::from(ready));
        }
        if let Some(w) = waker.filter(|_| !fds[1].revents().is_empty()) {
            let _ = eventfd::drain(w);
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
            let _ = eventfd::signal(w.as_fd());
        }
        for handle in self.workers.drain(..) {
            // A worker that panicked has nothing left to join; its request is lost to a
            // bug, not to shutdown, and there is nothing better to do here.
            let _ = handle.join();
        }
    }
}
