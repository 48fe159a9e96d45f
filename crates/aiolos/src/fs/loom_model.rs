//! Model check of the hand-off between futures that push requests and the driver's reaper
//! that sleeps when idle (`handshake.rs`), under every interleaving loom explores.
//!
//! Run with
//! `RUSTFLAGS="--cfg aiolos_loom" cargo test -p aiolos --lib --release loom_model`.
//! The reaper runs the driver's own [`turn`] against a model of the ring (a queue, requests
//! in flight, completions a model kernel thread produces) and of the two descriptors the
//! reaper sleeps on (the ring's completion notification and the wake eventfd, both level
//! triggered like eventfds in `poll(2)`). Pushers push and call [`Handshake::after_push`].
//! A push whose wake-up is lost leaves the reaper asleep with a request queued, and loom
//! reports the deadlock.

use super::handshake::{turn, Handshake, Reaper};
use crate::error::Error;
use ::loom::sync::{Arc, Condvar, Mutex};
use ::loom::thread;
use std::time::Duration;

#[derive(Default)]
struct Requests {
    /// Pushed, not yet submitted.
    queued: usize,
    /// Submitted, not yet complete.
    in_flight: usize,
    /// Complete, not yet handed out.
    ready: usize,
    /// Handed out to their futures.
    handed_out: usize,
}

/// The two descriptors, as `poll(2)` sees them: readable while their counter is not zero.
#[derive(Default)]
struct Fds {
    notify: u64,
    wake: u64,
}

#[derive(Default)]
struct Model {
    handshake: Handshake,
    requests: Mutex<Requests>,
    /// Signalled when requests are submitted (for the kernel thread).
    submitted: Condvar,
    fds: Mutex<Fds>,
    /// Signalled when either descriptor becomes readable.
    readable: Condvar,
}

impl Model {
    fn push(&self) {
        self.requests.lock().unwrap().queued += 1;
        self.handshake.after_push(|| {
            self.fds.lock().unwrap().wake += 1;
            self.readable.notify_all();
        });
    }

    /// The kernel: completes `n` requests as they are submitted, notifying each.
    fn complete(&self, n: usize) {
        for _ in 0..n {
            let mut r = self.requests.lock().unwrap();
            while r.in_flight == 0 {
                r = self.submitted.wait(r).unwrap();
            }
            r.in_flight -= 1;
            r.ready += 1;
            drop(r);
            self.fds.lock().unwrap().notify += 1;
            self.readable.notify_all();
        }
    }

    fn handed_out(&self) -> usize {
        self.requests.lock().unwrap().handed_out
    }
}

impl Reaper for Model {
    fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    fn submit_and_reap(&self) -> Result<usize, Error> {
        self.handshake.pass_begins();
        let mut r = self.requests.lock().unwrap();
        if r.queued > 0 {
            r.in_flight += r.queued;
            r.queued = 0;
            self.submitted.notify_all();
        }
        let n = r.ready;
        r.ready = 0;
        r.handed_out += n;
        Ok(n)
    }

    fn reap_ready(&self) -> Result<usize, Error> {
        self.fds.lock().unwrap().notify = 0;
        self.submit_and_reap()
    }

    fn sleep(&self, timeout: Option<Duration>) -> Result<(), Error> {
        assert_eq!(timeout, None, "the model has no clock");
        let mut fds = self.fds.lock().unwrap();
        while fds.notify == 0 && fds.wake == 0 {
            fds = self.readable.wait(fds).unwrap();
        }
        fds.wake = 0;
        Ok(())
    }
}

/// `pushers` threads push one request each while the reaper turns until every request has
/// been handed out.
/// Every interleaving with up to `bound` preemptions (`AIOLOS_LOOM_PREEMPTIONS` overrides).
fn pushes_during_reaper_sleep_are_never_stranded(pushers: usize, bound: usize) {
    let mut builder = ::loom::model::Builder::new();
    builder.preemption_bound = Some(
        std::env::var("AIOLOS_LOOM_PREEMPTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(bound),
    );
    builder.check(move || {
        let m = Arc::new(Model::default());
        let kernel = {
            let m = m.clone();
            thread::spawn(move || m.complete(pushers))
        };
        let reaper = {
            let m = m.clone();
            thread::spawn(move || {
                while m.handed_out() < pushers {
                    turn(&*m, None).unwrap();
                }
            })
        };
        let threads: Vec<_> = (0..pushers)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || m.push())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        reaper.join().unwrap();
        kernel.join().unwrap();
        let r = m.requests.lock().unwrap();
        assert_eq!(
            (r.queued, r.in_flight, r.ready, r.handed_out),
            (0, 0, 0, pushers),
            "every request was handed out once"
        );
    });
}

#[test]
fn a_push_while_the_reaper_falls_asleep_always_wakes_it() {
    pushes_during_reaper_sleep_are_never_stranded(1, 3);
}

#[test]
fn two_pushes_racing_the_reaper_are_both_handed_out() {
    // Five threads: two preemptions keep the search to about a minute.
    pushes_during_reaper_sleep_are_never_stranded(2, 2);
}
