//! The `uring` and `threads` engines: requests run on an [`aiolos::Ring`] (io_uring, or a
//! thread pool where io_uring is denied), so buffered I/O is truly asynchronous, while
//! `io_context_t` points at a [`UserRing`] with the kernel ring's layout.
//!
//! The Ring is the only table of requests: each slot's payload is what the kernel keeps of
//! an iocb ([`Req`]: its address, `aio_data`, its eventfd). The ring's completions go to a
//! [sink](Ring::set_sink) that publishes each one in the user-space ring the moment it is
//! reaped, whoever reaps (a thread in `io_getevents`, the context's completion thread,
//! `io_destroy`), then signals the request's eventfd (`IOCB_FLAG_RESFD`), as the kernel
//! orders it. Clients that read the ring directly (fio's `userspace_reap`, QEMU, libaio's
//! own fast path) see every completion; `io_getevents` takes events from that ring and,
//! while it has too few, reaps through the Ring (its one reaper election). The completion
//! thread reaps whenever the engine signals, so eventfds and ring readers are served even
//! when nobody is in `io_getevents`.
//!
//! What the kernel checks at `io_submit`, this module checks too (`load.rs`), so errors and
//! partial submits look the same.

mod load;

use crate::abi::{plausible, IoEvent, Iocb, Sigset, Timespec};
use crate::userring::UserRing;
use crate::{fds, sigmask};
use aiolos::sys::aio::{self as kaio, IOCB_FLAG_RESFD};
use aiolos::sys::Errno;
use aiolos::{CancelOutcome, Completion, EngineKind, Error, RawBuf, Ring};
#[cfg(test)]
use load::load_iovec;
use load::{build_op, load, load_iocbs, read_timespec, store_events, IOV_MAX};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the context keeps of a submitted iocb, as the payload of its ring slot.
#[derive(Clone, Copy, Debug)]
pub struct Req {
    /// The iocb's address (the event's `obj`, and how `io_cancel` names the request).
    iocb: u64,
    /// The iocb's `aio_data` (the event's `data`).
    data: u64,
    resfd: Option<i32>,
    /// An `IOCB_CMD_POLL`: the only kind `io_cancel` cancels, as on the kernel.
    poll: bool,
    /// `io_cancel` took it: a second cancel is `EINVAL`, and its `ECANCELED` completion is
    /// reported as the kernel reports a cancelled poll (`res` 0).
    cancelled: bool,
}

/// Eventfds of `io_pgetevents` callers sleeping in `ppoll` with their signal mask; every
/// publication signals them (under this lock, so a descriptor is never written after its
/// owner has deregistered and closed it).
type Masked = Arc<Mutex<Vec<i32>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent before anything can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One emulated context.
pub struct Emulated {
    ring: Ring<RawBuf, Req>,
    events: Arc<UserRing>,
    capacity: u32,
    destroyed: AtomicBool,
    masked: Masked,
    /// Serialises submitters: requests in flight plus events in the user ring never exceed
    /// the capacity (the user ring has room for exactly that many).
    submitting: Mutex<()>,
    /// Serialises the consumers of the user ring inside this library.
    consuming: Mutex<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn sys_err(e: &Error) -> Errno {
    e.errno().unwrap_or(Errno::IO)
}

/// The sink of a context's ring: publishes a completion as the kernel would.
fn publisher(events: Arc<UserRing>, masked: Masked) -> impl FnMut(Completion<RawBuf, Req>) + Send {
    move |c| {
        let req = c.user_data;
        let res = c.raw_result();
        // The kernel completes a cancelled poll with no events ready: res 0.
        let res = if req.cancelled && res == -i64::from(Errno::CANCELED.0) {
            0
        } else {
            res
        };
        events.push(IoEvent {
            data: req.data,
            obj: req.iocb,
            res,
            res2: 0,
        });
        if let Some(fd) = req.resfd {
            // The kernel ignores a failing eventfd the same way.
            let _ = fds::signal(fd);
        }
        wake_masked(&masked);
    }
}

impl Emulated {
    /// Creates a context for `maxevents` requests on `kind`, with its completion thread.
    ///
    /// # Errors
    /// `EINVAL` for `maxevents <= 0` or huge, `EAGAIN` above `fs.aio-max-nr` (as for kernel
    /// contexts), `ENOMEM`, or the engine's set-up error.
    pub fn new(kind: EngineKind, maxevents: i32) -> Result<Arc<Emulated>, Errno> {
        let n = u32::try_from(maxevents).map_err(|_| Errno::INVAL)?;
        if n == 0 || n > 1 << 20 {
            return Err(Errno::INVAL);
        }
        // Same limit as kernel contexts, so programs see the same EAGAIN everywhere.
        if u64::from(n) > aio_max_nr() {
            return Err(Errno::AGAIN);
        }
        let ring = Ring::builder()
            .entries(n)
            .engine(kind)
            .async_buffered(crate::engine::async_buffered())
            .build_with_payload::<RawBuf, Req>()
            .map_err(|e| sys_err(&e))?;
        let events = Arc::new(UserRing::new(n).ok_or(Errno::NOMEM)?);
        let masked = Masked::default();
        ring.set_sink(publisher(Arc::clone(&events), Arc::clone(&masked)));
        let ctx = Arc::new(Emulated {
            ring,
            events,
            capacity: n,
            destroyed: AtomicBool::new(false),
            masked,
            submitting: Mutex::new(()),
            consuming: Mutex::new(()),
            thread: Mutex::new(None),
        });
        let worker = Arc::clone(&ctx);
        let handle = std::thread::Builder::new()
            .name("aiolos-aio".into())
            .spawn(move || worker.complete_forever())
            .map_err(|_| Errno::AGAIN)?;
        *lock(&ctx.thread) = Some(handle);
        Ok(ctx)
    }

    /// The context id handed to C (the ring's address).
    pub fn id(&self) -> u64 {
        self.events.addr()
    }

    fn destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }

    /// The completion thread: whenever the engine signals its notification descriptor,
    /// reaps what is complete (the ring's sink publishes it), unless another thread is
    /// reaping (a caller in `io_getevents`), whose round publishes it instead.
    fn complete_forever(&self) {
        loop {
            wait_readable(self.ring.notify_fd());
            let _ = fds::drain(self.ring.notify_fd());
            if let Err(Error::Closed) = self.ring.drive(Some(Duration::ZERO)) {
                return;
            }
        }
    }

    /// `io_submit`: queues what it can; returns how many.
    ///
    /// # Errors
    /// As the kernel's `io_submit` when the first request is refused.
    pub fn submit(&self, nr: i64, ios: *const *mut Iocb) -> Result<usize, Errno> {
        if nr < 0 {
            return Err(Errno::INVAL);
        }
        let nr = (nr as u64).min(u64::from(self.capacity)) as usize;
        if self.destroyed() {
            return Err(Errno::INVAL);
        }
        let mut done = 0;
        let mut first_err = None;
        // Caller memory is read through the kernel in two calls per chunk (the pointers,
        // then every iocb they name).
        'chunks: for start in (0..nr).step_by(IOV_MAX) {
            let chunk = (nr - start).min(IOV_MAX);
            let (ptrs, cbs) = match load_iocbs(ios.wrapping_add(start), chunk) {
                Ok(v) => v,
                Err(e) => {
                    first_err = Some(e);
                    break;
                }
            };
            let _submitting = lock(&self.submitting);
            if self.destroyed() {
                first_err = Some(Errno::INVAL);
                break;
            }
            for i in 0..chunk {
                let r = match (ptrs.get(i), cbs.get(i)) {
                    (Some(&p), Some(cb)) => self.submit_one(p, cb),
                    _ => Err(Errno::FAULT),
                };
                if let Err(e) = r {
                    first_err = Some(e);
                    break 'chunks;
                }
                done += 1;
            }
        }
        if done > 0 {
            self.ring.submit().map_err(|e| sys_err(&e))?;
            return Ok(done);
        }
        first_err.map_or(Ok(0), Err)
    }

    /// Queues one request. Called with `submitting` held.
    fn submit_one(&self, iocb_ptr: usize, cb: &Iocb) -> Result<(), Errno> {
        let outstanding = self.ring.outstanding() as u32 + self.events.pending();
        if outstanding >= self.capacity {
            return Err(Errno::AGAIN);
        }
        let op = build_op(cb)?;
        let req = Req {
            iocb: iocb_ptr as u64,
            data: cb.aio_data,
            resfd: (cb.aio_flags & IOCB_FLAG_RESFD != 0).then_some(cb.aio_resfd as i32),
            poll: cb.aio_lio_opcode == kaio::IOCB_CMD_POLL,
            cancelled: false,
        };
        self.ring
            .push_with(op, req)
            .map_err(|e| sys_err(&e.error))?;
        Ok(())
    }

    /// Moves up to `out.len()` published events out of the user ring.
    fn pop(&self, out: &mut [IoEvent]) -> usize {
        let _consuming = lock(&self.consuming);
        self.events.pop_into(out)
    }

    /// `io_getevents`: moves between `min_nr` and `nr` events to `events`.
    ///
    /// # Errors
    /// `EINVAL` (counts, or the context destroyed), `EFAULT` (events or timeout).
    pub fn getevents(
        &self,
        min_nr: i64,
        nr: i64,
        events: *mut IoEvent,
        timeout: *const Timespec,
    ) -> Result<usize, Errno> {
        self.wait_events(min_nr, nr, events, timeout, std::ptr::null())
    }

    /// `io_pgetevents`: [`Emulated::getevents`] with the signal mask `*sigmask` (NULL:
    /// unchanged) in effect for the whole call, as the kernel applies it.
    ///
    /// A caller with a mask does not reap (a wait in the engine cannot be interrupted by a
    /// signal): it sleeps in `ppoll` with the mask, on an eventfd of its own that every
    /// publication signals, so installing the mask and sleeping are one atomic step and no
    /// signal slips in between; the completion thread reaps for it. Before returning it
    /// delivers any signal the mask unblocks that is still pending (a zero-timeout
    /// `ppoll`), as the kernel does on the way out of the system call. An interrupted call
    /// returns the events it has, or `EINTR` if none.
    ///
    /// # Errors
    /// As [`Emulated::getevents`]; `EFAULT` for an unreadable mask, `EINTR`.
    pub fn pgetevents(
        &self,
        min_nr: i64,
        nr: i64,
        events: *mut IoEvent,
        timeout: *const Timespec,
        sigmask: *const Sigset,
    ) -> Result<usize, Errno> {
        self.wait_events(min_nr, nr, events, timeout, sigmask)
    }

    fn wait_events(
        &self,
        min_nr: i64,
        nr: i64,
        events: *mut IoEvent,
        timeout: *const Timespec,
        sigmask: *const Sigset,
    ) -> Result<usize, Errno> {
        if min_nr < 0 || nr < 0 || min_nr > nr {
            return Err(Errno::INVAL);
        }
        let limit = if timeout.is_null() {
            None
        } else {
            let t = read_timespec(timeout)?;
            if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
                return Err(Errno::INVAL);
            }
            Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
        };
        // The kernel's signal set is _NSIG / 8 = 8 bytes; that much is read, as it does.
        let mask = if sigmask.is_null() {
            None
        } else {
            Some(load(sigmask.cast::<u64>())?)
        };
        let deadline = limit.map(|d| Instant::now() + d);
        let want = (nr as usize).min(self.capacity as usize);
        if want > 0 && !plausible(events) {
            return Err(Errno::FAULT);
        }
        let min = min_nr as usize;
        let mut got: Vec<IoEvent> = vec![IoEvent::default(); want];
        let (n, interrupted) = self.collect(&mut got, min, deadline, mask)?;
        if let Some(mask) = mask {
            // A signal the mask unblocks that is pending now is delivered before returning,
            // with the mask still in effect (as the kernel does on leaving the call).
            if !interrupted
                && sigmask::ppoll(None, Some(Duration::ZERO), mask) == Err(Errno::INTR)
                && n == 0
            {
                return Err(Errno::INTR);
            }
        }
        if interrupted && n == 0 {
            return Err(Errno::INTR);
        }
        if n > 0 {
            store_events(events, &got[..n])?;
        }
        Ok(n)
    }

    /// Fills `got` with at least `min` events (or what there is by `deadline`); returns how
    /// many, and whether a signal interrupted the wait.
    fn collect(
        &self,
        got: &mut [IoEvent],
        min: usize,
        deadline: Option<Instant>,
        mask: Option<u64>,
    ) -> Result<(usize, bool), Errno> {
        let mut n = 0;
        // Whether what the engine has finished was collected since the last look: kernel
        // AIO completes buffered I/O inside io_submit, so even a caller that does not wait
        // (min_nr = 0, a zero timeout) must find what is already done.
        let mut swept = false;
        // The eventfd a masked caller sleeps on, made when it first has to sleep.
        let mut wake_fd: Option<OwnedFd> = None;
        loop {
            if self.destroyed() {
                return Err(Errno::INVAL);
            }
            n += self.pop(&mut got[n..]);
            if n == got.len() || (n >= min && swept) {
                return Ok((n, false));
            }
            if !swept {
                swept = true;
                match self.ring.drive(Some(Duration::ZERO)) {
                    Ok(_) | Err(Error::Closed) => continue,
                    Err(_) if n > 0 => return Ok((n, false)),
                    Err(e) => return Err(sys_err(&e)),
                }
            }
            let remaining = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(r) if !r.is_zero() => Some(r),
                    _ => return Ok((n, false)),
                },
                None => None,
            };
            if let Some(mask) = mask {
                let fd = match wake_fd {
                    Some(ref fd) => fd,
                    None => wake_fd.insert(fds::eventfd()?),
                };
                match self.sleep_masked(fd, remaining, mask) {
                    Ok(()) => continue,
                    Err(Errno::INTR) => {
                        // The kernel looks at the ring once more before it gives up.
                        n += self.pop(&mut got[n..]);
                        return Ok((n, true));
                    }
                    // Events already taken from the ring are not dropped for an error.
                    Err(_) if n > 0 => return Ok((n, false)),
                    Err(e) => return Err(e),
                }
            }
            // Reap (or sleep until the thread that reaps ends its round): the sink
            // publishes what completes.
            match self.ring.drive(remaining) {
                Ok(_) | Err(Error::Closed) => {}
                Err(_) if n > 0 => return Ok((n, false)),
                Err(e) => return Err(sys_err(&e)),
            }
        }
    }

    /// Sleeps in `ppoll` with `mask` on `fd` until a publication signals it (or `timeout`).
    fn sleep_masked(
        &self,
        fd: &OwnedFd,
        timeout: Option<Duration>,
        mask: u64,
    ) -> Result<(), Errno> {
        // Drained and registered before the last look at the user ring: a publication
        // after that look finds the descriptor registered and signals it.
        let _ = fds::drain(fd.as_fd());
        let raw = fd.as_raw_fd();
        lock(&self.masked).push(raw);
        let r = if self.events.pending() > 0 || self.destroyed() {
            Ok(())
        } else {
            sigmask::ppoll(Some(raw), timeout, mask)
        };
        lock(&self.masked).retain(|&w| w != raw);
        r
    }

    /// `io_cancel`, as the kernel does it: only a pending poll can be cancelled
    /// (`EINPROGRESS`; its completion, `res` 0, then arrives once through the ring). Reads,
    /// writes and syncs cannot (`EINVAL`, whether queued, running or complete) and complete
    /// normally. Nothing is ever written to the caller's result event, which the kernel
    /// ignores too. The request is found by its iocb's address, by a scan of the requests
    /// outstanding, as the kernel does.
    ///
    /// # Errors
    /// `EINPROGRESS` when cancelling (the completion follows), `EINVAL` when the request is
    /// unknown, complete, already cancelled, not a poll, or the iocb's key is not the one
    /// `io_submit` leaves there (0), `EFAULT` for an unreadable iocb.
    pub fn cancel(&self, iocb: *mut Iocb) -> Result<(), Errno> {
        // The kernel reads the iocb's key first: an unreadable iocb is EFAULT.
        let cb = load(iocb.cast_const())?;
        if cb.aio_key != 0 {
            return Err(Errno::INVAL);
        }
        let addr = iocb as usize as u64;
        let token = self.ring.find(|r| r.iocb == addr).ok_or(Errno::INVAL)?;
        let cancellable = self.ring.with_payload(token, |r| {
            let ok = r.poll && !r.cancelled;
            r.cancelled |= ok;
            ok
        });
        if !matches!(cancellable, Ok(true)) {
            return Err(Errno::INVAL);
        }
        match self.ring.cancel(token) {
            Ok(CancelOutcome::Cancelled | CancelOutcome::Requested) => Err(Errno::INPROGRESS),
            Ok(_) | Err(_) => Err(Errno::INVAL),
        }
    }

    /// `io_destroy`: wakes every waiter (they get `EINVAL`), waits for the requests in
    /// flight (publishing their completions), stops the completion thread and retires the
    /// ring.
    pub fn destroy(&self) {
        self.destroyed.store(true, Ordering::Release);
        wake_masked(&self.masked);
        // Wakes threads reaping or sleeping in the ring; they see `destroyed`.
        let _ = self.ring.close();
        // The completion thread sleeps on the ring's notification descriptor: wake it to
        // see the ring closed.
        let _ = fds::signal(self.ring.notify_fd().as_raw_fd());
        let handle = lock(&self.thread).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.events.retire();
    }
}

/// Wakes the `io_pgetevents` callers sleeping with a signal mask.
fn wake_masked(masked: &Masked) {
    for &fd in lock(masked).iter() {
        let _ = fds::signal(fd);
    }
}

/// Sleeps until `fd` (the engine's notification eventfd) is readable.
#[cfg(not(miri))]
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>) {
    let _ = fds::wait_readable(fd);
}

/// Miri cannot run `poll`: drain the eventfd every millisecond (of Miri's virtual clock)
/// until it was signalled (the caller's own drain then finds it empty).
#[cfg(miri)]
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>) {
    while let Ok(0) = fds::drain(fd) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `fs.aio-max-nr`, read once (no limit if unreadable).
fn aio_max_nr() -> u64 {
    if cfg!(miri) {
        // Miri isolates the program from the file system.
        return u64::MAX;
    }
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/aio-max-nr")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u64::MAX)
    })
}

#[cfg(test)]
mod tests;
