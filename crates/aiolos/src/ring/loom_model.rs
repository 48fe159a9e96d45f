//! Model checks of the ring's hand-offs between submitting, reaping, waiting, cancelling,
//! detaching and closing threads, under every interleaving loom explores.
//!
//! Run with
//! `RUSTFLAGS="--cfg aiolos_loom" cargo test -p aiolos --lib --release ring::loom_model`
//! (`.ci/run` does). The ring runs on loom's `Mutex` and `Condvar`; the engine is a model
//! kernel whose completions come from a separate model thread. Loom treats a
//! `wait_timeout` as a plain wait, so a lost wake-up shows up as a deadlock.
//!
//! What every model checks:
//! - the model kernel only completes a request whose buffer is still alive (the ring
//!   never frees memory the kernel may still write into);
//! - every request is handed back exactly once (or, when detached, freed exactly once);
//! - no thread waits forever (loom fails a model where every thread is blocked);
//! - every buffer is freed by the end (no leak when draining succeeds).

// The model engine implements the unsafe `Engine::submit` and uses a raw descriptor it never
// touches.
#![allow(unsafe_code)]

use super::*;
use crate::engine::{Cqe, Sqe};
use crate::engine::{EngineCancel, EngineStats};
use crate::sys::Errno;
use crate::Fd;
use loom::sync::Arc;
use loom::thread;
use std::collections::{HashSet, VecDeque};
use std::os::fd::AsFd;
use std::time::Duration;

/// Addresses of the buffers alive in one model run (outside the model: plain std).
pub(super) type Live = std::sync::Arc<std::sync::Mutex<HashSet<usize>>>;

/// A buffer that records its address in `live` while it exists.
#[derive(Debug)]
pub(super) struct Tracked {
    data: Vec<u8>,
    live: Live,
}

impl Tracked {
    fn new(live: &Live) -> Tracked {
        let data = vec![0u8; 16];
        live.lock().unwrap().insert(data.as_ptr() as usize);
        Tracked {
            data,
            live: live.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let was = self
            .live
            .lock()
            .unwrap()
            .remove(&(self.data.as_ptr() as usize));
        assert!(was, "a buffer was freed twice");
    }
}

// SAFETY: the pointer is the Vec's heap block, which does not move while the Tracked
// exists (the Vec is never resized); bytes_init is the Vec's length.
unsafe impl crate::buf::IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.len()
    }
}

// SAFETY: as above; bytes_total is the capacity and set_init only lowers or keeps the
// length within it (the whole block is initialised at creation).
unsafe impl crate::buf::IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.data.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.data.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        let n = n.min(self.data.capacity());
        // SAFETY: n <= capacity and every byte of the block was initialised by vec![0; 16].
        unsafe { self.data.set_len(n) };
    }
}

#[derive(Default)]
struct KernelState {
    /// Submitted and not yet complete: (user_data, buffer address, length).
    running: VecDeque<(u64, u64, u64)>,
    done: VecDeque<Cqe>,
    /// How many requests the kernel has completed (what a notification descriptor would
    /// have told a reaper).
    completed: usize,
    /// The notification descriptor's counter: the kernel adds one per completion (as
    /// io_uring's registered eventfd does), the ring adds its own announcements, a drain
    /// resets it.
    notified: u64,
    woken: bool,
    /// Set by the test once nothing more will be submitted.
    shutdown: bool,
}

/// The model kernel: requests wait in `running` until the kernel thread completes them.
pub(super) struct Kernel {
    st: Mutex<KernelState>,
    cv: Condvar,
    live: Live,
    /// Whether a running request can be cancelled (an aio poll can; disk I/O cannot).
    cancellable: bool,
}

impl Kernel {
    fn new(live: &Live, cancellable: bool) -> Arc<Kernel> {
        Arc::new(Kernel {
            st: Mutex::new(KernelState::default()),
            cv: Condvar::new(),
            live: live.clone(),
            cancellable,
        })
    }

    /// The kernel thread: completes requests in submission order until it is shut down
    /// with nothing running.
    fn run(&self) {
        let mut st = self.st.lock().unwrap();
        while !(st.shutdown && st.running.is_empty()) {
            let Some((user_data, addr, len)) = st.running.pop_front() else {
                st = self.cv.wait(st).unwrap();
                continue;
            };
            assert!(
                addr == 0 || self.live.lock().unwrap().contains(&(addr as usize)),
                "the kernel would write into a freed buffer"
            );
            st.done.push_back(Cqe {
                user_data,
                res: len as i64,
            });
            st.completed += 1;
            st.notified += 1;
            self.cv.notify_all();
            // Let other threads run between completions.
            drop(st);
            st = self.st.lock().unwrap();
        }
    }
}

struct ModelEngine {
    kernel: Arc<Kernel>,
    notify: std::fs::File,
}

impl Engine for ModelEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Threads
    }
    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno> {
        let mut st = self.kernel.st.lock().unwrap();
        st.running
            .extend(sqes.iter().map(|s| (s.user_data, s.addr, s.len)));
        self.kernel.cv.notify_all();
        Ok(sqes.len())
    }
    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let mut st = self.kernel.st.lock().unwrap();
        // Time is not modelled: a finite timeout waits like no timeout, except zero.
        while st.done.len() < min && !st.woken && timeout != Some(Duration::ZERO) {
            st = self.kernel.cv.wait(st).unwrap();
        }
        st.woken = false;
        let n = st.done.len().min(max);
        out.extend(st.done.drain(..n));
        Ok(())
    }
    fn cancel(&self, _slot: u32, user_data: u64) -> EngineCancel {
        let mut st = self.kernel.st.lock().unwrap();
        match st.running.iter().position(|r| r.0 == user_data) {
            Some(i) if self.kernel.cancellable => {
                st.running.remove(i);
                st.done.push_back(Cqe {
                    user_data,
                    res: -i64::from(Errno::CANCELED.0),
                });
                self.kernel.cv.notify_all();
                EngineCancel::Requested
            }
            _ => EngineCancel::NotCancellable,
        }
    }
    fn wake(&self) {
        self.kernel.st.lock().unwrap().woken = true;
        self.kernel.cv.notify_all();
    }
    fn notify_fd(&self) -> BorrowedFd<'_> {
        self.notify.as_fd()
    }
    fn signal_notify(&self) {
        self.kernel.st.lock().unwrap().notified += 1;
    }
    fn drain_notify(&self) {
        self.kernel.st.lock().unwrap().notified = 0;
    }
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

/// The model kernel's thread; `join` tells it nothing more will be submitted.
pub(super) struct KernelThread(Arc<Kernel>, thread::JoinHandle<()>);

impl KernelThread {
    pub(super) fn join(self) {
        self.0.st.lock().unwrap().shutdown = true;
        self.0.cv.notify_all();
        self.1.join().unwrap();
    }
}

pub(super) struct Model {
    pub(super) ring: Arc<Ring<Tracked>>,
    kernel: Arc<Kernel>,
    live: Live,
    fd: Fd,
}

impl Model {
    pub(super) fn new(entries: u32, cancellable: bool) -> Model {
        let live = Live::default();
        let kernel = Kernel::new(&live, cancellable);
        let engine = ModelEngine {
            kernel: kernel.clone(),
            notify: std::fs::File::open("/dev/null").unwrap(),
        };
        Model {
            ring: Arc::new(Ring::with_engine(Box::new(engine), entries)),
            kernel,
            live,
            // SAFETY: the model engine never uses the descriptor.
            fd: unsafe { Fd::from_raw(0) },
        }
    }

    pub(super) fn read(&self, user_data: u64) -> Op<Tracked> {
        Op::read(&self.fd, Tracked::new(&self.live), 0).user_data(user_data)
    }

    /// Pushes a read for each of `ids` and submits them in one batch.
    pub(super) fn submit_reads(&self, ids: &[u64]) {
        for &id in ids {
            self.ring.push(self.read(id)).map_err(|e| e.error).unwrap();
        }
        self.ring.submit().unwrap();
    }

    pub(super) fn kernel_thread(&self) -> KernelThread {
        let kernel = self.kernel.clone();
        KernelThread(self.kernel.clone(), thread::spawn(move || kernel.run()))
    }

    /// A thread that drives the ring once, without waiting (as a reaper woken by the
    /// notification descriptor does).
    pub(super) fn drive_on_another_thread(&self) -> thread::JoinHandle<()> {
        let ring = self.ring.clone();
        thread::spawn(move || {
            ring.drive(Some(Duration::ZERO)).unwrap();
        })
    }

    /// Spins until the kernel has completed a request: "the descriptor fired" (the kernel
    /// signals it once per completion).
    pub(super) fn wait_until_the_kernel_completed_one(&self) {
        while self.kernel.st.lock().unwrap().completed == 0 {
            thread::yield_now();
        }
    }

    /// Drops the ring (which drains it) and checks that every buffer was freed.
    pub(super) fn finish(self) {
        let Model {
            ring, live, kernel, ..
        } = self;
        drop(ring);
        drop(kernel);
        assert!(live.lock().unwrap().is_empty(), "a buffer was leaked");
    }
}

pub(super) fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // Every interleaving with up to this many preemptions (the bugs loom finds in practice
    // need two or three); AIOLOS_LOOM_PREEMPTIONS raises it for a longer search.
    builder.preemption_bound = Some(
        std::env::var("AIOLOS_LOOM_PREEMPTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
    );
    builder.check(f);
}

#[test]
fn two_waiters_each_get_one_completion_while_the_kernel_completes() {
    check(|| {
        let m = Model::new(2, false);
        m.submit_reads(&[1, 2]);
        let kernel = m.kernel_thread();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let ring = m.ring.clone();
                thread::spawn(move || {
                    let got = ring.wait(1, 1, None).unwrap();
                    assert_eq!(got.len(), 1);
                    got[0].user_data
                })
            })
            .collect();
        let mut ids: Vec<u64> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        kernel.join();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2], "each request handed back once");
        assert_eq!(m.ring.outstanding(), 0);
        m.finish();
    });
}

#[test]
fn close_wakes_a_blocked_waiter_and_hands_back_every_request_once() {
    close_with_a_blocked_waiter(false);
}

#[test]
fn close_cancelling_in_flight_requests_hands_back_every_request_once() {
    close_with_a_blocked_waiter(true);
}

fn close_with_a_blocked_waiter(cancellable: bool) {
    check(move || {
        let m = Model::new(2, cancellable);
        m.submit_reads(&[1]);
        // Queued, never submitted: close cancels it.
        m.ring.push(m.read(2)).unwrap();
        let kernel = m.kernel_thread();
        let waiter = {
            let ring = m.ring.clone();
            thread::spawn(move || match ring.wait(1, 2, None) {
                Ok(v) => v.into_iter().map(|c| c.user_data).collect(),
                Err(Error::Closed) => Vec::new(),
                Err(e) => panic!("{e}"),
            })
        };
        let closer = {
            let ring = m.ring.clone();
            thread::spawn(move || ring.close().unwrap())
        };
        closer.join().unwrap();
        let mut ids: Vec<u64> = waiter.join().unwrap();
        kernel.join();
        // What the waiter did not take is still collectable after close.
        while let Ok(more) = m.ring.wait(1, 2, Some(Duration::ZERO)) {
            ids.extend(more.iter().map(|c| c.user_data));
        }
        ids.sort_unstable();
        assert_eq!(ids, [1, 2], "each request handed back once");
        m.finish();
    });
}

#[test]
fn cancel_racing_a_cancellable_completion_hands_back_one_completion() {
    cancel_racing_the_completion(true);
}

#[test]
fn cancel_racing_an_uncancellable_completion_hands_back_one_completion() {
    cancel_racing_the_completion(false);
}

fn cancel_racing_the_completion(cancellable: bool) {
    check(move || {
        let m = Model::new(1, cancellable);
        let token = m.ring.push(m.read(7)).unwrap();
        m.ring.submit().unwrap();
        let kernel = m.kernel_thread();
        let canceller = {
            let ring = m.ring.clone();
            thread::spawn(move || ring.cancel(token))
        };
        let got = m.ring.wait(1, 1, None).unwrap();
        let outcome = canceller.join().unwrap();
        kernel.join();
        assert_eq!(got.len(), 1);
        let c = &got[0];
        assert_eq!(c.user_data, 7);
        match &c.result {
            Ok(n) => assert_eq!(*n, 16),
            Err(e) => assert_eq!(e.raw_os_error(), Some(Errno::CANCELED.0)),
        }
        match outcome {
            // The cancel came first (it sets the flag) or the completion did.
            Ok(_) => {}
            Err(Error::InvalidToken) => assert!(!c.cancel_requested, "reaped before cancel"),
            Err(e) => panic!("{e}"),
        }
        assert!(m.ring.wait(0, 1, Some(Duration::ZERO)).unwrap().is_empty());
        drop(got);
        m.finish();
    });
}

#[test]
fn a_detached_request_keeps_its_buffer_until_the_kernel_is_done() {
    check(|| {
        let m = Model::new(1, false);
        let token = m.ring.push(m.read(3)).unwrap();
        m.ring.submit().unwrap();
        let kernel = m.kernel_thread();
        let detacher = {
            let ring = m.ring.clone();
            thread::spawn(move || ring.detach(token))
        };
        // Another thread reaps whatever arrives; a detached request is never handed out.
        let reaper = {
            let ring = m.ring.clone();
            thread::spawn(move || {
                ring.wait(0, 1, Some(Duration::ZERO))
                    .unwrap()
                    .iter()
                    .map(|c| c.user_data)
                    .collect::<Vec<_>>()
            })
        };
        detacher.join().unwrap();
        kernel.join();
        let early = reaper.join().unwrap();
        // Drain: after the kernel finished, a detached request is freed on reaping.
        let late: Vec<u64> = m
            .ring
            .wait(0, 1, Some(Duration::ZERO))
            .unwrap()
            .iter()
            .map(|c| c.user_data)
            .collect();
        assert!(early.len() + late.len() <= 1, "handed back twice");
        assert_eq!(m.ring.outstanding(), 0, "the detached slot was freed");
        // The slot can be used again.
        m.ring.push(m.read(4)).map_err(|e| e.error).unwrap();
        m.finish();
    });
}

#[test]
fn dropping_the_ring_waits_for_the_kernel_to_finish_with_its_buffers() {
    check(|| {
        let m = Model::new(2, false);
        m.submit_reads(&[1, 2]);
        let kernel = m.kernel_thread();
        let waiter = {
            let ring = m.ring.clone();
            thread::spawn(move || ring.wait(1, 1, None).map(|v| v.len()))
        };
        let n = waiter.join().unwrap().unwrap();
        assert_eq!(n, 1);
        // The other request may still be running: the drop (in finish) must wait for it,
        // and the kernel thread asserts its buffer is still alive when it completes it.
        let Model {
            ring,
            live,
            kernel: k,
            ..
        } = m;
        drop(ring);
        kernel.join();
        drop(k);
        assert!(live.lock().unwrap().is_empty(), "a buffer was leaked");
    });
}

#[test]
fn submitting_while_another_thread_waits_loses_no_request() {
    check(|| {
        let m = Model::new(2, false);
        let kernel = m.kernel_thread();
        let submitter = {
            let ring = m.ring.clone();
            let (a, b) = (m.read(1), m.read(2));
            thread::spawn(move || {
                for op in [a, b] {
                    ring.push(op).map_err(|e| e.error).unwrap();
                    ring.submit().unwrap();
                }
            })
        };
        let mut ids = Vec::new();
        while ids.len() < 2 {
            match m.ring.wait(1, 2, None) {
                Ok(v) => ids.extend(v.iter().map(|c| c.user_data)),
                // Nothing pushed yet: let the submitter run.
                Err(Error::WouldWaitForever { .. }) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        submitter.join().unwrap();
        kernel.join();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        m.finish();
    });
}

/// The engine is called without the table's lock: two threads that push and submit at the
/// same time lose neither request (one of them may find the other submitting and leave
/// its request to it), and both complete.
#[test]
fn two_submitters_outside_the_lock_lose_no_request() {
    check(|| {
        let m = Model::new(2, false);
        let kernel = m.kernel_thread();
        let other = {
            let ring = m.ring.clone();
            let op = m.read(2);
            thread::spawn(move || {
                ring.push(op).map_err(|e| e.error).unwrap();
                ring.submit().unwrap();
            })
        };
        m.ring.push(m.read(1)).map_err(|e| e.error).unwrap();
        m.ring.submit().unwrap();
        other.join().unwrap();
        let mut ids = Vec::new();
        while ids.len() < 2 {
            let v = m.ring.wait(1, 2, None).unwrap();
            ids.extend(v.iter().map(|c| c.user_data));
        }
        kernel.join();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        m.finish();
    });
}

/// `close` racing a submission that runs outside the lock: the request either never
/// reaches the engine (it completes with ECANCELED) or is waited for before its buffer is
/// freed, and a cancellable request that reached the engine after `close` asked for
/// cancellation is cancelled by the submitter.
#[test]
fn close_racing_an_unlocked_submit_frees_no_buffer_early() {
    check(|| {
        let m = Model::new(2, true);
        let kernel = m.kernel_thread();
        let submitter = {
            let ring = m.ring.clone();
            let op = m.read(1);
            thread::spawn(move || {
                if ring.push(op).is_ok() {
                    let _ = ring.submit();
                }
            })
        };
        m.ring.close().unwrap();
        submitter.join().unwrap();
        assert_eq!(
            m.ring.in_flight(),
            0,
            "close returned with a request in flight"
        );
        let Model {
            ring,
            live,
            kernel: k,
            ..
        } = m;
        drop(ring);
        kernel.join();
        drop(k);
        assert!(live.lock().unwrap().is_empty(), "a buffer was leaked");
    });
}

/// The async layer's reapers (and the drop-in's completion thread) learn of a completion
/// from the notification descriptor, empty it, and call `drive(Some(ZERO))`. If another
/// thread holds the reaper's turn, that call returns at once; the other thread's round may
/// have asked the engine before the completion arrived. Whatever was complete when the
/// `drive` began must still be applied by the time both calls return, or it waits, with
/// the descriptor already emptied, for some later event.
#[test]
fn a_drive_that_finds_the_turn_taken_strands_no_completion() {
    check(|| {
        let m = Model::new(1, false);
        m.submit_reads(&[1]);
        let kernel = m.kernel_thread();
        let other = m.drive_on_another_thread();
        m.wait_until_the_kernel_completed_one();
        m.ring.drive(Some(Duration::ZERO)).unwrap();
        other.join().unwrap();
        let applied = m.ring.lock().unclaimed;
        assert_eq!(
            applied, 1,
            "a completion that was ready before drive() was not applied"
        );
        kernel.join();
        m.finish();
    });
}

/// An event loop sleeps on the notification descriptor; when it fires it empties it and
/// collects (`poll_completions`). Meanwhile another thread drives the ring and may reap the
/// completion into the ready queue after the loop looked. However the threads interleave,
/// the loop ends up with the completion, or the descriptor is readable again for it.
#[test]
fn a_completion_another_thread_reaps_leaves_the_notification_descriptor_readable() {
    check(|| {
        let m = Model::new(1, false);
        let _ = m.ring.notify_fd();
        m.submit_reads(&[1]);
        let kernel = m.kernel_thread();
        let other = m.drive_on_another_thread();
        m.wait_until_the_kernel_completed_one();
        let mut got = m.ring.poll_completions(8).unwrap().len();
        other.join().unwrap();
        let notified = m.kernel.st.lock().unwrap().notified;
        if got == 0 {
            assert!(
                notified > 0,
                "the completion waits in the ready queue behind an empty descriptor"
            );
            got = m.ring.poll_completions(8).unwrap().len();
        }
        assert_eq!(got, 1);
        kernel.join();
        m.finish();
    });
}
