//! The one engine behind every emulated context of a process: one [`Ring`] (one io_uring,
//! or one thread pool) and one thread of the library's own, however many contexts the
//! program sets up, so a context costs no descriptor and no thread (kernel AIO allows
//! about 65,000 contexts per process; a ring and a thread each would stop near 10,000).
//!
//! The ring's payload says which context a request belongs to; its [sink](Ring::set_sink)
//! publishes each completion in that context's user-space ring as it is reaped.
//!
//! # Who enters the kernel
//!
//! io_uring runs completion work ("task work") on the thread that submitted a request,
//! and marks that thread as having a signal pending until it has run it: a program thread
//! that submitted sees its own `epoll_wait`, `nanosleep` or `read` fail with `EINTR`
//! although no signal was sent. Kernel AIO never does that. So on io_uring only the
//! library's thread enters the kernel for the ring: program threads queue requests in the
//! ring's table and ring a doorbell (an eventfd) when the engine thread sleeps; the engine
//! thread submits, and owns the ring (`IORING_SETUP_SINGLE_ISSUER |
//! IORING_SETUP_DEFER_TASKRUN`), so completion work is done only when it asks for
//! completions, on itself. On the thread pool, which has no such work, program threads
//! submit and reap themselves and the engine thread reaps when nobody else does.
//!
//! The engine thread blocks every signal: the program's signals are for the program's
//! threads.
//!
//! # Safety
//!
//! The doorbell's poll uses the doorbell eventfd by number; the descriptor is owned by the
//! [`Shared`] whose ring holds the request, and the ring is dropped (waiting for every
//! request) before the descriptor is closed.
#![allow(unsafe_code)]

use super::Ctx;
use crate::forklocal::ForkLocal;
use crate::sys;
use aiolos::sys::Errno;
use aiolos::{AsyncBuffered, Completion, EngineKind, Fd, Op, RawBuf, Ring, Token};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many requests the process's emulated contexts may have in flight together (each
/// context's own limit is the kernel's for its size; past this one, `io_submit` answers
/// `EAGAIN`, as the kernel does when it cannot allocate a request). The ring's table grows
/// to it only as requests need it.
const RING_ENTRIES: u32 = 1 << 16;

/// Threads of the pool engine, shared by every context: enough for the device queue
/// depths programs use with kernel AIO (Miri, which interprets every thread, gets two).
const POOL_THREADS: usize = if cfg!(miri) { 2 } else { 16 };

/// The eventfd a request asked to be signalled (`IOCB_FLAG_RESFD`): a descriptor of our
/// own for the same eventfd, taken at submission as the kernel takes the eventfd then, or
/// the number itself when no descriptor was left.
#[derive(Debug)]
pub enum ResFd {
    /// A duplicate, closed after it is signalled.
    Owned(OwnedFd),
    /// The program's number.
    Raw(RawFd),
}

impl ResFd {
    /// Takes hold of the program's eventfd.
    pub fn take(fd: RawFd) -> ResFd {
        match sys::dup(fd) {
            Ok(own) => ResFd::Owned(own),
            Err(_) => ResFd::Raw(fd),
        }
    }

    pub(super) fn raw(&self) -> RawFd {
        match self {
            ResFd::Owned(fd) => fd.as_raw_fd(),
            ResFd::Raw(fd) => *fd,
        }
    }
}

/// What the ring keeps of an iocb, as the payload of its slot.
#[derive(Debug)]
pub struct Req {
    /// The context the request belongs to (`None`: the engine thread's doorbell poll).
    pub ctx: Option<Arc<Ctx>>,
    /// The iocb's address (the event's `obj`, and how `io_cancel` names the request).
    pub iocb: u64,
    /// The iocb's `aio_data` (the event's `data`).
    pub data: u64,
    pub resfd: Option<ResFd>,
    /// An `IOCB_CMD_POLL`: the only kind `io_cancel` cancels, as on the kernel.
    pub poll: bool,
    /// `io_cancel` took it: a second cancel is `EINVAL`, and its `ECANCELED` completion is
    /// reported as the kernel reports a cancelled poll (`res` 0).
    pub cancelled: bool,
    /// Bytes a buffered read already got inside `io_submit` before the rest was handed to
    /// the engine.
    pub done: i64,
    /// A file's read, write or sync, which completes by itself: its number in the order
    /// requests were accepted, for [`wait_at_exit`]. 0 for a poll or I/O on a pipe or a
    /// socket (the kernel would have done those inside `io_submit`, or cancels them at
    /// exit).
    pub exit_ticket: u64,
}

/// The next [`Req::exit_ticket`].
static TICKETS: AtomicU64 = AtomicU64::new(1);

impl Req {
    /// A ticket for a request [`wait_at_exit`] waits for.
    pub fn exit_ticket() -> u64 {
        TICKETS.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether this request belongs to context `ctx`.
    pub fn belongs_to(&self, ctx: &Ctx) -> bool {
        self.ctx
            .as_ref()
            .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), ctx))
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ctx({})", self.id())
    }
}

/// The engine shared by this process's emulated contexts.
pub struct Shared {
    ring: Ring<RawBuf, Req>,
    /// Only the engine thread submits, reaps and cancels (io_uring).
    owner_only: bool,
    doorbell: OwnedFd,
    /// The engine thread is about to sleep or sleeps: ring the doorbell.
    sleeping: AtomicBool,
    /// The doorbell's poll completed (set by the sink; the engine thread re-arms it).
    rang: Arc<AtomicBool>,
    cancels: Mutex<Vec<Token>>,
    /// Tells the engine thread to return (Miri only: see [`release`]).
    stop: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The engine of this process, started on first use, and how many contexts use it. A fork
/// child starts with none ([`ForkLocal`]): the parent's ring and thread are not the child's
/// to use (the io_uring descriptor is shared with the parent; the thread does not exist).
#[derive(Default)]
struct Engine {
    shared: Option<Arc<Shared>>,
    users: usize,
}

static ENGINE: ForkLocal<Mutex<Engine>> = ForkLocal::new(Mutex::default);

/// The process's engine for `kind` (`uring` falls back to `threads` where io_uring cannot
/// be set up), counted as used by one more context until [`release`].
///
/// # Errors
/// `EAGAIN` when no thread can be started, or the engine's set-up error.
pub fn get(kind: EngineKind) -> Result<Arc<Shared>, Errno> {
    let mut e = lock(ENGINE.get());
    let shared = match &e.shared {
        Some(s) => Arc::clone(s),
        None => {
            let s = start(kind)?;
            e.shared = Some(Arc::clone(&s));
            s
        }
    };
    e.users += 1;
    Ok(shared)
}

/// A context stops using the engine. The engine lives as long as the process (setting an
/// io_uring and a thread up again for every context would make programs that set up and
/// destroy contexts often slow), except under Miri, which requires every thread to have
/// ended when a test program does: there the last context stops it.
pub fn release() {
    let Some(e) = ENGINE.peek() else {
        return;
    };
    let mut e = lock(e);
    e.users = e.users.saturating_sub(1);
    if cfg!(miri) && e.users == 0 {
        if let Some(shared) = e.shared.take() {
            shared.stop.store(true, Ordering::SeqCst);
            sys::eventfd_signal(shared.doorbell.as_raw_fd());
            let handle = lock(&shared.thread).take();
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
    }
}

fn start(kind: EngineKind) -> Result<Arc<Shared>, Errno> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("aiolos-aio".into())
        .spawn(move || {
            sys::block_signals();
            // Built here: an io_uring set up with SINGLE_ISSUER belongs to the thread that
            // made it, and the pool's threads inherit this thread's signal mask.
            match build(kind) {
                Ok(shared) => {
                    let _ = tx.send(Ok(Arc::clone(&shared)));
                    run(&shared);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
        .map_err(|_| Errno::AGAIN)?;
    let shared = rx.recv().map_err(|_| Errno::AGAIN)??;
    *lock(&shared.thread) = Some(handle);
    // Once per process: a fork child inherits the registration (and has an engine of its
    // own, if any, which the function finds). Miri has no atexit.
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    if !cfg!(miri) {
        AT_EXIT.call_once(|| {
            if !sys::at_exit(wait_at_exit) && aiolos::engine::log_enabled() {
                eprintln!("aiolos: exit() will not wait for requests in flight (atexit failed)");
            }
        });
    }
    Ok(shared)
}

/// Runs at `exit()` (and a return from `main`): waits for the file requests the engine had
/// when the process began to leave, as the kernel's exit waits for every request of a
/// context before the process is gone. Without it a write the engine had not yet started
/// (`O_DIRECT` on the engine) never reached its file. Requests that other threads submit
/// meanwhile are not waited for (the kernel would have ended those threads first), nor
/// polls. `_exit` and `exec` run no code of the process: what the engine had not started
/// then is lost (`docs/dropin.md`).
extern "C" fn wait_at_exit() {
    let Some(engine) = ENGINE.peek() else {
        return;
    };
    let Some(shared) = lock(engine).shared.clone() else {
        return;
    };
    let last = TICKETS.load(Ordering::Relaxed);
    while shared
        .ring
        .find(|r| r.exit_ticket != 0 && r.exit_ticket < last)
        .is_some()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn ring_for(kind: EngineKind) -> Result<Ring<RawBuf, Req>, aiolos::Error> {
    Ring::builder()
        .entries(RING_ENTRIES)
        .engine(kind)
        .single_issuer(kind == EngineKind::Uring)
        // Buffered reads that reach the engine missed the page cache (the warm ones
        // completed inside io_submit): straight to the kernel's workers, so the engine
        // thread never starts a read-ahead itself.
        .async_buffered(AsyncBuffered::Always)
        .threads(POOL_THREADS)
        .build_with_payload::<RawBuf, Req>()
}

fn build(kind: EngineKind) -> Result<Arc<Shared>, Errno> {
    let ring = match ring_for(kind) {
        Ok(r) => r,
        Err(e) if kind == EngineKind::Uring => {
            if aiolos::engine::log_enabled() {
                eprintln!(
                    "aiolos: libaio.so.1 runs on threads: io_uring could not be set up ({e})"
                );
            }
            ring_for(EngineKind::Threads).map_err(|e| e.errno().unwrap_or(Errno::NOMEM))?
        }
        Err(e) => return Err(e.errno().unwrap_or(Errno::NOMEM)),
    };
    let rang = Arc::new(AtomicBool::new(false));
    let sink_rang = Arc::clone(&rang);
    ring.set_sink(move |c| publish(c, &sink_rang));
    let shared = Arc::new(Shared {
        owner_only: ring.engine_kind() == EngineKind::Uring,
        ring,
        doorbell: sys::eventfd()?,
        sleeping: AtomicBool::new(false),
        rang,
        cancels: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        thread: Mutex::new(None),
    });
    if !shared.owner_only && !cfg!(miri) {
        // The pool's worker that finishes a request publishes it (through the sink) at
        // once. The engine lives as long as the process (`ENGINE` keeps it), so the
        // worker never holds the last reference; under Miri the engine is stopped and
        // joined, so the engine thread reaps there, as it does for what no worker
        // completes.
        let weak = Arc::downgrade(&shared);
        shared.ring.set_completion_hook(move || {
            if let Some(s) = weak.upgrade() {
                let _ = s.ring.drive(Some(Duration::ZERO));
            }
        });
    }
    Ok(shared)
}

/// The ring's sink: a completion goes to its context's ring, as the kernel would post it
/// (the doorbell's poll only says the doorbell rang).
fn publish(c: Completion<RawBuf, Req>, rang: &AtomicBool) {
    let mut res = c.raw_result();
    let req = c.user_data;
    let Some(ctx) = req.ctx else {
        rang.store(true, Ordering::SeqCst);
        return;
    };
    // The kernel completes a cancelled poll with no events ready: res 0.
    if req.cancelled && res == -i64::from(Errno::CANCELED.0) {
        res = 0;
    }
    if req.done > 0 {
        // A read that got part of its data inside io_submit: a short read if the rest
        // failed, as the kernel reports a read that stops part way.
        res = if res < 0 { req.done } else { req.done + res };
    }
    let resfd = req.resfd.as_ref().map(ResFd::raw);
    ctx.publish(req.data, req.iocb, res, resfd);
}

impl Shared {
    /// The ring requests are pushed to.
    pub fn ring(&self) -> &Ring<RawBuf, Req> {
        &self.ring
    }

    /// Whether only the engine thread enters the kernel (then program threads neither
    /// submit nor reap, and a request's descriptor is duplicated at submission, since the
    /// engine thread resolves it later).
    pub fn owner_only(&self) -> bool {
        self.owner_only
    }

    /// Gets pushed requests to the kernel: the engine thread does it (woken if asleep),
    /// or this thread does.
    pub fn kick(&self) {
        if self.owner_only {
            if self.sleeping.load(Ordering::SeqCst) {
                sys::eventfd_signal(self.doorbell.as_raw_fd());
            }
        } else {
            let _ = self.ring.submit();
        }
    }

    /// Asks the engine to cancel a request (a poll).
    pub fn cancel(&self, token: Token) {
        if self.owner_only {
            lock(&self.cancels).push(token);
            sys::eventfd_signal(self.doorbell.as_raw_fd());
        } else {
            let _ = self.ring.cancel(token);
        }
    }
}

/// The engine thread: submits what program threads queued (io_uring), and waits in the
/// engine for completions, reaping them as they come. On io_uring it also waits for its
/// doorbell: a poll of the doorbell eventfd in the ring itself, so one `io_uring_enter`
/// both submits and sleeps until a completion or the doorbell.
///
/// On the pool it sleeps on the ring's notification descriptor and reaps without
/// waiting: it does not hold the ring's one reaper turn while it sleeps, so a program
/// thread that ran its own request ([`Ring::help`], in `io_getevents`) reaps that
/// completion itself at once instead of waiting for this thread to wake and post it.
fn run(shared: &Shared) {
    if !shared.owner_only && !cfg!(miri) {
        let notify = shared.ring.notify_fd();
        loop {
            sys::wait_readable(notify);
            // Emptied before reaping: a completion that lands after the reap signals it
            // again (the pool signals once per reap cycle). If a program thread holds the
            // reaper's turn, the drive returns at once and that thread reaps once more
            // before its turn ends (`Ring::drive`), so nothing that signalled is missed.
            sys::eventfd_drain(notify);
            let _ = shared.ring.drive(Some(Duration::ZERO));
        }
    }
    let spin = spin_time();
    let mut armed = false;
    let mut last_work = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.rang.swap(false, Ordering::SeqCst) {
            sys::eventfd_drain(shared.doorbell.as_fd());
            armed = false;
        }
        if shared.owner_only && !armed {
            armed = arm_doorbell(shared);
        }
        let cancels = std::mem::take(&mut *lock(&shared.cancels));
        for t in cancels {
            let _ = shared.ring.cancel(t);
        }
        // Right after work, look again for a while before sleeping (AIOLOS_SPIN_US): the
        // next request of a program waiting on one at a time then needs no doorbell.
        if last_work.elapsed() < spin {
            let queued = shared.ring.queued();
            if shared.ring.drive(Some(Duration::ZERO)).unwrap_or(0) > 0 || queued > 0 {
                last_work = Instant::now();
            }
            std::hint::spin_loop();
            continue;
        }
        // Anything queued from here on is announced by the doorbell (pushers look at
        // `sleeping` after queueing; drive submits what was queued before it waits).
        shared.sleeping.store(true, Ordering::SeqCst);
        let applied = shared.ring.drive(WAIT).unwrap_or(0);
        shared.sleeping.store(false, Ordering::SeqCst);
        if applied > 0 {
            last_work = Instant::now();
        }
    }
}

/// How long one wait of the engine thread lasts at most: forever, except under Miri,
/// where a stopping engine thread must notice (a pool has no doorbell).
const WAIT: Option<Duration> = if cfg!(miri) {
    Some(Duration::from_millis(5))
} else {
    None
};

/// Queues a poll of the doorbell eventfd (the next drive submits it).
fn arm_doorbell(shared: &Shared) -> bool {
    // SAFETY: the doorbell eventfd is owned by `shared`, whose ring (dropped first) waits
    // for this request before the descriptor is closed.
    let fd = unsafe { Fd::from_raw(shared.doorbell.as_raw_fd()) };
    let req = Req {
        ctx: None,
        iocb: 0,
        data: 0,
        resfd: None,
        poll: false,
        cancelled: false,
        done: 0,
        exit_ticket: 0,
    };
    shared
        .ring
        .push_with(Op::poll(fd, aiolos::op::events::POLLIN), req)
        .is_ok()
}

/// How long the engine thread keeps looking for work after its last before it sleeps
/// (`AIOLOS_SPIN_US`, microseconds; default 0).
fn spin_time() -> Duration {
    let us = std::env::var("AIOLOS_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_micros(us)
}
