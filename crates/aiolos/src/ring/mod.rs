//! [`Ring`]: the public context. A fixed-capacity in-flight table indexed by [`Token`]
//! owns each request's buffers until its completion has been handed back, so cancel and
//! completion lookup are O(1) and no allocation happens per request once the table's
//! scratch vectors have grown.
//!
//! `push` queues, `submit` makes one system call for everything queued, `wait` returns
//! completions. Any thread may push, submit, wait or cancel (a ring built with
//! [`RingBuilder::single_issuer`] submits, waits and cancels only on its own thread); one waiting thread at a time
//! reaps from the engine while the others sleep on a condition variable and are woken as
//! completions arrive. `close` (and `Drop`) stops new requests, wakes every waiter and
//! waits for every request in flight before any buffer is freed.
//!
//! # Safety
//!
//! The ring hands the engine raw addresses of buffers that its in-flight table owns. A
//! slot keeps its op (and so its buffers and iovec table) from `push` until its completion
//! is handed back or, for a detached request, until the engine reports it complete; `close`
//! and `Drop` wait for every submitted request, and leak rather than free if they cannot.
#![allow(unsafe_code)]

use crate::buf::IoBufMut;
use crate::engine::{Cqe, Engine, EngineKind, EngineStats, Sqe};
use crate::error::Error;
use crate::op::{Kind, Op, OpCode};
use crate::sys::Errno;
use crate::sys::IoVec;
use std::collections::VecDeque;
use std::io;
use std::os::fd::BorrowedFd;
// Under `--cfg aiolos_loom` the ring's lock and condition variable are loom's, so the
// model-checking tests in `loom_model.rs` explore every interleaving of its hand-offs.
#[cfg(aiolos_loom)]
use ::loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(aiolos_loom))]
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod builder;
mod types;

pub use builder::RingBuilder;
use types::RING_IDS;
pub use types::{Buffers, CancelOutcome, Completion, PushError, Token};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    Queued,
    InFlight,
    Ready,
}

struct Slot<B> {
    generation: u32,
    state: SlotState,
    op: Option<Op<B>>,
    iovecs: Vec<IoVec>,
    result: i64,
    cancel_requested: bool,
    /// Nobody will reap this request: free it when it completes.
    detached: bool,
}

struct State<B> {
    slots: Vec<Slot<B>>,
    free: Vec<u32>,
    queued: VecDeque<u32>,
    ready: VecDeque<u32>,
    in_flight: usize,
    reaping: bool,
    waiters: usize,
    closed: bool,
    sqes: Vec<Sqe>,
    cqes: Vec<Cqe>,
}

/// The completion context: submit requests in batches, reap their completions.
///
/// # Examples
/// ```
/// use aiolos::{EngineKind, Op, Ring};
/// use std::io::Write;
///
/// let mut file = tempfile::tempfile()?;
/// file.write_all(b"hello, ring")?;
/// let ring: Ring<Vec<u8>> = Ring::builder().entries(8).engine(EngineKind::Native).build()?;
/// ring.push(Op::read(file, Vec::with_capacity(64), 0))?;
/// ring.submit()?;
/// let done = ring.wait(1, 8, None)?;
/// let n = done[0].result.as_ref().map_err(|e| std::io::Error::new(e.kind(), e.to_string()))?;
/// assert_eq!(*n, 11);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Ring<B: IoBufMut = Vec<u8>> {
    // Declared first so it drops first, before the table (and the buffers in it). Kernel
    // AIO and the pool wait for anything still in flight in their teardown; io_uring does
    // not (the kernel tears a ring down asynchronously once its descriptor is closed), so
    // `close` drains every engine, and `Drop` leaks rather than frees if draining fails.
    engine: Box<dyn Engine>,
    state: Mutex<State<B>>,
    cv: Condvar,
    capacity: u32,
    fork_generation: u64,
    /// This ring's id, carried by its tokens.
    id: u32,
    /// For a single-issuer engine: the [`thread_mark`] of the thread that built the ring.
    owner: Option<usize>,
}

/// An address unique to the calling thread among live threads (its thread-local marker),
/// cheaper than asking the kernel or cloning the thread handle.
fn thread_mark() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| m as *const u8 as usize)
}

impl<B: IoBufMut> Ring<B> {
    pub(crate) fn with_engine(engine: Box<dyn Engine>, capacity: u32) -> Ring<B> {
        let slots = (0..capacity)
            .map(|_| Slot {
                generation: 1,
                state: SlotState::Free,
                op: None,
                iovecs: Vec::new(),
                result: 0,
                cancel_requested: false,
                detached: false,
            })
            .collect();
        let owner = engine.single_thread().then(thread_mark);
        Ring {
            engine,
            state: Mutex::new(State {
                slots,
                free: (0..capacity).rev().collect(),
                queued: VecDeque::with_capacity(capacity as usize),
                ready: VecDeque::with_capacity(capacity as usize),
                in_flight: 0,
                reaping: false,
                waiters: 0,
                closed: false,
                sqes: Vec::with_capacity(capacity as usize),
                cqes: Vec::with_capacity(capacity as usize),
            }),
            cv: Condvar::new(),
            capacity,
            fork_generation: crate::sys::fork_generation(),
            id: RING_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            owner,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<B>> {
        // A panic while holding the lock leaves the table consistent (every mutation is
        // completed before code that can panic runs), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine this ring runs on.
    pub fn engine_kind(&self) -> EngineKind {
        self.engine.kind()
    }

    /// How many requests may be outstanding at once.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Requests accepted and not yet handed back (queued, in flight or ready).
    pub fn outstanding(&self) -> usize {
        let st = self.lock();
        self.capacity as usize - st.free.len()
    }

    /// The engine's counters (system calls made, completions found in shared memory).
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// A descriptor that becomes readable when completions are ready, for epoll, mio or
    /// tokio. After it fires, call [`Ring::poll_completions`].
    pub fn notify_fd(&self) -> BorrowedFd<'_> {
        self.engine.notify_fd()
    }

    fn check_pid(&self) -> Result<(), Error> {
        if crate::sys::fork_generation() != self.fork_generation {
            return Err(Error::Forked);
        }
        Ok(())
    }

    /// Refuses a call that enters the kernel from the wrong thread of a single-issuer ring.
    fn check_thread(&self) -> Result<(), Error> {
        match self.owner {
            Some(owner) if owner != thread_mark() => Err(Error::WrongThread),
            _ => Ok(()),
        }
    }

    /// Queues a request. Nothing reaches the kernel until [`Ring::submit`] (or a
    /// [`Ring::wait`], which submits what is queued).
    ///
    /// # Errors
    /// The op comes back in a [`PushError`] when the ring is full ([`Error::QueueFull`]),
    /// closed, in a fork child, or the request cannot be expressed
    /// ([`Error::InvalidRequest`]: an operation the engine lacks, an offset past 2^63 - 1,
    /// a vectored request with no buffers or more than 1024).
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Error, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().entries(1).engine(EngineKind::Threads).build()?;
    /// let file = Fd::from(std::fs::File::open("/dev/zero")?);
    /// let token = ring.push(Op::read(&file, Vec::with_capacity(16), 0))?;
    /// // The ring is full: the op comes back, buffer and all.
    /// let full = ring.push(Op::read(&file, Vec::with_capacity(16), 0)).unwrap_err();
    /// assert!(matches!(full.error, Error::QueueFull { .. }));
    /// let done = ring.wait(1, 1, None)?;
    /// assert_eq!(done[0].token, token);
    /// assert_eq!(*done[0].result.as_ref().unwrap(), 16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&self, op: Op<B>) -> Result<Token, PushError<B>> {
        if let Err(error) = self.check_pid().and_then(|_| self.validate(&op)) {
            return Err(PushError { error, op });
        }
        let mut st = self.lock();
        if st.closed {
            return Err(PushError {
                error: Error::Closed,
                op,
            });
        }
        let Some(index) = st.free.pop() else {
            return Err(PushError {
                error: Error::QueueFull {
                    capacity: self.capacity,
                },
                op,
            });
        };
        let slot = &mut st.slots[index as usize];
        slot.state = SlotState::Queued;
        slot.op = Some(op);
        slot.cancel_requested = false;
        slot.detached = false;
        let token = Token {
            ring: self.id,
            index,
            generation: slot.generation,
        };
        st.queued.push_back(index);
        Ok(token)
    }

    fn validate(&self, op: &Op<B>) -> Result<(), Error> {
        let code = op.opcode();
        if !self.engine.supports(code) {
            return Err(Error::InvalidRequest(format!(
                "the {} engine does not support {code:?}",
                self.engine.kind()
            )));
        }
        if let Kind::Read { offset, .. }
        | Kind::Write { offset, .. }
        | Kind::Readv { offset, .. }
        | Kind::Writev { offset, .. } = &op.kind
        {
            // The kernel's file offsets are signed (loff_t); io_uring would even read
            // u64::MAX as "the current file position".
            if *offset > i64::MAX as u64 {
                return Err(Error::InvalidRequest(format!(
                    "offset {offset} is past the largest file offset (2^63 - 1 = {})",
                    i64::MAX
                )));
            }
        }
        if let Kind::Readv { bufs, .. } | Kind::Writev { bufs, .. } = &op.kind {
            if bufs.is_empty() || bufs.len() > 1024 {
                return Err(Error::InvalidRequest(format!(
                    "a vectored request needs 1 to 1024 buffers (IOV_MAX), not {}",
                    bufs.len()
                )));
            }
        }
        Ok(())
    }

    /// Pushes every op, stopping at the first refusal; returns the tokens.
    ///
    /// # Errors
    /// As [`Ring::push`], for the first op that was refused (the ops after it are
    /// dropped with their buffers, since the caller gave them away in an iterator).
    pub fn push_all(
        &self,
        ops: impl IntoIterator<Item = Op<B>>,
    ) -> Result<Vec<Token>, PushError<B>> {
        ops.into_iter().map(|op| self.push(op)).collect()
    }

    /// Sends every queued request to the kernel in one system call (more only when the
    /// kernel accepts part of a batch). Returns how many were sent. Requests the kernel
    /// could not take yet (`EAGAIN`) stay queued and go with the next submit or wait;
    /// a request the kernel refuses completes with its own error.
    ///
    /// # Errors
    /// [`Error::Forked`] in a fork child; [`Error::WrongThread`] on a single-issuer ring
    /// from a thread other than its own.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// let file = Fd::from(std::fs::File::open("/dev/zero")?);
    /// for i in 0..4u64 {
    ///     ring.push(Op::read(&file, Vec::with_capacity(512), i * 512).user_data(i))?;
    /// }
    /// assert_eq!(ring.submit()?, 4); // one batch
    /// assert_eq!(ring.wait(4, 4, None)?.len(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "io_submit")]
    #[doc(alias = "io_uring_enter")]
    pub fn submit(&self) -> Result<usize, Error> {
        self.check_pid()?;
        self.check_thread()?;
        let mut st = self.lock();
        let n = self.submit_locked(&mut st);
        drop(st);
        self.cv.notify_all();
        Ok(n)
    }

    fn prepare(slot: &mut Slot<B>, token: u64, index: u32) -> Option<Sqe> {
        let op = slot.op.as_mut()?;
        let fd = op.fd.as_ref().map_or(-1, |f| f.as_raw());
        let (code, addr, len, offset) = match &mut op.kind {
            Kind::Read { buf, offset } => (
                OpCode::Read,
                buf.stable_mut_ptr() as u64,
                buf.bytes_total() as u64,
                *offset,
            ),
            Kind::Write { buf, offset } => (
                OpCode::Write,
                buf.stable_ptr() as u64,
                buf.bytes_init() as u64,
                *offset,
            ),
            Kind::Readv { bufs, offset } => {
                slot.iovecs.clear();
                slot.iovecs.extend(bufs.iter_mut().map(|b| IoVec {
                    base: b.stable_mut_ptr() as usize,
                    len: b.bytes_total(),
                }));
                let o = *offset;
                (
                    OpCode::Readv,
                    slot.iovecs.as_ptr() as u64,
                    slot.iovecs.len() as u64,
                    o,
                )
            }
            Kind::Writev { bufs, offset } => {
                slot.iovecs.clear();
                slot.iovecs.extend(bufs.iter().map(|b| IoVec {
                    base: b.stable_ptr() as usize,
                    len: b.bytes_init(),
                }));
                let o = *offset;
                (
                    OpCode::Writev,
                    slot.iovecs.as_ptr() as u64,
                    slot.iovecs.len() as u64,
                    o,
                )
            }
            Kind::Fsync => (OpCode::Fsync, 0, 0, 0),
            Kind::Fdatasync => (OpCode::Fdatasync, 0, 0, 0),
            Kind::Poll { events } => (OpCode::Poll, 0, *events as u16 as u64, 0),
            Kind::Nop => (OpCode::Nop, 0, 0, 0),
        };
        Some(Sqe {
            user_data: token,
            slot: index,
            op: code,
            fd,
            addr,
            len,
            offset,
            rw_flags: op.rw_flags.0,
            ioprio: op.ioprio,
            resfd: op.eventfd.as_ref().map(|f| f.as_raw()),
            borrowed_fds: op.fd.as_ref().is_some_and(|f| f.is_borrowed())
                || op.eventfd.as_ref().is_some_and(|f| f.is_borrowed()),
        })
    }

    fn submit_locked(&self, st: &mut State<B>) -> usize {
        if st.queued.is_empty() {
            return 0;
        }
        let mut sqes = std::mem::take(&mut st.sqes);
        sqes.clear();
        // Split borrows: read the queue while preparing slots, with no copy of the queue.
        let State { queued, slots, .. } = &mut *st;
        for &index in queued.iter() {
            let slot = &mut slots[index as usize];
            let token = Token {
                ring: self.id,
                index,
                generation: slot.generation,
            };
            if let Some(sqe) = Self::prepare(slot, token.to_u64(), index) {
                sqes.push(sqe);
            }
        }
        let mut done = 0;
        while done < sqes.len() {
            // SAFETY: every sqe address points into buffers or iovec tables owned by slots,
            // which keep them until the engine reports the completion; Drop waits first.
            match unsafe { self.engine.submit(&sqes[done..]) } {
                Ok(0) | Err(Errno::AGAIN) => break,
                Ok(n) => {
                    for sqe in &sqes[done..done + n] {
                        st.slots[sqe.slot as usize].state = SlotState::InFlight;
                    }
                    st.in_flight += n;
                    done += n;
                }
                Err(e) => {
                    // The kernel refused this request alone: it completes with that error.
                    let index = sqes[done].slot;
                    self.finish(st, index, -i64::from(e.0));
                    done += 1;
                }
            }
        }
        for _ in 0..done {
            st.queued.pop_front();
        }
        st.sqes = sqes;
        done
    }

    /// Records a completion for the slot; a detached slot is freed at once.
    fn finish(&self, st: &mut State<B>, index: u32, res: i64) {
        let slot = &mut st.slots[index as usize];
        slot.result = res;
        if slot.detached {
            Self::free_slot(st, index);
        } else {
            slot.state = SlotState::Ready;
            st.ready.push_back(index);
        }
    }

    fn free_slot(st: &mut State<B>, index: u32) -> Option<Op<B>> {
        let slot = &mut st.slots[index as usize];
        slot.state = SlotState::Free;
        slot.generation = slot.generation.wrapping_add(1).max(1);
        let op = slot.op.take();
        st.free.push(index);
        op
    }

    fn apply_cqes(&self, st: &mut State<B>, cqes: &[Cqe]) {
        for cqe in cqes {
            let token = Token::from_u64(self.id, cqe.user_data);
            let Some(slot) = st.slots.get(token.index as usize) else {
                continue;
            };
            if slot.generation != token.generation || slot.state != SlotState::InFlight {
                continue;
            }
            st.in_flight -= 1;
            self.finish(st, token.index, cqe.res);
        }
    }

    fn take_completion(&self, st: &mut State<B>, index: u32) -> Completion<B> {
        let slot = &st.slots[index as usize];
        let token = Token {
            ring: self.id,
            index,
            generation: slot.generation,
        };
        let res = slot.result;
        let cancel_requested = slot.cancel_requested;
        let op = Self::free_slot(st, index);
        let (user_data, fd, bufs, rw) = match op {
            Some(op) => {
                let user_data = op.user_data;
                // Moved, not cloned: it keeps the descriptor open until an error has been
                // explained (the request may hold the last handle on it).
                let fd = op.fd;
                let (bufs, rw) = match op.kind {
                    Kind::Read { buf, offset } => (Buffers::One(buf), Some((false, offset))),
                    Kind::Write { buf, offset } => (Buffers::One(buf), Some((true, offset))),
                    Kind::Readv { bufs, .. } | Kind::Writev { bufs, .. } => {
                        (Buffers::Many(bufs), None)
                    }
                    _ => (Buffers::None, None),
                };
                (user_data, fd, bufs, rw)
            }
            None => (0, None, Buffers::None, None),
        };
        let mut bufs = bufs;
        let result = if res >= 0 {
            let n = res as usize;
            mark_init(&mut bufs, n);
            Ok(n)
        } else {
            Err(request_error(-res as i32, fd.as_ref(), &bufs, rw))
        };
        Completion {
            token,
            user_data,
            result,
            bufs,
            cancel_requested,
        }
    }

    /// Waits for at least `min` completions (returning at most `max`), or until `timeout`
    /// passes, or until the ring is closed. Submits whatever is queued first. With
    /// `min == 0` it only collects what is already complete.
    ///
    /// # Errors
    /// [`Error::Closed`] once the ring is closed and nothing is left to reap;
    /// [`Error::WouldWaitForever`] when fewer than `min` requests are outstanding;
    /// [`Error::WrongThread`] on a single-issuer ring from another thread;
    /// [`Error::Sys`] if the engine fails.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Fd, Op, Ring};
    /// use std::time::Duration;
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// // Nothing outstanding: a zero timeout returns at once with nothing.
    /// assert!(ring.wait(0, 8, Some(Duration::ZERO))?.is_empty());
    /// let file = Fd::from(std::fs::File::open("/dev/zero")?);
    /// ring.push(Op::read(&file, Vec::with_capacity(8), 0).user_data(7))?;
    /// let c = ring.wait(1, 8, Some(Duration::from_secs(10)))?.remove(0);
    /// assert_eq!((c.user_data, *c.result.as_ref().unwrap()), (7, 8));
    /// assert_eq!(c.into_buf().unwrap(), vec![0u8; 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "io_getevents")]
    pub fn wait(
        &self,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Completion<B>>, Error> {
        let mut out = Vec::new();
        self.wait_into(&mut out, min, max, timeout)?;
        Ok(out)
    }

    /// Collects completions that are ready now, without blocking, and clears the
    /// notification descriptor so it fires again for later completions.
    ///
    /// # Errors
    /// As [`Ring::wait`].
    pub fn poll_completions(&self, max: usize) -> Result<Vec<Completion<B>>, Error> {
        let _ = crate::eventfd::drain(self.engine.notify_fd());
        self.wait(0, max, Some(Duration::ZERO))
    }

    /// [`Ring::wait`] into a vector the caller reuses.
    ///
    /// # Errors
    /// As [`Ring::wait`].
    pub fn wait_into(
        &self,
        out: &mut Vec<Completion<B>>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, Error> {
        self.check_pid()?;
        self.check_thread()?;
        let max = max.max(1);
        let min = min.min(max);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        let mut reaped_once = false;
        loop {
            if !st.closed && !st.queued.is_empty() {
                self.submit_locked(&mut st);
            }
            let avail = st.ready.len();
            let enough = avail >= min && (avail > 0 || reaped_once);
            if enough || (st.closed && avail > 0) {
                return Ok(self.deliver(&mut st, out, max));
            }
            let outstanding = st.in_flight + st.queued.len() + avail;
            if st.closed && st.in_flight == 0 {
                return Err(Error::Closed);
            }
            if outstanding < min {
                return Err(Error::WouldWaitForever {
                    wanted: min,
                    outstanding,
                });
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) && reaped_once {
                return Ok(self.deliver(&mut st, out, max));
            }
            if st.reaping {
                st.waiters += 1;
                let wait_for = remaining.unwrap_or(Duration::from_secs(3600));
                st = match self.cv.wait_timeout(st, wait_for) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
                st.waiters -= 1;
                if min == 0 {
                    reaped_once = true;
                }
                continue;
            }
            // Become the reaper: block in the engine without holding the lock.
            st.reaping = true;
            let need = if st.waiters > 0 || min == 0 {
                usize::from(min > 0)
            } else {
                min - avail
            };
            let mut cqes = std::mem::take(&mut st.cqes);
            cqes.clear();
            drop(st);
            let wait = if min == 0 {
                Some(Duration::ZERO)
            } else {
                remaining
            };
            let r = self
                .engine
                .reap(&mut cqes, need, self.capacity as usize, wait);
            st = self.lock();
            st.reaping = false;
            self.apply_cqes(&mut st, &cqes);
            st.cqes = cqes;
            self.cv.notify_all();
            r.map_err(|e| Error::Sys("reaping completions", e))?;
            reaped_once = true;
        }
    }

    fn deliver(&self, st: &mut State<B>, out: &mut Vec<Completion<B>>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(index) = st.ready.pop_front() else {
                break;
            };
            out.push(self.take_completion(st, index));
            n += 1;
        }
        n
    }

    /// Cancels a request. Whatever the outcome, the request completes exactly once, and
    /// its buffers are freed or handed back only after the kernel is done with them.
    ///
    /// # Errors
    /// [`Error::WrongThread`] on a single-issuer ring from another thread;
    /// [`Error::InvalidToken`] if the token names no outstanding request (already reaped,
    /// or from another ring).
    ///
    /// # Examples
    /// ```
    /// use aiolos::{CancelOutcome, EngineKind, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// let file = Fd::from(std::fs::File::open("/dev/zero")?);
    /// // Queued but not submitted yet: cancelled at once, completes with ECANCELED.
    /// let token = ring.push(Op::read(&file, Vec::with_capacity(8), 0))?;
    /// assert_eq!(ring.cancel(token)?, CancelOutcome::Cancelled);
    /// let c = ring.wait(1, 1, None)?.remove(0);
    /// assert_eq!(c.result.unwrap_err().raw_os_error(), Some(aiolos::sys::Errno::CANCELED.raw()));
    /// // Reaped: the token is stale now.
    /// assert!(ring.cancel(token).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "io_cancel")]
    #[doc(alias = "IORING_OP_ASYNC_CANCEL")]
    pub fn cancel(&self, token: Token) -> Result<CancelOutcome, Error> {
        self.check_thread()?;
        if token.ring != self.id {
            return Err(Error::InvalidToken);
        }
        let mut st = self.lock();
        let Some(slot) = st.slots.get_mut(token.index as usize) else {
            return Err(Error::InvalidToken);
        };
        if slot.generation != token.generation || slot.state == SlotState::Free {
            return Err(Error::InvalidToken);
        }
        slot.cancel_requested = true;
        match slot.state {
            SlotState::Queued => {
                st.queued.retain(|&i| i != token.index);
                self.finish(&mut st, token.index, -i64::from(Errno::CANCELED.0));
                drop(st);
                self.cv.notify_all();
                Ok(CancelOutcome::Cancelled)
            }
            SlotState::InFlight => match self.engine.cancel(token.index, token.to_u64()) {
                crate::engine::EngineCancel::Requested => Ok(CancelOutcome::Requested),
                crate::engine::EngineCancel::NotCancellable => Ok(CancelOutcome::NotCancellable),
            },
            SlotState::Ready => Ok(CancelOutcome::AlreadyComplete),
            SlotState::Free => Err(Error::InvalidToken),
        }
    }

    /// Gives up on a request: nobody will reap it. Its completion is still awaited and
    /// its buffers are freed only then (an async future dropped early uses this). A stale
    /// token is ignored.
    pub fn detach(&self, token: Token) {
        if token.ring != self.id {
            return;
        }
        let mut st = self.lock();
        let Some(slot) = st.slots.get_mut(token.index as usize) else {
            return;
        };
        if slot.generation != token.generation {
            return;
        }
        match slot.state {
            SlotState::Ready => {
                st.ready.retain(|&i| i != token.index);
                Self::free_slot(&mut st, token.index);
            }
            SlotState::Queued | SlotState::InFlight => slot.detached = true,
            SlotState::Free => {}
        }
    }

    /// Closes the ring: refuses new requests, cancels queued ones, wakes every thread
    /// blocked in [`Ring::wait`], and waits until every request in flight has completed.
    /// Completions not yet reaped can still be collected with [`Ring::wait`].
    ///
    /// # Errors
    /// [`Error::WrongThread`] on a single-issuer ring from another thread (nothing is
    /// closed); [`Error::Sys`] if the engine fails while draining; the ring then keeps (leaks)
    /// the buffers of whatever may still be in flight rather than free them early.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Error, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// let file = Fd::from(std::fs::File::open("/dev/zero")?);
    /// ring.push(Op::read(&file, Vec::with_capacity(8), 0))?;
    /// ring.submit()?;
    /// ring.close()?; // waits for the read
    /// assert!(ring.push(Op::read(&file, Vec::new(), 0)).is_err()); // closed
    /// assert_eq!(ring.wait(0, 8, None)?.len(), 1); // still collectable
    /// assert!(matches!(ring.wait(1, 8, None), Err(Error::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "io_destroy")]
    pub fn close(&self) -> Result<(), Error> {
        if self.check_pid().is_err() {
            // A fork child shares the parent's io_uring queues: it must not cancel or wake
            // anything there. The kernel does not write into the child's copy of the
            // buffers, so there is nothing to wait for either.
            return Ok(());
        }
        self.check_thread()?;
        let mut st = self.lock();
        if !st.closed {
            st.closed = true;
            while let Some(index) = st.queued.pop_front() {
                self.finish(&mut st, index, -i64::from(Errno::CANCELED.0));
            }
            // Ask the engine to cancel what it can (polls never finish on their own);
            // file I/O that cannot be cancelled is waited for below.
            for index in 0..st.slots.len() {
                let slot = &mut st.slots[index];
                if slot.state == SlotState::InFlight {
                    slot.cancel_requested = true;
                    let token = Token {
                        ring: self.id,
                        index: index as u32,
                        generation: slot.generation,
                    };
                    self.engine.cancel(token.index, token.to_u64());
                }
            }
        }
        self.engine.wake();
        self.cv.notify_all();
        while st.in_flight > 0 {
            if st.reaping {
                // The wake above got the reaper out of the engine once; with the ring closed
                // it now waits only for requests in flight, which complete on their own. Waking
                // it again on every pass made the two threads spin until they did (found by
                // the loom model in `loom_model.rs`).
                st = match self.cv.wait_timeout(st, Duration::from_millis(50)) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
                continue;
            }
            st.reaping = true;
            let mut cqes = std::mem::take(&mut st.cqes);
            cqes.clear();
            drop(st);
            let r = self.engine.reap(
                &mut cqes,
                1,
                self.capacity as usize,
                Some(Duration::from_secs(1)),
            );
            st = self.lock();
            st.reaping = false;
            self.apply_cqes(&mut st, &cqes);
            st.cqes = cqes;
            self.cv.notify_all();
            if let Err(e) = r {
                return Err(Error::Sys("draining the ring", e));
            }
        }
        Ok(())
    }
}

impl<B: IoBufMut> Drop for Ring<B> {
    fn drop(&mut self) {
        let drained = self.close().is_ok();
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if !drained && st.in_flight > 0 {
            // Never free memory the kernel may still write: leak the in-flight buffers.
            for slot in st.slots.iter_mut() {
                if slot.state == SlotState::InFlight {
                    std::mem::forget(slot.op.take());
                    std::mem::forget(std::mem::take(&mut slot.iovecs));
                }
            }
        }
    }
}

fn mark_init<B: IoBufMut>(bufs: &mut Buffers<B>, mut n: usize) {
    let one = |b: &mut B, n: &mut usize| {
        let k = (*n).min(b.bytes_total());
        // SAFETY: the kernel reported n bytes transferred into these buffers in order;
        // for writes bytes_total >= bytes_init so marking is a no-op beyond what is set.
        unsafe { b.set_init(k) };
        *n -= k;
    };
    match bufs {
        Buffers::None => {}
        Buffers::One(b) => one(b, &mut n),
        Buffers::Many(v) => {
            for b in v {
                one(b, &mut n);
            }
        }
    }
}

/// The error of a failed request. An `EINVAL` on a single-buffer read or write of an
/// O_DIRECT file that breaks the file's alignment is explained (required alignment and
/// offending value) instead of reported bare. `rw` is `(is_write, offset)`.
fn request_error<B: IoBufMut>(
    errno: i32,
    fd: Option<&crate::Fd>,
    bufs: &Buffers<B>,
    rw: Option<(bool, u64)>,
) -> io::Error {
    if let (Errno::INVAL, Some(fd), Buffers::One(buf), Some((is_write, offset))) =
        (Errno(errno), fd, bufs, rw)
    {
        let len = if is_write {
            buf.bytes_init()
        } else {
            buf.bytes_total()
        };
        if let Some(e) = crate::align::explain_einval(fd, buf.stable_ptr() as usize, len, offset) {
            return e;
        }
    }
    io::Error::from_raw_os_error(errno)
}

#[cfg(all(test, aiolos_loom))]
mod loom_model;
#[cfg(all(test, not(aiolos_loom)))]
mod tests;
