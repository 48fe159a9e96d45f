//! The `uring` and `threads` engines: kernel AIO's semantics on an io_uring or a thread
//! pool, with `io_context_t` pointing at a user-space ring with the kernel ring's layout.
//!
//! - One engine for the whole process (`shared.rs`): every context's requests go to one
//!   [`aiolos::Ring`] and one thread of the library's own, so a context costs no
//!   descriptor and no thread; its limits are the kernel's for its size (`limits.rs`).
//! - The ring a program sees is shared memory that the library writes through a view of
//!   its own (`arena.rs`), so the program may `mremap` it (the context is then recognised
//!   at its new address, `table.rs`) or unmap it, and nothing is written where it was.
//! - Buffered reads and writes are done inside `io_submit` as kernel AIO does them, when
//!   the page cache serves them without blocking (`inline.rs`); what would block goes to
//!   the engine (reads) or is finished in `io_submit` (writes, whose buffer is then free).
//! - Every iocb is checked as `io_submit` checks it, in the kernel's order (`load.rs`,
//!   `fdinfo.rs`).
//!
//! Completions are published in the context's ring the moment they are known (inline, or
//! by whoever reaps the engine), then the request's eventfd is signalled, then threads
//! waiting in `io_getevents` are woken: a futex on the context, which a signal handler
//! interrupts (`EINTR`, as the kernel's wait), or with `io_pgetevents`' mask a `ppoll` on
//! an eventfd of the caller's.
//!
//! # Safety
//!
//! Caller memory is read and written only through [`crate::caller`]; buffers named by
//! iocbs are wrapped in [`RawBuf`]s and descriptors used by number, under `io_submit`'s
//! contract (valid until the completion is reaped). The ring is written through the
//! library's view, whose span this module frees only when no request can write it.
#![allow(unsafe_code)]

mod arena;
mod direct;
mod fdinfo;
mod inline;
mod limits;
mod load;
mod shared;
mod table;

use crate::abi::{IoContext, IoEvent, Iocb};
use crate::caller;
use crate::sys;
use crate::userring::UserRing;
use aiolos::sys::Errno;
use aiolos::{EngineKind, Fd, Op, RawBuf, RwFlags};
use arena::Span;
use load::{Checked, Rw};
use shared::{Req, ResFd, Shared};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use load::{read_sigmask, read_timeout};

/// The signal mask an `io_getevents` sleeps with (the kernel's 8-byte set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Not known (the library's own tests): sleeps on a futex, and a signal handler
    /// that runs ends the sleep (`EINTR`).
    None,
    /// The calling thread's own mask, which the call holds off ([`crate::sigmask::Held`])
    /// outside its sleeps: a signal it lets through ends a sleep, or, pending at the end
    /// of a call that found no event, makes it `EINTR` (the kernel's `io_getevents`).
    Thread(u64),
    /// `io_pgetevents`' mask, in effect for the whole call.
    Call(u64),
}

/// The bit [`table::maps_ring_of`] flips in the ring header's `header_length`.
const PROBE_BIT: u32 = 1 << 31;
/// The shortest `io_getevents` wait that may run a request itself ([`Ctx::help`]): far
/// longer than a local disk's request takes, so that the wait does not overrun.
const HELP_MIN_WAIT: Duration = Duration::from_millis(100);

/// The longest single futex sleep (a wait without a deadline sleeps in such steps).
const LONG_SLEEP: Duration = Duration::from_secs(3600);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent before anything can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One emulated context.
pub struct Ctx {
    id: u32,
    sizes: limits::Sizes,
    ring: UserRing,
    /// The ring's memory, until the context is gone; its lock is held by whoever writes
    /// the ring other than a producer (consumers moving `head`, the address check).
    span: Mutex<Option<Span>>,
    /// Where the program's view of the ring is, as far as the library knows.
    view: AtomicUsize,
    shared: Arc<Shared>,
    /// Requests accepted and not yet published.
    in_flight: AtomicU32,
    destroyed: AtomicBool,
    /// Bumped at every publication and at `io_destroy`: the futex waiters sleep on.
    seq: AtomicU32,
    sleepers: AtomicU32,
    /// Serialises producers.
    produce: Mutex<()>,
    /// Eventfds of `io_pgetevents` callers sleeping in `ppoll` with their signal mask.
    masked: Mutex<Vec<RawFd>>,
    /// The kernel AIO context its `O_DIRECT` requests go to (`direct.rs`).
    direct: Mutex<direct::State>,
    /// Requests sent to that context and not yet harvested from it.
    in_kernel: AtomicU32,
}

/// `io_setup` on an emulated engine: checks as the kernel does (`*ctxp` read first, then
/// "`*ctxp` not 0 or `nr` 0", then the size, then the process's share of
/// `fs.aio-max-nr`), sets the context up and writes its address to `*ctxp` (a context
/// that cannot be written there is destroyed again).
///
/// # Errors
/// `EFAULT`, `EINVAL`, `EAGAIN`, `ENOMEM` as the kernel's.
pub fn setup(kind: EngineKind, nr: i32, ctxp: *mut IoContext) -> Result<(), Errno> {
    let current: u64 = caller::load_value(ctxp.cast::<u64>())?;
    if current != 0 || nr == 0 {
        return Err(Errno::INVAL);
    }
    let max_nr = limits::aio_max_nr();
    let sizes = limits::sizes(
        nr as u32,
        limits::possible_cpus(),
        rustix::param::page_size() as u64,
        max_nr,
    )?;
    let shared = shared::get(kind)?;
    let ctx = match table::insert(|id| Ctx::new(id, sizes, shared)) {
        Ok(c) => c,
        Err(e) => {
            shared::release();
            return Err(e);
        }
    };
    if let Err(e) = limits::QUOTA.reserve(sizes.max_reqs, max_nr) {
        ctx.destroy_quietly();
        return Err(e);
    }
    if let Err(e) = caller::store_u64(ctxp.cast(), ctx.view() as u64) {
        let _ = ctx.destroy();
        return Err(e);
    }
    Ok(())
}

/// The emulated context the program calls `ctx`, if it is one.
pub fn lookup(ctx: IoContext) -> Option<Arc<Ctx>> {
    table::lookup(ctx as usize)
}

impl Ctx {
    fn new(id: u32, sizes: limits::Sizes, shared: Arc<Shared>) -> Result<(Arc<Ctx>, usize), Errno> {
        let span = arena::alloc(sizes.pages)?;
        // SAFETY: the span is fresh, zeroed, page-aligned memory of `pages` pages (at least
        // the ring's size), which stays mapped for the life of the process and which only
        // this context writes until it frees the span.
        let ring = unsafe { UserRing::init(span.addr(), sizes.ring_nr, id) };
        let view = match arena::map_view(&span) {
            Ok(v) => v,
            Err(e) => {
                arena::free(span);
                return Err(e);
            }
        };
        let ctx = Arc::new(Ctx {
            id,
            sizes,
            ring,
            span: Mutex::new(Some(span)),
            view: AtomicUsize::new(view),
            shared,
            in_flight: AtomicU32::new(0),
            destroyed: AtomicBool::new(false),
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            produce: Mutex::new(()),
            masked: Mutex::new(Vec::new()),
            direct: Mutex::new(direct::State::Untried),
            in_kernel: AtomicU32::new(0),
        });
        Ok((ctx, view))
    }

    /// The context's id (the ring header's `id`).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The address of the program's view of the ring, as far as the library knows.
    pub fn view(&self) -> usize {
        self.view.load(Ordering::Acquire)
    }

    fn set_view(&self, addr: usize) {
        self.view.store(addr, Ordering::Release);
    }

    fn destroyed(&self) -> bool {
        self.destroyed.load(Ordering::SeqCst)
    }

    /// Flips [`PROBE_BIT`] in the header through the library's view (if the ring still
    /// exists).
    fn flip_probe_bit(&self) {
        let span = lock(&self.span);
        if span.is_some() {
            let p = std::ptr::with_exposed_provenance::<AtomicU32>(self.ring.addr() + 28);
            // SAFETY: header_length is an aligned u32 of the ring's header, in the span,
            // which the lock held here keeps from being freed.
            unsafe { (*p).fetch_xor(PROBE_BIT, Ordering::SeqCst) };
        }
    }

    /// Takes a request slot: room in the ring for its event (the kernel's limit for the
    /// context's size), on a context not being destroyed.
    fn reserve(&self) -> Result<(), Errno> {
        let mut f = self.in_flight.load(Ordering::SeqCst);
        loop {
            if f + self.ring.pending() >= self.sizes.capacity {
                return Err(Errno::AGAIN);
            }
            match self
                .in_flight
                .compare_exchange(f, f + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(now) => f = now,
            }
        }
        // After the increment: io_destroy either sees it (and waits) or we see it.
        if self.destroyed() {
            self.unreserve();
            return Err(Errno::INVAL);
        }
        Ok(())
    }

    fn unreserve(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.wake();
    }

    /// Posts a completion: the event goes into the ring, then the request's eventfd is
    /// signalled, then waiters are woken (the kernel's `aio_complete` order).
    pub fn publish(&self, data: u64, iocb: u64, res: i64, resfd: Option<RawFd>) {
        self.publish_many(&[(data, iocb, res, resfd)]);
    }

    /// [`Ctx::publish`] for several completions (`data`, iocb, `res`, eventfd) at once:
    /// one wake-up for them all.
    fn publish_many(&self, done: &[(u64, u64, i64, Option<RawFd>)]) {
        if done.is_empty() {
            return;
        }
        {
            let _one = lock(&self.produce);
            for &(data, iocb, res, _) in done {
                self.ring.push(IoEvent {
                    data,
                    obj: iocb,
                    res,
                    res2: 0,
                });
            }
        }
        self.in_flight
            .fetch_sub(done.len() as u32, Ordering::SeqCst);
        for fd in done.iter().filter_map(|d| d.3) {
            sys::eventfd_signal(fd);
        }
        self.wake();
    }

    fn wake(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&self.seq);
        }
        let masked = lock(&self.masked);
        for &fd in masked.iter() {
            sys::eventfd_signal(fd);
        }
    }

    /// `io_submit`: queues up to `nr` requests (`nr >= 0`, checked by the caller); returns
    /// how many.
    ///
    /// # Errors
    /// As the kernel's `io_submit` when the first request is refused.
    pub fn submit(self: &Arc<Self>, nr: i64, ios: *const *mut Iocb) -> Result<usize, Errno> {
        if self.destroyed() {
            return Err(Errno::INVAL);
        }
        let nr = (nr as u64).min(u64::from(self.sizes.ring_nr)) as usize;
        let mut done = 0;
        let mut first_err = None;
        let mut pushed = false;
        let mut batch = direct::Batch::default();
        'chunks: for start in (0..nr).step_by(CHUNK) {
            let chunk = (nr - start).min(CHUNK);
            let (ptrs, cbs) = match load::load_iocbs(ios.wrapping_add(start), chunk) {
                Ok(v) => v,
                Err(e) => {
                    first_err = Some(e);
                    break;
                }
            };
            for i in 0..chunk {
                let r = match (ptrs.get(i), cbs.get(i)) {
                    (Some(&p), Some(cb)) => self.submit_one(p, cb, &mut pushed, &mut batch),
                    _ => Err(Stop::Refused(Errno::FAULT)),
                };
                match r {
                    Ok(()) => done += 1,
                    Err(Stop::Refused(e)) => {
                        first_err = Some(e);
                        break 'chunks;
                    }
                    Err(Stop::Kernel { refused, err }) => {
                        // The kernel took only the first of the batched requests before
                        // this one: io_submit ends there, as the kernel's would.
                        done -= refused;
                        first_err = Some(err);
                        break 'chunks;
                    }
                }
            }
        }
        if let Err((refused, err)) = self.flush(&mut batch) {
            done -= refused;
            first_err = Some(err);
        }
        if pushed {
            self.shared.kick();
        }
        if done > 0 {
            return Ok(done);
        }
        first_err.map_or(Ok(0), Err)
    }

    /// Sends the `O_DIRECT` requests batched so far to the kernel; on a refusal, how many
    /// of them it did not take and its error (if it took none, the error is io_submit's
    /// when nothing came before).
    ///
    /// What the kernel finished inside its `io_submit` (a request refused in its event, as
    /// `-EFAULT` for a bad buffer) is in the context's ring when this returns, before the
    /// requests after the batch are done, as on the kernel.
    fn flush(&self, batch: &mut direct::Batch) -> Result<(), (usize, Errno)> {
        let n = batch.len();
        let r = self.direct_flush(batch);
        if n > 0 {
            self.harvest();
        }
        match r {
            Ok(k) if k == n => Ok(()),
            // A partial submission: the kernel's count says where it stopped.
            Ok(k) => Err((n - k, Errno::AGAIN)),
            Err(e) => Err((n, e)),
        }
    }

    /// One iocb, checked in the kernel's order, then done inline, batched for the kernel
    /// (`O_DIRECT`), or handed to the engine. Anything batched is sent to the kernel before
    /// a request that is not.
    fn submit_one(
        self: &Arc<Self>,
        iocb: usize,
        cb: &Iocb,
        pushed: &mut bool,
        batch: &mut direct::Batch,
    ) -> Result<(), Stop> {
        load::check_fields(cb)?;
        self.reserve()?;
        let checked = match load::check_request(iocb, cb) {
            Ok(c) => c,
            Err(e) => {
                self.unreserve();
                return Err(e.into());
            }
        };
        if let Checked::Rw(rw) = &checked {
            if rw.kind.direct()
                && rw.kind.cached_storage()
                && direct::enabled()
                && self.direct_add(iocb, cb, batch)
            {
                return Ok(());
            }
        }
        if batch.len() > 0 {
            if let Err((refused, err)) = self.flush(batch) {
                self.unreserve();
                return Err(Stop::Kernel { refused, err });
            }
        }
        self.submit_rest(iocb, cb, checked, pushed)
            .map_err(Stop::Refused)
    }

    /// A checked request that is not the kernel's: done inline or handed to the engine.
    fn submit_rest(
        self: &Arc<Self>,
        iocb: usize,
        cb: &Iocb,
        checked: Checked,
        pushed: &mut bool,
    ) -> Result<(), Errno> {
        let resfd = (cb.aio_flags & aiolos::sys::aio::IOCB_FLAG_RESFD != 0)
            .then_some(cb.aio_resfd as RawFd);
        let done = |res: i64| {
            self.publish(cb.aio_data, iocb as u64, res, resfd);
            Ok(())
        };
        let (op, poll, already, file) = match checked {
            Checked::Rw(rw) => {
                let (rw, already) = if inline::applies(&rw) {
                    match inline::run(&rw) {
                        inline::Outcome::Done(res) => return done(res),
                        inline::Outcome::Refused(e) => {
                            self.unreserve();
                            return Err(e);
                        }
                        inline::Outcome::Rest { done: n } => (
                            Rw {
                                iov: inline::skip(&rw.iov, n),
                                offset: rw.offset + n as i64,
                                ..rw
                            },
                            n,
                        ),
                    }
                } else {
                    (rw, 0)
                };
                if rw.iov.is_empty() {
                    // Nothing (left) to transfer: a vectored request without segments.
                    return done(already as i64);
                }
                let file = rw.kind.cached_storage();
                (self.rw_op(rw), false, already, file)
            }
            Checked::Sync { fd, datasync } => {
                let fd = self.op_fd(fd);
                (
                    if datasync {
                        Op::fdatasync(fd)
                    } else {
                        Op::fsync(fd)
                    },
                    false,
                    0,
                    true,
                )
            }
            Checked::Poll { fd, events } => {
                // Kernel AIO polls once inside io_submit: events ready now complete the
                // request there, and a file that cannot wait (no poll method: a regular
                // file, a directory, /dev/null) refuses a poll for events it does not have.
                match inline::poll_now(fd, events) {
                    Ok(0) => {}
                    Ok(mask) => return done(i64::from(mask)),
                    Err(e) => {
                        self.unreserve();
                        return Err(e);
                    }
                }
                if !cfg!(miri) && fdinfo::cannot_wait(fd) {
                    self.unreserve();
                    return Err(Errno::INVAL);
                }
                (Op::poll(self.op_fd(fd), events as i16), true, 0, false)
            }
            #[cfg(test)]
            Checked::Nop => return done(0),
        };
        let req = Req {
            ctx: Some(Arc::clone(self)),
            iocb: iocb as u64,
            data: cb.aio_data,
            resfd: resfd.map(ResFd::take),
            poll,
            cancelled: false,
            done: already as i64,
            exit_ticket: if file { Req::exit_ticket() } else { 0 },
        };
        match self.shared.ring().push_with(op.user_data(0), req) {
            Ok(_) => {
                *pushed = true;
                Ok(())
            }
            Err(_) => {
                // The process's table of requests is full (or the engine has stopped):
                // as the kernel when it cannot allocate a request.
                self.unreserve();
                Err(Errno::AGAIN)
            }
        }
    }

    /// The descriptor an engine request uses. Where the engine thread submits later, a
    /// duplicate taken now (the kernel takes the file at io_submit, so closing the
    /// descriptor afterwards does not affect the request); the pool engine takes its own
    /// when this thread submits.
    fn op_fd(&self, fd: RawFd) -> Fd {
        if self.shared.owner_only() {
            if let Ok(own) = sys::dup(fd) {
                return Fd::from(own);
            }
        }
        // SAFETY: the io_submit caller keeps the descriptor open until the request is
        // submitted (which happens before io_submit returns, or with a duplicate above).
        unsafe { Fd::from_raw(fd) }
    }

    fn rw_op(&self, rw: Rw) -> Op<RawBuf> {
        let fd = self.op_fd(rw.fd);
        let bufs: Vec<RawBuf> = rw
            .iov
            .iter()
            // SAFETY: the io_submit caller keeps its buffers valid until the completion
            // is reaped; the kernel (io_uring or the pool's system calls) checks them.
            .map(|v| unsafe { RawBuf::new(std::ptr::with_exposed_provenance_mut(v.base), v.len) })
            .collect();
        let off = rw.offset as u64;
        let op = match (rw.write, bufs.len()) {
            (false, 1) => Op::read(fd, bufs.into_iter().next().expect("one buffer"), off),
            (true, 1) => Op::write(fd, bufs.into_iter().next().expect("one buffer"), off),
            (false, _) => Op::readv(fd, bufs, off),
            (true, _) => Op::writev(fd, bufs, off),
        };
        let op = op.rw_flags(RwFlags(rw.flags));
        match rw.ioprio {
            Some(p) => op.ioprio(p),
            None => op,
        }
    }

    /// Moves up to `max` events to the caller's array at `events`, as the kernel does: the
    /// events are stored first and `head` moves only if that worked. Returns how many, or
    /// `EFAULT` (nothing taken), or `EINVAL` once the context is gone.
    fn take(&self, events: *mut IoEvent, max: usize) -> Result<usize, Errno> {
        let span = lock(&self.span);
        if span.is_none() {
            return Err(Errno::INVAL);
        }
        let mut got = [IoEvent::default(); 128];
        let mut taken = 0;
        while taken < max {
            let want = (max - taken).min(got.len());
            let (n, head) = self.ring.peek(&mut got[..want]);
            if n == 0 {
                break;
            }
            if let Err(e) = load::store_events(events.wrapping_add(taken), &got[..n]) {
                return if taken > 0 { Ok(taken) } else { Err(e) };
            }
            self.ring.advance(head);
            taken += n;
        }
        Ok(taken)
    }

    /// `io_getevents`/`io_pgetevents` (the counts checked by the caller): waits up to
    /// `timeout` (`None`: forever) for `min_nr` events, takes up to `nr`.
    ///
    /// # Errors
    /// `EINVAL` (the context destroyed), `EFAULT` (events), `EINTR`.
    pub fn getevents(
        &self,
        min_nr: i64,
        nr: i64,
        events: *mut IoEvent,
        timeout: Option<Duration>,
        mask: Mask,
    ) -> Result<usize, Errno> {
        let deadline = timeout.map(|d| Instant::now().checked_add(d));
        let (min, max) = (min_nr as usize, nr as usize);
        let mut n = 0;
        let interrupted = loop {
            // What the kernel has finished is reaped first, as kernel AIO's own would be.
            self.harvest();
            match self.take(events.wrapping_add(n), max - n) {
                Ok(k) => n += k,
                Err(e) if n == 0 => return Err(e),
                Err(_) => break false,
            }
            if self.destroyed() {
                if n == 0 {
                    return Err(Errno::INVAL);
                }
                break false;
            }
            if n >= min || n == max {
                break false;
            }
            let remaining = match deadline {
                None | Some(None) => None,
                Some(Some(d)) => match d.checked_duration_since(Instant::now()) {
                    Some(r) if !r.is_zero() => Some(r),
                    _ => break false,
                },
            };
            if self.help(min - n, mask, remaining) {
                continue;
            }
            let slept = match mask {
                _ if self.in_kernel() => self.sleep_direct(remaining, mask),
                Mask::Thread(m) | Mask::Call(m) => self.sleep_masked(remaining, m),
                Mask::None => self.sleep(remaining),
            };
            if slept.is_err() {
                // A signal: the kernel takes what is there once more before it returns.
                self.harvest();
                if let Ok(k) = self.take(events.wrapping_add(n), max - n) {
                    n += k;
                }
                break true;
            }
        };
        match mask {
            // A signal the mask unblocks that is pending now is delivered before
            // returning, with the mask still in effect (as the kernel does on leaving).
            Mask::Call(m) => {
                if !interrupted
                    && sys::ppoll_masked(None, Some(Duration::ZERO), m) == Err(Errno::INTR)
                    && n == 0
                {
                    return Err(Errno::INTR);
                }
            }
            // No event and a signal pending that the thread lets through: the kernel
            // answers EINTR (it then runs the handler). With events, the handler runs as
            // the call returns and the mask comes back.
            Mask::Thread(m) => {
                if !interrupted
                    && n == 0
                    && sys::ppoll_masked(None, Some(Duration::ZERO), m) == Err(Errno::INTR)
                {
                    return Err(Errno::INTR);
                }
            }
            Mask::None => {}
        }
        if interrupted && n == 0 {
            return Err(Errno::INTR);
        }
        Ok(n)
    }

    /// On the pool, before `io_getevents` sleeps for its last missing event: runs the
    /// request at the head of the pool's queue on this thread when the pool is idle (a
    /// lone read, write or sync of a local file or block device, see [`Ring::help`]) and
    /// reaps its completion, instead of sleeping through a hand-off to a worker and back.
    /// Returns whether it did (the caller then looks at the ring again). The request may
    /// be another context's: the pool is idle, so it is the next to complete either way.
    ///
    /// Not for a wait shorter than [`HELP_MIN_WAIT`] (the request would make it overrun),
    /// nor with `io_pgetevents`' signal mask (the request would run without it), nor when
    /// more than one event is missing: a signal handler that runs during the request is
    /// then as if it had come just after the completion, which kernel AIO also returns
    /// events for, instead of `EINTR`.
    ///
    /// [`Ring::help`]: aiolos::Ring::help
    fn help(&self, missing: usize, mask: Mask, remaining: Option<Duration>) -> bool {
        if missing != 1
            || matches!(mask, Mask::Call(_))
            || self.shared.owner_only()
            || remaining.is_some_and(|r| r < HELP_MIN_WAIT)
        {
            return false;
        }
        let ring = self.shared.ring();
        if !ring.help() {
            return false;
        }
        let _ = ring.drive(Some(Duration::ZERO));
        true
    }

    /// Sleeps until something is published or the context destroyed (or `timeout`, or a
    /// signal handler ran: `EINTR`).
    fn sleep(&self, timeout: Option<Duration>) -> Result<(), Errno> {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let seen = self.seq.load(Ordering::SeqCst);
        let r = if self.ring.pending() == 0 && !self.destroyed() {
            sys::futex_wait(
                &self.seq,
                seen,
                timeout.unwrap_or(LONG_SLEEP).min(LONG_SLEEP),
            )
        } else {
            Ok(())
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        match r {
            Err(Errno::INTR) => Err(Errno::INTR),
            _ => Ok(()),
        }
    }

    /// As [`Ctx::sleep`], with the signal mask `mask` installed for the sleep and removed
    /// with it atomically (`ppoll`), on the thread's eventfd, which every publication
    /// signals while it is registered.
    fn sleep_masked(&self, timeout: Option<Duration>, mask: u64) -> Result<(), Errno> {
        let Some(raw) = wake_fd() else {
            // No descriptor to spare for it: the futex, with the mask set around the
            // sleep (a signal in the gap runs its handler before the sleep, which then
            // lasts until the next event or the timeout).
            return crate::sigmask::with_mask(mask, || self.sleep(timeout));
        };
        // Registered before the last look at the ring: a publication after that look
        // signals it.
        lock(&self.masked).push(raw);
        let r = if self.ring.pending() > 0 || self.destroyed() {
            Ok(false)
        } else {
            sys::ppoll_masked(Some(raw), timeout, mask)
        };
        lock(&self.masked).retain(|&w| w != raw);
        match r {
            Err(Errno::INTR) => Err(Errno::INTR),
            Ok(true) => {
                // Reset for the next sleep. A publication between the wake-up and the
                // removal above may leave a count behind: that sleep then wakes once
                // early and looks again.
                if let Ok(fd) = crate::fds::borrow(raw) {
                    sys::eventfd_drain(fd);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `io_cancel`, as the kernel does it: the iocb's key is read first (`EFAULT`, then
    /// `EINVAL` unless 0); only a pending poll can be cancelled (`EINPROGRESS`; its
    /// completion, `res` 0, then arrives once through the ring); reads, writes and syncs
    /// cannot (`EINVAL`) and complete normally.
    ///
    /// # Errors
    /// As above.
    pub fn cancel(&self, iocb: *mut Iocb) -> Result<(), Errno> {
        let key_at = iocb
            .wrapping_byte_add(std::mem::offset_of!(Iocb, aio_key))
            .cast::<u32>();
        let key: u32 = caller::load_value(key_at.cast_const())?;
        if key != 0 || self.destroyed() {
            return Err(Errno::INVAL);
        }
        let addr = iocb as usize as u64;
        let ring = self.shared.ring();
        let token = ring
            .find(|r| r.belongs_to(self) && r.iocb == addr && r.poll && !r.cancelled)
            .ok_or(Errno::INVAL)?;
        let took = ring.with_payload(token, |r| !std::mem::replace(&mut r.cancelled, true));
        if !matches!(took, Ok(true)) {
            return Err(Errno::INVAL);
        }
        self.shared.cancel(token);
        Err(Errno::INPROGRESS)
    }

    /// `io_destroy`: the context stops being found, its waiters are woken (they get
    /// `EINVAL`), its ring is unmapped from the program's address space and its pending
    /// polls cancelled; then it waits for the requests in flight (they still complete
    /// into the library's view of the ring) and frees the ring.
    ///
    /// # Errors
    /// `EINVAL` for a context already being destroyed.
    pub fn destroy(&self) -> Result<(), Errno> {
        if self.destroyed.swap(true, Ordering::SeqCst) {
            return Err(Errno::INVAL);
        }
        table::remove(self);
        limits::QUOTA.release(self.sizes.max_reqs);
        self.wake();
        let view = self.view();
        // Only if the program's view is still where the library last saw it (a ring moved
        // and never used at its new address is left to the program).
        if table::maps_ring_of(view, self) {
            if let Some(s) = lock(&self.span).as_ref() {
                arena::unmap_view(s, view);
            }
        }
        self.cancel_polls();
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            let _ = self.sleep_until_quiet();
        }
        self.direct_teardown();
        self.ring.retire();
        if let Some(s) = lock(&self.span).take() {
            arena::free(s);
        }
        shared::release();
        Ok(())
    }

    /// A context that was never handed to the program: gone without the checks.
    fn destroy_quietly(&self) {
        self.destroyed.store(true, Ordering::SeqCst);
        table::remove(self);
        if let Some(s) = lock(&self.span).take() {
            arena::unmap_view(&s, self.view());
            arena::free(s);
        }
        shared::release();
    }

    fn cancel_polls(&self) {
        let ring = self.shared.ring();
        while let Some(t) = ring.find(|r| r.belongs_to(self) && r.poll && !r.cancelled) {
            let took = ring.with_payload(t, |r| !std::mem::replace(&mut r.cancelled, true));
            if matches!(took, Ok(true)) {
                self.shared.cancel(t);
            }
        }
    }

    fn sleep_until_quiet(&self) -> Result<(), Errno> {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let seen = self.seq.load(Ordering::SeqCst);
        let r = if self.in_flight.load(Ordering::SeqCst) > 0 {
            sys::futex_wait(&self.seq, seen, Duration::from_millis(100))
        } else {
            Ok(())
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

/// Why `io_submit` stopped at a request.
enum Stop {
    /// The request was refused with this error.
    Refused(Errno),
    /// The kernel refused the last `refused` requests batched before it (`err` if it took
    /// none of them).
    Kernel { refused: usize, err: Errno },
}

impl From<Errno> for Stop {
    fn from(e: Errno) -> Stop {
        Stop::Refused(e)
    }
}

/// How many iocbs `io_submit` reads from the caller at once.
const CHUNK: usize = 64;

thread_local! {
    /// The eventfd this thread sleeps on in `io_getevents` (made at its first sleep,
    /// closed when the thread ends; `None` if none could be made), with the fork generation
    /// it was made in.
    static WAKE_FD: std::cell::RefCell<Option<(u64, Option<std::os::fd::OwnedFd>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The calling thread's eventfd for [`Ctx::sleep_masked`].
fn wake_fd() -> Option<RawFd> {
    WAKE_FD
        .try_with(|w| {
            // Busy only if a signal handler calls the library in the middle of this: it
            // then sleeps without an eventfd.
            let mut w = w.try_borrow_mut().ok()?;
            let generation = aiolos::sys::fork_generation();
            if w.as_ref().is_none_or(|(g, _)| *g != generation) {
                // A fork child's copy of the thread that forked shares the eventfd with
                // that thread in the parent: a sleep here could take the wake-up of a
                // sleep there. The child's copy of the descriptor is left open, not
                // closed: the child may have closed that number and opened a file of its
                // own under it (a `closefrom` before its first call).
                if let Some(old) = w.replace((generation, sys::eventfd().ok())) {
                    std::mem::forget(old);
                }
            }
            w.as_ref()
                .and_then(|(_, fd)| fd.as_ref().map(|fd| fd.as_raw_fd()))
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests;
