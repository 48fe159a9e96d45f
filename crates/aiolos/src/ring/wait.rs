//! The ways to wait: for any completions ([`Ring::wait`], as `io_getevents`), for one
//! request ([`Ring::wait_for`], blocking; [`Ring::poll_token`], from a task), and
//! [`Ring::drive`], which reaps on behalf of tasks. All of them make progress through the
//! one reaper election ([`Ring::turn`](super::reap)).

use super::reap::Guard;
use super::table::{SlotState, Waiter};
use super::types::{Completion, Token};
use super::Ring;
use crate::buf::IoBufMut;
use crate::error::Error;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

impl<B: IoBufMut, T> Ring<B, T> {
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
    ) -> Result<Vec<Completion<B, T>>, Error> {
        let mut out = Vec::new();
        self.wait_into(&mut out, min, max, timeout)?;
        Ok(out)
    }

    /// Collects completions that are ready now, without blocking, and clears the
    /// notification descriptor so it fires again for later completions. If more than
    /// `max` were ready, the descriptor is left readable for the rest.
    ///
    /// # Errors
    /// As [`Ring::wait`].
    pub fn poll_completions(&self, max: usize) -> Result<Vec<Completion<B, T>>, Error> {
        self.watch();
        self.engine.drain_notify();
        let got = self.wait(0, max, Some(Duration::ZERO))?;
        // The descriptor was emptied above; what `max` left behind keeps it readable.
        if self.lock().unclaimed > 0 {
            self.engine.signal_notify();
        }
        Ok(got)
    }

    /// [`Ring::wait`] into a vector the caller reuses. Completions of requests that a
    /// thread or task waits for by token ([`Ring::wait_for`], [`Ring::poll_token`]) go to
    /// them, not here.
    ///
    /// # Errors
    /// As [`Ring::wait`].
    pub fn wait_into(
        &self,
        out: &mut Vec<Completion<B, T>>,
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
                st = self.submit_locked(st).0;
            }
            let avail = st.unclaimed;
            let enough = avail >= min && (avail > 0 || reaped_once);
            if enough || (st.closed && avail > 0) {
                return Ok(self.deliver(st, out, max));
            }
            let outstanding = st.in_flight + st.queued.len() + avail;
            if st.closed && st.in_flight == 0 {
                self.unlock(st);
                return Err(Error::Closed);
            }
            if outstanding < min {
                self.unlock(st);
                return Err(Error::WouldWaitForever {
                    wanted: min,
                    outstanding,
                });
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) && reaped_once {
                return Ok(self.deliver(st, out, max));
            }
            // With other threads waiting too, a completion may be theirs: wait for one at a
            // time. With `min == 0`, only collect what is complete.
            let need = if min == 0 {
                0
            } else if st.waiters > 0 {
                1
            } else {
                min - avail
            };
            let wait = if min == 0 {
                Some(Duration::ZERO)
            } else {
                remaining
            };
            let (g, r) = self.turn(st, need, wait);
            st = g;
            match r {
                // A zero wait has looked, even when another thread held the turn: that
                // thread looks at the engine once more for it (`State::reap_again`). Without
                // this, a timed wait whose deadline passed while another thread waited in
                // the engine without limit would spin until that thread's wait ended.
                Ok(reaped) => reaped_once |= reaped || wait == Some(Duration::ZERO),
                Err(e) => {
                    self.unlock(st);
                    return Err(e);
                }
            }
        }
    }

    fn deliver(
        &self,
        mut st: Guard<'_, B, T>,
        out: &mut Vec<Completion<B, T>>,
        max: usize,
    ) -> usize {
        let mut n = 0;
        while n < max {
            let Some(index) = st.pop_ready() else {
                break;
            };
            out.push(st.take(self.id, index));
            n += 1;
        }
        self.unlock(st);
        n
    }

    /// Waits until the request `token` names completes and returns its completion. Other
    /// threads may wait for other requests (or for any completions) at the same time;
    /// whichever thread reaps hands each completion to its own waiter.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] if the token names no outstanding request (already taken,
    /// or from another ring); [`Error::Forked`], [`Error::WrongThread`], or
    /// [`Error::Sys`] if the engine fails.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// let zero = Fd::from(std::fs::File::open("/dev/zero")?);
    /// let a = ring.push(Op::read(&zero, Vec::with_capacity(4), 0).user_data(1))?;
    /// let b = ring.push(Op::read(&zero, Vec::with_capacity(8), 0).user_data(2))?;
    /// // Taken in any order, each by its own token.
    /// assert_eq!(ring.wait_for(b)?.user_data, 2);
    /// assert_eq!(ring.wait_for(a)?.result?, 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for(&self, token: Token) -> Result<Completion<B, T>, Error> {
        match self.wait_token(token, None)? {
            Some(c) => Ok(c),
            None => unreachable!("a wait without a deadline returns a completion"),
        }
    }

    /// As [`Ring::wait_for`], but gives up after `timeout` (`Ok(None)`; the request stays
    /// outstanding and can be waited for again).
    ///
    /// # Errors
    /// As [`Ring::wait_for`].
    pub fn wait_for_timeout(
        &self,
        token: Token,
        timeout: Duration,
    ) -> Result<Option<Completion<B, T>>, Error> {
        self.wait_token(token, Some(Instant::now() + timeout))
    }

    fn wait_token(
        &self,
        token: Token,
        deadline: Option<Instant>,
    ) -> Result<Option<Completion<B, T>>, Error> {
        self.check_pid()?;
        self.check_thread()?;
        let mut st = self.lock();
        loop {
            if !st.closed && !st.queued.is_empty() {
                st = self.submit_locked(st).0;
            }
            let Some(slot) = st.slot_of(self.id, token) else {
                self.unlock(st);
                return Err(Error::InvalidToken);
            };
            if slot.state == SlotState::Ready {
                let c = st.take(self.id, token.index);
                self.unlock(st);
                return Ok(Some(c));
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                // Nobody waits for it by token any more: its completion joins the queue.
                if matches!(slot.waiter, Waiter::Thread) {
                    slot.waiter = Waiter::Any;
                }
                self.unlock(st);
                return Ok(None);
            }
            slot.waiter = Waiter::Thread;
            let (g, r) = self.turn(st, 1, remaining);
            st = g;
            if let Err(e) = r {
                if let Some(slot) = st.slot_of(self.id, token) {
                    if matches!(slot.waiter, Waiter::Thread) {
                        slot.waiter = Waiter::Any;
                    }
                }
                self.unlock(st);
                return Err(e);
            }
        }
    }

    /// Polls one request from a task: its completion if it has arrived, else `Pending`
    /// with the task's waker kept in the request's slot; whoever reaps the completion
    /// wakes exactly this task. Something must reap: a thread in [`Ring::drive`] or any
    /// other wait.
    ///
    /// Dropping the future that polls without taking the completion must give the request
    /// up with [`Ring::detach`] (after [`Ring::cancel`] if wanted), which leaves its
    /// buffers with the ring until the kernel is done with them.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] if the token names no outstanding request.
    pub fn poll_token(
        &self,
        token: Token,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Completion<B, T>, Error>> {
        let mut st = self.lock();
        let Some(slot) = st.slot_of(self.id, token) else {
            return Poll::Ready(Err(Error::InvalidToken));
        };
        if slot.state == SlotState::Ready {
            let c = st.take(self.id, token.index);
            self.unlock(st);
            return Poll::Ready(Ok(c));
        }
        match &mut slot.waiter {
            Waiter::Task(w) if w.will_wake(cx.waker()) => {}
            other => *other = Waiter::Task(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Reaps on behalf of the requests' waiters: submits what is queued, then hands every
    /// completion to its waiter (waking tasks, waking threads, queueing the rest for
    /// [`Ring::wait`], or to the [sink](Ring::set_sink)). Waits up to `timeout` for at least
    /// one completion (`None`: until one arrives or the engine is woken, even with nothing
    /// in flight yet; zero: only what is complete now), or, when another thread is reaping,
    /// until that thread's round ends. Returns how many completions it applied (0 when
    /// another thread was reaping).
    ///
    /// This is the reaping step of an async runtime's driver: a thread or task that
    /// sleeps on [`Ring::notify_fd`], empties it when it fires, and calls
    /// `drive(Some(Duration::ZERO))`. That call never leaves a completion behind: if
    /// another thread is reaping, it returns at once, and that thread looks at the engine
    /// once more before its turn ends, so every completion that was ready when `drive`
    /// was called is applied (and its waiter woken) by then.
    ///
    /// # Errors
    /// [`Error::Closed`] once the ring is closed and nothing is in flight;
    /// [`Error::Forked`], [`Error::WrongThread`], or [`Error::Sys`] if the engine fails.
    pub fn drive(&self, timeout: Option<Duration>) -> Result<usize, Error> {
        self.check_pid()?;
        self.check_thread()?;
        let mut st = self.lock();
        if !st.closed && !st.queued.is_empty() {
            st = self.submit_locked(st).0;
        }
        if st.closed && st.in_flight == 0 {
            self.unlock(st);
            return Err(Error::Closed);
        }
        let before = st.applied;
        // With nothing in flight a blocking drive waits in the engine for requests that
        // other threads submit meanwhile (or until the engine is woken).
        let need = usize::from(timeout != Some(Duration::ZERO));
        let (st, r) = self.turn(st, need, timeout);
        let applied = st.applied.wrapping_sub(before);
        self.unlock(st);
        r.map(|_| applied as usize)
    }

    /// Runs one submitted request on the calling thread, where the engine can and that is
    /// the quickest way to its completion: on the thread pool, when no worker is running
    /// a request and the head of the queue is a read, write or sync of a block device or
    /// of a regular file on one (a lone request: this saves the hand-off to a worker and
    /// back). For a thread about to sleep until its request completes, which can wait for
    /// as long as that request takes (the waits of [`Ring::wait`] and the others never do
    /// this themselves: their timeouts hold). Returns whether it ran one; its completion is
    /// then reaped as any other ([`Ring::drive`], [`Ring::wait`]). Engines whose requests
    /// run in the kernel (io_uring, kernel AIO) return `false`.
    pub fn help(&self) -> bool {
        self.check_pid().is_ok() && self.engine.help()
    }

    /// Blocks until the ring has a free slot, reaping meanwhile (`Ok(false)` when
    /// `timeout` passes first). Slots free up as completions are taken: if every slot
    /// holds a completion nobody takes, this waits until somebody does.
    ///
    /// # Errors
    /// [`Error::Closed`] once the ring is closed; as [`Ring::wait`] otherwise.
    pub fn wait_for_space(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        self.check_pid()?;
        self.check_thread()?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if st.closed {
                self.unlock(st);
                return Err(Error::Closed);
            }
            if st.has_room() {
                return Ok(true);
            }
            if !st.queued.is_empty() {
                st = self.submit_locked(st).0;
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                self.unlock(st);
                return Ok(false);
            }
            if st.in_flight == 0 {
                // Everything is complete: a slot frees when its completion is taken, and
                // the taker's unlock wakes this sleeper.
                st = self.sleep(st, remaining);
                continue;
            }
            let (g, r) = self.turn(st, 1, remaining);
            st = g;
            if let Err(e) = r {
                self.unlock(st);
                return Err(e);
            }
        }
    }
}
