//! [`Ring`]: the public context, and the one completion table of the workspace.
//!
//! A fixed-capacity in-flight table indexed by [`Token`] owns each request's buffers (and a
//! caller payload) until its completion has been handed to whoever waits for it, so cancel
//! and completion lookup are O(1) and no allocation happens per request once the table's
//! scratch vectors have grown.
//!
//! `push` queues, `submit` makes one system call for everything queued. A completion is
//! handed out in one of three ways: [`Ring::wait`] returns any completions (the way
//! `io_getevents` does); [`Ring::wait_for`] blocks for one request; [`Ring::poll_token`]
//! polls one request from a task, whose waker is kept in the request's slot and woken by
//! whoever reaps the completion ([`Ring::drive`] reaps on behalf of tasks). The async
//! layer, `DirectFile` and the libaio drop-in use these and keep no table of their own.
//!
//! Any thread may push, submit, wait or cancel (a ring built with
//! [`RingBuilder::single_issuer`] submits, waits and cancels only on its own thread). One
//! thread at a time reaps from the engine while the others sleep and are woken as
//! completions arrive (`reap.rs`: the one reaper election, used by every kind of wait and
//! by `close`). `close` (and `Drop`) stops new requests, wakes every waiter and waits for
//! every request in flight before any buffer is freed.
//!
//! Files: `table.rs` (slots and the ready queue), `submit.rs` (ops to engine requests),
//! `reap.rs` (the election), `wait.rs` (the ways to wait), `close.rs` (shutdown),
//! `complete.rs` (results to completions), `types.rs` (tokens and completions),
//! `builder.rs`.

use crate::buf::IoBufMut;
use crate::engine::{Engine, EngineChoice, EngineKind, EngineStats};
use crate::error::Error;
use crate::op::Op;
use std::os::fd::BorrowedFd;
// Under `--cfg aiolos_loom` the ring's lock and condition variable are loom's, so the
// model-checking tests in `loom_model.rs` explore every interleaving of its hand-offs.
#[cfg(aiolos_loom)]
use ::loom::sync::{Condvar, Mutex};
#[cfg(not(aiolos_loom))]
use std::sync::{Condvar, Mutex};
use std::task::{Context, Waker};

mod builder;
mod close;
mod complete;
mod reap;
mod submit;
mod table;
mod types;
mod wait;

pub use builder::RingBuilder;
use reap::Guard;
use table::{SlotState, State, Waiter};
use types::RING_IDS;
pub use types::{Buffers, CancelOutcome, Completion, PushError, Token};

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
pub struct Ring<B: IoBufMut = Vec<u8>, T = u64> {
    // Declared first so it drops first, before the table (and the buffers in it). Kernel
    // AIO and the pool wait for anything still in flight in their teardown; io_uring does
    // not (the kernel tears a ring down asynchronously once its descriptor is closed), so
    // `close` drains every engine, and `Drop` leaks rather than frees if draining fails.
    engine: Box<dyn Engine>,
    state: Mutex<State<B, T>>,
    cv: Condvar,
    capacity: u32,
    fork_generation: u64,
    /// This ring's id, carried by its tokens.
    id: u32,
    /// For a single-issuer engine: the [`thread_mark`] of the thread that built the ring.
    owner: Option<usize>,
    /// How the engine was chosen.
    choice: EngineChoice,
    /// How a submitted batch is split into system calls.
    split: submit::Split,
    /// What was registered with the kernel, or why not.
    registration: crate::engine::Registration,
    /// Somebody asked for [`Ring::notify_fd`] (or called [`Ring::poll_completions`]):
    /// completions left in the ready queue then keep the descriptor readable.
    watched: std::sync::atomic::AtomicBool,
}

/// An address unique to the calling thread among live threads (its thread-local marker),
/// cheaper than asking the kernel or cloning the thread handle.
fn thread_mark() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| m as *const u8 as usize)
}

impl<B: IoBufMut, T> Ring<B, T> {
    pub(crate) fn with_engine(engine: Box<dyn Engine>, capacity: u32) -> Ring<B, T> {
        let owner = engine.single_thread().then(thread_mark);
        let kind = engine.kind();
        let id = RING_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ring {
            engine,
            state: Mutex::new(State::new(id, capacity)),
            cv: Condvar::new(),
            capacity,
            fork_generation: crate::sys::fork_generation(),
            id,
            owner,
            choice: EngineChoice::named(kind),
            split: submit::Split::NONE,
            registration: crate::engine::Registration::default(),
            watched: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self) -> Guard<'_, B, T> {
        // A panic while holding the lock leaves the table consistent (every mutation is
        // completed before code that can panic runs), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine this ring runs on.
    pub fn engine_kind(&self) -> EngineKind {
        self.engine.kind()
    }

    /// How the engine was chosen, and why it is this one (a fallback names its cause).
    pub fn engine_choice(&self) -> &EngineChoice {
        &self.choice
    }

    /// What [`RingBuilder::register_files`] and [`RingBuilder::register_buffers`]
    /// registered, or why the kernel (or the engine) would not.
    pub fn registration(&self) -> &crate::engine::Registration {
        &self.registration
    }

    /// How many requests may be outstanding at once.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Requests accepted and not yet handed back (queued, in flight or ready).
    pub fn outstanding(&self) -> usize {
        self.lock().outstanding()
    }

    /// Requests the engine has and has not completed yet (submitted, not complete).
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Requests pushed and not yet handed to the engine (the next submit takes them).
    pub fn queued(&self) -> usize {
        self.lock().queued.len()
    }

    /// The engine's counters (system calls made, completions found in shared memory).
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// A descriptor that becomes readable when completions are ready, for epoll, mio or
    /// tokio. After it fires, call [`Ring::poll_completions`] (or [`Ring::drive`]).
    ///
    /// Once this has been called, a completion that waits in the ready queue (for
    /// [`Ring::wait`] or [`Ring::poll_completions`]) keeps the descriptor readable when a
    /// call returns: one reaped by another thread's [`Ring::drive`] or wait, one left over
    /// because `max` was reached, a request cancelled before it was submitted, or one
    /// the engine refused at submission. An event loop that empties the descriptor and
    /// then collects is never left asleep with a completion in the queue.
    pub fn notify_fd(&self) -> BorrowedFd<'_> {
        self.watch();
        self.engine.notify_fd()
    }

    fn watch(&self) {
        self.watched
            .store(true, std::sync::atomic::Ordering::Relaxed);
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

    /// Checks and queues `op` with `payload`, the slot's completion going to `waiter`.
    /// When the ring is full and `space` is given, it is woken once a slot frees.
    fn push_slot(
        &self,
        op: Op<B>,
        payload: T,
        waiter: Waiter,
        space: Option<&Waker>,
    ) -> Result<Token, PushError<B, T>> {
        if let Err(error) = self.check_pid().and_then(|_| submit::validate(&op)) {
            return Err(PushError { error, op, payload });
        }
        let mut st = self.lock();
        if st.closed {
            return Err(PushError {
                error: Error::Closed,
                op,
                payload,
            });
        }
        match st.alloc(op, payload, waiter) {
            Ok(index) => Ok(Token {
                ring: self.id,
                index,
                generation: st.slots[index as usize].generation,
            }),
            Err((op, payload)) => {
                // Under the same lock as the look at the free list: a slot freed from here
                // on wakes this task.
                if let Some(w) = space {
                    st.space.push(w.clone());
                }
                Err(PushError {
                    error: Error::QueueFull {
                        capacity: self.capacity,
                    },
                    op,
                    payload,
                })
            }
        }
    }

    /// Queues a request with a payload of the ring's payload type `T`, handed back in its
    /// [`Completion::user_data`]. Nothing reaches the kernel until [`Ring::submit`] (or a
    /// wait, which submits what is queued).
    ///
    /// # Errors
    /// As [`Ring::push`]; the op and the payload come back in the [`PushError`].
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Fd, Op, Ring};
    /// // Each request carries a name of its own.
    /// let ring: Ring<Vec<u8>, &'static str> =
    ///     Ring::builder().engine(EngineKind::Threads).build_with_payload()?;
    /// let zero = Fd::from(std::fs::File::open("/dev/zero")?);
    /// let token = ring.push_with(Op::read(&zero, Vec::with_capacity(4), 0), "first")?;
    /// let c = ring.wait_for(token)?;
    /// assert_eq!((c.user_data, c.result?), ("first", 4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_with(&self, op: Op<B>, payload: T) -> Result<Token, PushError<B, T>> {
        self.push_slot(op, payload, Waiter::Any, None)
    }

    /// Queues a request on behalf of a task: its completion is for [`Ring::poll_token`]
    /// (the task's waker is stored in the slot from the start, so no completion can slip
    /// past it), and when the ring is full the waker is woken once a slot frees (the
    /// [`PushError`] then says [`Error::QueueFull`] and gives the op and payload back).
    ///
    /// # Errors
    /// As [`Ring::push_with`].
    pub fn poll_push(
        &self,
        op: Op<B>,
        payload: T,
        cx: &mut Context<'_>,
    ) -> Result<Token, PushError<B, T>> {
        let waker = cx.waker();
        self.push_slot(op, payload, Waiter::Task(waker.clone()), Some(waker))
    }

    /// Pushes every op, stopping at the first refusal; returns the tokens.
    ///
    /// # Errors
    /// As [`Ring::push_with`], for the first op that was refused (the ops after it are
    /// dropped with their buffers, since the caller gave them away in an iterator).
    pub fn push_all_with(
        &self,
        ops: impl IntoIterator<Item = (Op<B>, T)>,
    ) -> Result<Vec<Token>, PushError<B, T>> {
        ops.into_iter()
            .map(|(op, payload)| self.push_with(op, payload))
            .collect()
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
        let (st, n) = self.submit_locked(self.lock());
        self.unlock(st);
        Ok(n)
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
        let mut st = self.lock();
        let Some(slot) = st.slot_of(self.id, token) else {
            return Err(Error::InvalidToken);
        };
        slot.cancel_requested = true;
        let outcome = match slot.state {
            SlotState::Queued => {
                st.queued.retain(|&i| i != token.index);
                st.finish(token.index, -i64::from(crate::sys::Errno::CANCELED.0));
                CancelOutcome::Cancelled
            }
            SlotState::InFlight => match self.engine.cancel(token.index, token.to_u64()) {
                crate::engine::EngineCancel::Requested => CancelOutcome::Requested,
                crate::engine::EngineCancel::NotCancellable => CancelOutcome::NotCancellable,
            },
            SlotState::Ready => CancelOutcome::AlreadyComplete,
            SlotState::Free => unreachable!("slot_of returns outstanding slots only"),
        };
        self.unlock(st);
        Ok(outcome)
    }

    /// Gives up on a request: nobody will take its completion. It is still awaited and
    /// its buffers are freed only then (an async future dropped early uses this). A stale
    /// token is ignored.
    pub fn detach(&self, token: Token) {
        let mut st = self.lock();
        let Some(slot) = st.slot_of(self.id, token) else {
            return;
        };
        slot.waiter = Waiter::Any;
        match slot.state {
            SlotState::Ready => st.release(token.index),
            SlotState::Queued | SlotState::InFlight => slot.detached = true,
            SlotState::Free => {}
        }
        self.unlock(st);
    }

    /// Routes completions: from now on, every completion that no thread or task waits for
    /// by token ([`Ring::wait_for`], [`Ring::poll_token`]) is handed to `sink` as it is
    /// reaped (by whichever thread reaps: a waiter, [`Ring::drive`], `close`), in
    /// completion order, instead of being queued for [`Ring::wait`]. The request's slot is
    /// free again when `sink` is called.
    ///
    /// `sink` runs with the ring's table locked: it must be short and must not call back
    /// into this ring. This is how a layer with a completion queue of its own (the libaio
    /// drop-in's user-space `aio_ring`) publishes completions the moment they are reaped.
    pub fn set_sink(&self, sink: impl FnMut(Completion<B, T>) + Send + 'static) {
        self.lock().sink = Some(Box::new(sink));
    }

    /// On the thread pool, has the worker that finishes a request call `hook` right after
    /// queueing its completion, in place of signalling [`Ring::notify_fd`]; `hook` is
    /// meant to reap, with `drive(Some(Duration::ZERO))` (which never leaves a completion
    /// behind, even when another thread holds the reaper's turn). A layer that publishes
    /// completions through a [sink](Ring::set_sink) then has them published by the worker
    /// at once, instead of by a thread of its own woken through the descriptor for each
    /// batch (one thread hand-off less per completion).
    ///
    /// `hook` runs on the pool's threads, never inside this ring's calls, so it may call
    /// into the ring, and between requests (a worker takes its next request only after
    /// the hook returns). It may even let go of the ring's last reference: the ring is
    /// then dropped on that worker, which waits for every other request as any drop does
    /// and does not wait for itself. Completions the workers do not make (a request cancelled while queued) still
    /// signal the descriptor. Set once; returns `false` if the engine has no threads of
    /// its own (io_uring and kernel AIO complete in the kernel) or a hook is already set.
    pub fn set_completion_hook(&self, hook: impl Fn() + Send + Sync + 'static) -> bool {
        self.engine.set_completion_hook(Box::new(hook))
    }

    /// Runs `f` on the payload of an outstanding request (to update what the caller keeps
    /// with it).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] if the token names no outstanding request.
    pub fn with_payload<R>(&self, token: Token, f: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        let mut st = self.lock();
        let slot = st.slot_of(self.id, token).ok_or(Error::InvalidToken)?;
        match slot.payload.as_mut() {
            Some(p) => Ok(f(p)),
            None => Err(Error::InvalidToken),
        }
    }

    /// The token of the outstanding request whose payload satisfies `pred`, if any (a scan
    /// of the table, for callers that know a request by its payload only).
    pub fn find(&self, mut pred: impl FnMut(&T) -> bool) -> Option<Token> {
        let st = self.lock();
        st.slots.iter().enumerate().find_map(|(i, s)| {
            let hit = s.state != SlotState::Free && s.payload.as_ref().is_some_and(&mut pred);
            hit.then_some(Token {
                ring: self.id,
                index: i as u32,
                generation: s.generation,
            })
        })
    }
}

impl<B: IoBufMut> Ring<B, u64> {
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
        let user_data = op.user_data;
        self.push_with(op, user_data).map_err(|e| PushError {
            error: e.error,
            op: e.op,
            payload: (),
        })
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
}

#[cfg(all(test, aiolos_loom))]
mod loom_model;
#[cfg(all(test, aiolos_loom))]
mod loom_token;
#[cfg(all(test, not(aiolos_loom)))]
mod tests;
