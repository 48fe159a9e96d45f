//! The one reaper election of the workspace. Every kind of wait — [`Ring::wait`] for any
//! completions, [`Ring::wait_for`] for one request, [`Ring::drive`] for the async layer's
//! reapers, and [`Ring::close`] draining the ring — makes progress through [`Ring::turn`]:
//! one thread at a time reaps from the engine without holding the table's lock, the others
//! sleep on the ring's condition variable until that round ends, and the round's end wakes
//! every sleeper (each finds its own condition met, or one of them reaps next).
//!
//! Completions are applied to their slots under the lock; the tasks they wake are woken,
//! and the buffers of detached requests dropped, only after it is released.

use super::table::{Deferred, State};
use super::Ring;
use crate::buf::IoBufMut;
use crate::error::Error;
#[cfg(aiolos_loom)]
use ::loom::sync::MutexGuard;
#[cfg(not(aiolos_loom))]
use std::sync::MutexGuard;
use std::time::Duration;

pub(super) type Guard<'a, B, T> = MutexGuard<'a, State<B, T>>;

/// How long a sleeper waits when it has no deadline. Rounds wake sleepers; this only
/// bounds the damage of a wake-up lost to a bug.
const LONG: Duration = Duration::from_secs(3600);

impl<B: IoBufMut, T> Ring<B, T> {
    /// One turn of the election. If another thread is reaping, sleeps until it finishes a
    /// round (or `timeout` passes) and returns `Ok(false)`; a caller that cannot wait
    /// (`timeout` zero) asks that thread to look at the engine once more before its turn
    /// ends, so whatever is complete when this is called is applied by the time the other
    /// turn ends. Otherwise becomes the reaper: asks the engine for at least `need`
    /// completions (0: only what is complete now) within `timeout`, applies them to their
    /// slots, wakes the sleepers and the tasks whose requests completed, and returns
    /// `Ok(true)`. The lock is held again on return.
    pub(super) fn turn<'a>(
        &'a self,
        mut st: Guard<'a, B, T>,
        mut need: usize,
        mut timeout: Option<Duration>,
    ) -> (Guard<'a, B, T>, Result<bool, Error>) {
        if st.reaping {
            if timeout == Some(Duration::ZERO) {
                // The reaper may have asked the engine before this caller's completion
                // arrived (it learnt of it from the notification descriptor, now empty).
                st.reap_again = true;
                return (st, Ok(false));
            }
            return (self.sleep(st, timeout), Ok(false));
        }
        st.reaping = true;
        let mut cqes = std::mem::take(&mut st.cqes);
        let r = loop {
            cqes.clear();
            drop(st);
            let r = self
                .engine
                .reap(&mut cqes, need, self.capacity as usize, timeout);
            st = self.lock();
            st.apply(&cqes);
            if r.is_err() || !std::mem::take(&mut st.reap_again) {
                break r;
            }
            (need, timeout) = (0, Some(Duration::ZERO));
        };
        st.reaping = false;
        st.reap_again = false;
        st.cqes = cqes;
        let st = self.after_round(st);
        (
            st,
            r.map(|()| true)
                .map_err(|e| Error::Sys("reaping completions", e)),
        )
    }

    /// Sleeps on the condition variable until a round or an unlock wakes it, or `timeout`.
    pub(super) fn sleep<'a>(
        &'a self,
        mut st: Guard<'a, B, T>,
        timeout: Option<Duration>,
    ) -> Guard<'a, B, T> {
        st.waiters += 1;
        st = match self.cv.wait_timeout(st, timeout.unwrap_or(LONG)) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
        st.waiters -= 1;
        st
    }

    /// Ends a locked section that may have completed requests: wakes the sleepers, then
    /// (outside the lock) the tasks, and drops detached requests' buffers. Returns the lock
    /// held again.
    fn after_round<'a>(&'a self, mut st: Guard<'a, B, T>) -> Guard<'a, B, T> {
        if st.waiters > 0 {
            self.cv.notify_all();
        }
        if st.wake.is_empty() && st.trash.is_empty() {
            return st;
        }
        let mut d = Deferred {
            wake: Vec::new(),
            trash: Vec::new(),
        };
        st.defer(&mut d);
        drop(st);
        d.run();
        let mut st = self.lock();
        st.recycle(&mut d);
        st
    }

    /// Releases the lock after a section that may have completed or freed requests (a
    /// cancel, a close, a refused submit, a take): wakes whoever that concerns.
    pub(super) fn unlock(&self, mut st: Guard<'_, B, T>) {
        if st.waiters > 0 {
            self.cv.notify_all();
        }
        // Completions that joined the ready queue and are still there: whoever watches the
        // notification descriptor may have emptied it before they arrived (another thread
        // reaped them, or no engine event announced them: a cancel before submission, a
        // refused submit), so it is signalled for them.
        let rearm = std::mem::take(&mut st.rearm)
            && st.unclaimed > 0
            && self.watched.load(std::sync::atomic::Ordering::Relaxed);
        let mut d = Deferred {
            wake: Vec::new(),
            trash: Vec::new(),
        };
        let deferred = !(st.wake.is_empty() && st.trash.is_empty());
        if deferred {
            st.defer(&mut d);
        }
        drop(st);
        if rearm {
            self.engine.signal_notify();
        }
        if deferred {
            d.run();
        }
    }
}
