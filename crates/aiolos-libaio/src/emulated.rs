//! The `uring` and `threads` engines: requests run on an [`aiolos::Ring`] (io_uring, or a
//! thread pool where io_uring is denied), so buffered I/O is truly asynchronous, while
//! `io_context_t` points at a [`UserRing`] with the kernel ring's layout. A completion
//! thread per context moves each finished request into that ring (so clients that read
//! the ring directly see it) and then signals the request's eventfd (`IOCB_FLAG_RESFD`),
//! whether or not anybody is in `io_getevents`.
//!
//! A thread that waits in `io_getevents` does not wait for the completion thread: it
//! becomes the context's reaper, waits on the aiolos ring itself and publishes what
//! completes, while the completion thread stands aside. On io_uring the last step of a
//! buffered read runs as task work in the submitting thread, which is usually the one in
//! `io_getevents`; so a waiting caller is woken once per batch, not three times (caller for
//! the task work, completion thread for the event, caller again).
//!
//! What the kernel checks at `io_submit`, this module checks too (opcode, reserved fields,
//! flags, descriptor, negative offsets, a full context), so errors and partial submits
//! look the same. Caller memory (the pointer array, iocbs, iovec arrays, `*timeout`, the
//! event array) is read and written through the kernel (`process_vm_readv`/`writev`), so a
//! bad pointer is `EFAULT`, not a crash.
//!
//! # Safety
//!
//! Buffers named by iocbs are wrapped in [`RawBuf`]s: the caller of `io_submit` keeps them
//! valid until the request's completion has been reaped, as with the kernel. Descriptors
//! are used by number ([`Fd::from_raw`]) under the same contract.
#![allow(unsafe_code)]

use crate::abi::{plausible, IoEvent, Iocb, Sigset, Timespec};
use crate::stack::on_live_stack;
use crate::userring::UserRing;
use crate::{fds, sigmask};
use aiolos::sys::aio::{self as kaio, IOCB_FLAG_IOPRIO, IOCB_FLAG_RESFD};
use aiolos::sys::{Errno, IoVec};
use aiolos::{CancelOutcome, Completion, EngineKind, Error, Fd, Op, RawBuf, Ring, RwFlags, Token};
use std::collections::HashMap;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

struct Req {
    iocb: u64,
    data: u64,
    resfd: Option<i32>,
    /// An `IOCB_CMD_POLL`: the only kind `io_cancel` cancels, as on the kernel.
    poll: bool,
    /// `io_cancel` took it: a second cancel is `EINVAL`, and its `ECANCELED` completion is
    /// reported as the kernel reports a cancelled poll (`res` 0).
    cancelled: bool,
}

#[derive(Default)]
struct Inner {
    reqs: HashMap<Token, Req>,
    by_iocb: HashMap<u64, Token>,
    destroyed: bool,
    /// A thread in `io_getevents` is waiting on the aiolos ring and publishing.
    reaper: bool,
    /// Threads waiting on `cv` (a notification costs a system call, so it is only made
    /// when somebody waits).
    waiters: usize,
    /// Eventfds of `io_pgetevents` callers sleeping in `ppoll` with their signal mask.
    /// Signalled under this lock on every publication and on destroy (so a descriptor is
    /// never written after its owner has deregistered and closed it).
    masked_waiters: Vec<i32>,
}

/// Most ranges one `process_vm_readv` takes.
const IOV_MAX: usize = 1024;

/// One emulated context.
pub struct Emulated {
    ring: Ring<RawBuf>,
    events: UserRing,
    capacity: u32,
    inner: Mutex<Inner>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn sys_err(e: &Error) -> Errno {
    e.errno().unwrap_or(Errno::IO)
}

/// Reads a `T` (plain data) from caller memory through the kernel.
fn load<T: Copy + Default>(src: *const T) -> Result<T, Errno> {
    let mut v = T::default();
    // SAFETY: v is a plain-data T; viewing it as bytes to be overwritten is sound for the
    // types used here (iocbs, iovecs, pointers, timespecs: no invalid bit patterns).
    let bytes =
        unsafe { std::slice::from_raw_parts_mut((&mut v as *mut T).cast::<u8>(), size_of::<T>()) };
    match crate::caller::load(src.cast(), bytes)? {
        n if n == size_of::<T>() => Ok(v),
        _ => Err(Errno::FAULT),
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
            .build::<RawBuf>()
            .map_err(|e| sys_err(&e))?;
        let events = UserRing::new(n).ok_or(Errno::NOMEM)?;
        let ctx = Arc::new(Emulated {
            ring,
            events,
            capacity: n,
            inner: Mutex::new(Inner::default()),
            cv: Condvar::new(),
            thread: Mutex::new(None),
        });
        let worker = Arc::clone(&ctx);
        let handle = std::thread::Builder::new()
            .name("aiolos-aio".into())
            .spawn(move || worker.complete_forever())
            .map_err(|_| Errno::AGAIN)?;
        *ctx.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(ctx)
    }

    /// The context id handed to C (the ring's address).
    pub fn id(&self) -> u64 {
        self.events.addr()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The completion thread: whenever the engine signals its notification descriptor,
    /// moves what is complete into the user-space ring, unless a thread in `io_getevents`
    /// is reaping (that thread publishes, and runs io_uring's completion work itself, so a
    /// waiting caller is woken once per batch instead of via this thread).
    fn complete_forever(&self) {
        let mut batch = Vec::new();
        loop {
            wait_readable(self.ring.notify_fd());
            let _ = fds::drain(self.ring.notify_fd());
            let mut st = self.lock();
            if st.reaper {
                continue;
            }
            let closed = self.collect(&mut batch);
            let fds = self.publish_all(&mut st, &mut batch);
            let stop = closed && st.destroyed;
            let wake = st.waiters > 0;
            drop(st);
            self.signal(wake, fds);
            if stop {
                return;
            }
        }
    }

    /// Takes every completion that is ready now (no waiting) into `batch`. Returns `true`
    /// once the ring is closed and drained. Called with the `inner` lock held and no
    /// reaper, so nobody else takes completions from the ring meanwhile.
    fn collect(&self, batch: &mut Vec<Completion<RawBuf>>) -> bool {
        loop {
            match self
                .ring
                .wait_into(batch, 0, self.capacity as usize, Some(Duration::ZERO))
            {
                Ok(0) => return false,
                Ok(_) => {}
                Err(Error::Closed) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Moves `batch` into the user-space ring (under the `inner` lock) and wakes the
    /// masked waiters if anything was published; returns the requests' eventfds to signal
    /// once the lock is released.
    fn publish_all(&self, st: &mut Inner, batch: &mut Vec<Completion<RawBuf>>) -> Vec<i32> {
        let mut fds = Vec::new();
        let mut published = false;
        for c in batch.drain(..) {
            let res = match &c.result {
                Ok(n) => *n as i64,
                Err(e) => -i64::from(e.raw_os_error().unwrap_or(Errno::IO.0)),
            };
            let Some(req) = st.reqs.remove(&c.token) else {
                continue;
            };
            // The kernel completes a cancelled poll with no events ready: res 0.
            let res = if req.cancelled && res == -i64::from(Errno::CANCELED.0) {
                0
            } else {
                res
            };
            st.by_iocb.remove(&req.iocb);
            self.events.push(IoEvent {
                data: req.data,
                obj: req.iocb,
                res,
                res2: 0,
            });
            fds.extend(req.resfd);
            published = true;
        }
        if published {
            wake_masked(st);
        }
        fds
    }

    /// Wakes `io_getevents` waiters (if `wake`: there were some when the events were
    /// published), then signals the published requests' eventfds (after their events are
    /// in the ring, as the kernel orders it).
    fn signal(&self, wake: bool, fds: Vec<i32>) {
        if wake {
            self.cv.notify_all();
        }
        for fd in fds {
            // The kernel ignores a failing eventfd the same way.
            let _ = fds::signal(fd);
        }
    }

    fn build_op(cb: &Iocb) -> Result<Op<RawBuf>, Errno> {
        if cb.aio_reserved2 != 0 || cb.aio_flags & !(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO) != 0 {
            return Err(Errno::INVAL);
        }
        let fd = cb.aio_fildes as i32;
        // EBADF now, as the kernel's fget at submit.
        crate::fds::check_open(fd)?;
        // SAFETY: the io_submit caller keeps the descriptor open until completion.
        let fdh = unsafe { Fd::from_raw(fd) };
        let off = u64::try_from(cb.aio_offset).map_err(|_| Errno::INVAL);
        let op = match cb.aio_lio_opcode {
            kaio::IOCB_CMD_PREAD | kaio::IOCB_CMD_PWRITE => {
                // SAFETY: the io_submit caller keeps the buffer valid until the completion
                // is reaped; the kernel (io_uring or the pool's syscalls) checks the address.
                let buf =
                    unsafe { RawBuf::new(cb.aio_buf as usize as *mut u8, cb.aio_nbytes as usize) };
                if cb.aio_lio_opcode == kaio::IOCB_CMD_PREAD {
                    Op::read(fdh, buf, off?)
                } else {
                    Op::write(fdh, buf, off?)
                }
            }
            kaio::IOCB_CMD_PREADV | kaio::IOCB_CMD_PWRITEV => {
                let count = usize::try_from(cb.aio_nbytes).map_err(|_| Errno::INVAL)?;
                if count > 1024 {
                    return Err(Errno::INVAL);
                }
                let base = cb.aio_buf as usize as *const IoVec;
                let mut bufs = Vec::with_capacity(count);
                for i in 0..count {
                    let v: IoVec = load_iovec(base.wrapping_add(i))?;
                    // SAFETY: as for a single buffer: valid until reaped, checked by the
                    // kernel.
                    bufs.push(unsafe { RawBuf::new(v.base as *mut u8, v.len) });
                }
                if cb.aio_lio_opcode == kaio::IOCB_CMD_PREADV {
                    Op::readv(fdh, bufs, off?)
                } else {
                    Op::writev(fdh, bufs, off?)
                }
            }
            kaio::IOCB_CMD_FSYNC => Op::fsync(fdh),
            kaio::IOCB_CMD_FDSYNC => Op::fdatasync(fdh),
            kaio::IOCB_CMD_POLL => Op::poll(fdh, cb.aio_buf as i16),
            kaio::IOCB_CMD_NOOP => Op::nop(),
            _ => return Err(Errno::INVAL),
        };
        let op = op.user_data(0).rw_flags(RwFlags(cb.aio_rw_flags));
        Ok(if cb.aio_flags & IOCB_FLAG_IOPRIO != 0 {
            op.ioprio(cb.aio_reqprio as u16)
        } else {
            op
        })
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
        if self.lock().destroyed {
            return Err(Errno::INVAL);
        }
        let mut done = 0;
        let mut first_err = None;
        // Caller memory is read through the kernel in two calls per chunk (the pointers,
        // then every iocb they name), outside the lock.
        'chunks: for start in (0..nr).step_by(IOV_MAX) {
            let chunk = (nr - start).min(IOV_MAX);
            let (ptrs, cbs) = match load_iocbs(ios.wrapping_add(start), chunk) {
                Ok(v) => v,
                Err(e) => {
                    first_err = Some(e);
                    break;
                }
            };
            let mut st = self.lock();
            if st.destroyed {
                first_err = Some(Errno::INVAL);
                break;
            }
            for i in 0..chunk {
                let r = match (ptrs.get(i), cbs.get(i)) {
                    (Some(&p), Some(cb)) => self.submit_one(&mut st, p, cb),
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

    fn submit_one(&self, st: &mut Inner, iocb_ptr: usize, cb: &Iocb) -> Result<(), Errno> {
        let outstanding = st.reqs.len() as u32 + self.events.pending();
        if outstanding >= self.capacity {
            return Err(Errno::AGAIN);
        }
        let op = Self::build_op(cb)?;
        let token = self.ring.push(op).map_err(|e| sys_err(&e.error))?;
        let iocb = iocb_ptr as u64;
        let resfd = (cb.aio_flags & IOCB_FLAG_RESFD != 0).then_some(cb.aio_resfd as i32);
        st.reqs.insert(
            token,
            Req {
                iocb,
                data: cb.aio_data,
                resfd,
                poll: cb.aio_lio_opcode == kaio::IOCB_CMD_POLL,
                cancelled: false,
            },
        );
        st.by_iocb.insert(iocb, token);
        Ok(())
    }

    /// `io_getevents`: moves between `min_nr` and `nr` events to `events`.
    ///
    /// A caller that has to wait becomes the context's reaper: it waits on the aiolos ring
    /// itself and publishes what completes (other callers wait for it on a condition
    /// variable, and the completion thread stands aside), so a completion reaches a waiting
    /// caller with one wake-up.
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
    /// A caller with a mask does not reap or wait on the condition variable (neither can
    /// be interrupted by a signal): it sleeps in `ppoll` with the mask, on an eventfd of its
    /// own that every publication signals, so installing the mask and sleeping are one
    /// atomic step and no signal slips in between. Before returning it delivers any signal
    /// the mask unblocks that is still pending (a zero-timeout `ppoll`), as the kernel does
    /// on the way out of the system call. An interrupted call returns the events it has, or
    /// `EINTR` if none.
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
        let mut batch = Vec::new();
        let mut n = 0;
        let mut swept = false;
        let mut reap = true;
        let mut interrupted = false;
        // The eventfd a masked caller sleeps on, made when it first has to sleep.
        let mut wake_fd: Option<OwnedFd> = None;
        let mut st = self.lock();
        loop {
            if st.destroyed {
                return Err(Errno::INVAL);
            }
            n += self.events.pop_into(&mut got[n..]);
            if n >= min || n == want {
                break;
            }
            let now = Instant::now();
            let remaining = match deadline {
                Some(d) if now >= d => {
                    // Out of time: one look at what is complete right now (no waiting).
                    if swept || st.reaper {
                        break;
                    }
                    swept = true;
                    self.collect(&mut batch);
                    let fds = self.publish_all(&mut st, &mut batch);
                    if !fds.is_empty() {
                        let wake = st.waiters > 0;
                        drop(st);
                        self.signal(wake, fds);
                        st = self.lock();
                    }
                    continue;
                }
                Some(d) => Some(d - now),
                None => None,
            };
            if let Some(mask) = mask {
                let fd = match wake_fd {
                    Some(ref fd) => fd,
                    None => wake_fd.insert(fds::eventfd()?),
                };
                // Drained before registering, under the lock: publications after the look
                // at the ring above find this descriptor registered and signal it.
                let _ = fds::drain(fd.as_fd());
                let raw = fd.as_raw_fd();
                st.masked_waiters.push(raw);
                drop(st);
                let r = sigmask::ppoll(Some(raw), remaining, mask);
                st = self.lock();
                st.masked_waiters.retain(|&w| w != raw);
                match r {
                    Ok(_) => continue,
                    Err(Errno::INTR) => {
                        // The kernel looks at the ring once more before it gives up.
                        n += self.events.pop_into(&mut got[n..]);
                        interrupted = true;
                        break;
                    }
                    // Events already taken from the ring are not dropped for an error.
                    Err(_) if n > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            // Wait for no more than the ring holds (more can only come from new submits,
            // which the completion thread publishes).
            let need = (min - n).min(self.ring.outstanding());
            if st.reaper || !reap || need == 0 {
                reap = true;
                st.waiters += 1;
                st = match remaining {
                    Some(r) => {
                        self.cv
                            .wait_timeout(st, r)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                    None => self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                };
                st.waiters -= 1;
                continue;
            }
            st.reaper = true;
            drop(st);
            let r = self
                .ring
                .wait_into(&mut batch, need, self.capacity as usize, remaining);
            st = self.lock();
            // Whatever else is complete goes too: while this thread was the reaper the
            // completion thread stood aside, and may have consumed the notification.
            self.collect(&mut batch);
            let fds = self.publish_all(&mut st, &mut batch);
            st.reaper = false;
            if st.destroyed {
                // io_destroy may be waiting for the completion thread, which stood aside.
                let _ = fds::signal(self.ring.notify_fd().as_raw_fd());
            }
            // Other callers may wait for the reaper's role as well as for events.
            let wake = st.waiters > 0;
            drop(st);
            self.signal(wake, fds);
            // Fewer requests in flight than needed (or an engine failure): wait for the
            // completion thread's publications instead of spinning on the ring.
            reap = r.is_ok();
            st = self.lock();
        }
        drop(st);
        drop(wake_fd);
        if let Some(mask) = mask {
            // A signal the mask unblocks that is pending now is delivered before returning,
            // with the mask still in effect (as the kernel does on leaving the call).
            if !interrupted && sigmask::ppoll(None, Some(Duration::ZERO), mask) == Err(Errno::INTR)
            {
                interrupted = true;
            }
        }
        if interrupted && n == 0 {
            return Err(Errno::INTR);
        }
        if n > 0 {
            // SAFETY: got[..n] are plain io_events viewed as bytes.
            let bytes = unsafe {
                std::slice::from_raw_parts(got.as_ptr().cast::<u8>(), n * size_of::<IoEvent>())
            };
            crate::caller::store(events.cast(), bytes)?;
        }
        Ok(n)
    }

    /// `io_cancel`, as the kernel does it: only a pending poll can be cancelled
    /// (`EINPROGRESS`; its completion, `res` 0, then arrives once through the ring). Reads,
    /// writes and syncs cannot (`EINVAL`, whether queued, running or complete) and complete
    /// normally. Nothing is ever written to the caller's result event, which the kernel
    /// ignores too.
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
        let mut st = self.lock();
        let token = st.by_iocb.get(&(iocb as usize as u64)).copied();
        let token = token.ok_or(Errno::INVAL)?;
        let req = st.reqs.get_mut(&token).ok_or(Errno::INVAL)?;
        if !req.poll || req.cancelled {
            return Err(Errno::INVAL);
        }
        // Under the lock, so the completion cannot be published (and the flag read)
        // before the flag is set.
        match self.ring.cancel(token) {
            Ok(CancelOutcome::Cancelled | CancelOutcome::Requested) => {
                req.cancelled = true;
                Err(Errno::INPROGRESS)
            }
            Ok(_) | Err(_) => Err(Errno::INVAL),
        }
    }

    /// `io_destroy`: wakes every waiter (they get `EINVAL`), waits for the requests in
    /// flight, stops the completion thread and retires the ring.
    pub fn destroy(&self) {
        {
            let mut st = self.lock();
            st.destroyed = true;
            wake_masked(&st);
        }
        self.cv.notify_all();
        let _ = self.ring.close();
        // The completion thread sleeps on the ring's notification descriptor: wake it to
        // collect the last completions and see the ring closed.
        let _ = fds::signal(self.ring.notify_fd().as_raw_fd());
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.events.retire();
    }
}

/// Wakes the `io_pgetevents` callers sleeping with a signal mask. Called with the
/// `inner` lock held: a registered descriptor is open until its owner, after taking the
/// lock, has removed it.
fn wake_masked(st: &Inner) {
    for &fd in &st.masked_waiters {
        let _ = fds::signal(fd);
    }
}

fn load_iovec(p: *const IoVec) -> Result<IoVec, Errno> {
    load(p)
}

/// Reads `*p`: directly when it lies on the caller's live stack (where fio and most
/// callers keep it, so a zero-timeout poll costs no system call), else through the kernel.
fn read_timespec(p: *const Timespec) -> Result<Timespec, Errno> {
    if std::ptr::eq(p, &crate::native::ZERO_TIMEOUT) {
        return Ok(crate::native::ZERO_TIMEOUT);
    }
    if plausible(p) && on_live_stack(p) {
        // SAFETY: the timespec is aligned and lies in the mapped, live part of this
        // thread's stack; it is plain data, read by value.
        return Ok(unsafe { p.read() });
    }
    load_timespec(p)
}

/// Reads `n` (at most [`IOV_MAX`]) iocb pointers from `ios` and the iocbs they name, with
/// two system calls. Returns the pointers and iocbs read; either may be shorter than `n`
/// (reading stops at the first unreadable one, which is then `EFAULT`).
fn load_iocbs(ios: *const *mut Iocb, n: usize) -> Result<(Vec<usize>, Vec<Iocb>), Errno> {
    let mut ptrs = vec![0usize; n];
    // SAFETY: a usize array viewed as bytes to be overwritten; every bit pattern is valid.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(ptrs.as_mut_ptr().cast::<u8>(), n * size_of::<usize>())
    };
    let read = crate::caller::load(ios.cast(), bytes)? / size_of::<usize>();
    ptrs.truncate(read);
    let srcs: Vec<(usize, usize)> = ptrs.iter().map(|&p| (p, size_of::<Iocb>())).collect();
    let mut cbs = vec![Iocb::default(); ptrs.len()];
    // SAFETY: plain-data iocbs viewed as bytes to be overwritten (no invalid bit patterns).
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(cbs.as_mut_ptr().cast::<u8>(), cbs.len() * size_of::<Iocb>())
    };
    let read = match crate::caller::load_vectored(&srcs, bytes) {
        Ok(b) => b / size_of::<Iocb>(),
        Err(Errno::FAULT) => 0,
        Err(e) => return Err(e),
    };
    cbs.truncate(read);
    Ok((ptrs, cbs))
}

fn load_timespec(p: *const Timespec) -> Result<Timespec, Errno> {
    let raw: [i64; 2] = load(p.cast::<[i64; 2]>())?;
    Ok(Timespec {
        tv_sec: raw[0] as _,
        tv_nsec: raw[1] as _,
    })
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
