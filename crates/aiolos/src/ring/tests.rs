//! Ring logic against a scripted engine: partial submits and `EAGAIN` never lose a request.

// Scripted engines implement the unsafe `Engine::submit` and use raw descriptors they never
// touch.
#![allow(unsafe_code)]

use super::*;
use crate::engine::{Cqe, Sqe};
use crate::engine::{EngineCancel, EngineStats};
use crate::eventfd;
use crate::sys::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use std::time::Instant;

/// Accepts at most `per_call` requests per submit and refuses every other call with
/// EAGAIN; completes accepted requests when reaped.
struct Stingy {
    per_call: usize,
    calls: AtomicU64,
    accepted: Mutex<Vec<Cqe>>,
    notify: OwnedFd,
}

impl Engine for Stingy {
    fn kind(&self) -> EngineKind {
        EngineKind::Threads
    }
    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if call % 2 == 1 {
            return Err(Errno::AGAIN);
        }
        let n = sqes.len().min(self.per_call);
        let mut acc = self.accepted.lock().unwrap();
        acc.extend(sqes[..n].iter().map(|s| Cqe {
            user_data: s.user_data,
            res: s.len as i64,
        }));
        Ok(n)
    }
    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        _min: usize,
        max: usize,
        _timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let mut acc = self.accepted.lock().unwrap();
        let n = acc.len().min(max);
        out.extend(acc.drain(..n));
        Ok(())
    }
    fn cancel(&self, _slot: u32, _user_data: u64) -> EngineCancel {
        EngineCancel::NotCancellable
    }
    fn wake(&self) {}
    fn notify_fd(&self) -> BorrowedFd<'_> {
        self.notify.as_fd()
    }
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

#[test]
fn partial_submits_and_eagain_keep_every_request_until_it_completes_once() {
    let engine = Stingy {
        per_call: 3,
        calls: AtomicU64::new(0),
        accepted: Mutex::new(Vec::new()),
        notify: eventfd::new().unwrap(),
    };
    let ring: Ring<Vec<u8>> = Ring::with_engine(Box::new(engine), 16);
    // A descriptor number is never touched by the scripted engine.
    // SAFETY: the scripted engine does no I/O on the descriptor.
    let fd = unsafe { crate::Fd::from_raw(0) };
    for i in 0..16u64 {
        ring.push(Op::read(&fd, Vec::with_capacity(i as usize + 1), 0).user_data(i))
            .unwrap();
    }
    let overflow = ring
        .push(Op::read(&fd, Vec::with_capacity(1), 0))
        .unwrap_err();
    assert!(matches!(overflow.error, Error::QueueFull { capacity: 16 }));
    assert_eq!(
        overflow.op.into_bufs().len(),
        1,
        "a refused op gives its buffer back"
    );
    // The first submit is accepted in part; the rest stays queued.
    assert_eq!(ring.submit().unwrap(), 3);
    let mut seen = vec![0u32; 16];
    while seen.contains(&0) {
        for c in ring.wait(1, 16, Some(Duration::from_millis(10))).unwrap() {
            let i = c.user_data as usize;
            assert_eq!(*c.result.as_ref().unwrap(), i + 1);
            seen[i] += 1;
        }
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "each request completed once: {seen:?}"
    );
    assert_eq!(ring.outstanding(), 0);
}

#[test]
fn a_token_carries_its_slot_and_generation_to_the_engine() {
    let t = Token {
        ring: 7,
        index: 12345,
        generation: 0xfeed_beef,
    };
    let bits = t.to_u64();
    assert_eq!((bits as u32, (bits >> 32) as u32), (12345, 0xfeed_beef));
}

/// Completes requests only when the test says so.
#[derive(Default)]
struct Manual {
    submitted: Mutex<Vec<Sqe>>,
    done: Mutex<Vec<Cqe>>,
    cv: std::sync::Condvar,
    cancels: AtomicU64,
}

struct ManualEngine(std::sync::Arc<Manual>, OwnedFd);

impl Manual {
    fn complete_all(&self) {
        let subs: Vec<Sqe> = std::mem::take(&mut *self.submitted.lock().unwrap());
        let mut done = self.done.lock().unwrap();
        done.extend(subs.iter().map(|s| Cqe {
            user_data: s.user_data,
            res: s.len as i64,
        }));
        self.cv.notify_all();
    }
}

impl Engine for ManualEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Threads
    }
    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno> {
        self.0.submitted.lock().unwrap().extend_from_slice(sqes);
        Ok(sqes.len())
    }
    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut done = self.0.done.lock().unwrap();
        while done.len() < min.max(1) {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_millis(20),
            };
            if left.is_zero() {
                break;
            }
            done = self
                .0
                .cv
                .wait_timeout(done, left.min(Duration::from_millis(20)))
                .unwrap()
                .0;
            if deadline.is_none() {
                break;
            }
        }
        let n = done.len().min(max);
        out.extend(done.drain(..n));
        Ok(())
    }
    fn cancel(&self, _slot: u32, _user_data: u64) -> EngineCancel {
        self.0.cancels.fetch_add(1, Ordering::Relaxed);
        EngineCancel::NotCancellable
    }
    fn wake(&self) {
        self.0.cv.notify_all();
    }
    fn notify_fd(&self) -> BorrowedFd<'_> {
        self.1.as_fd()
    }
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

fn manual_ring(entries: u32) -> (std::sync::Arc<Manual>, Ring<Vec<u8>>) {
    let m = std::sync::Arc::new(Manual::default());
    let engine = ManualEngine(m.clone(), eventfd::new().unwrap());
    (m, Ring::with_engine(Box::new(engine), entries))
}

fn raw_fd() -> crate::Fd {
    // SAFETY: the manual engine never touches the descriptor.
    unsafe { crate::Fd::from_raw(0) }
}

#[test]
fn a_detached_request_is_freed_on_completion_and_never_handed_out() {
    let (m, ring) = manual_ring(4);
    let t = ring
        .push(Op::read(raw_fd(), Vec::with_capacity(16), 0))
        .unwrap();
    ring.submit().unwrap();
    ring.detach(t);
    assert_eq!(ring.outstanding(), 1, "detached but still in flight");
    m.complete_all();
    let got = ring.wait(0, 4, Some(Duration::ZERO)).unwrap();
    assert!(got.is_empty());
    assert_eq!(ring.outstanding(), 0);
    assert!(matches!(ring.cancel(t), Err(Error::InvalidToken)));
}

#[test]
fn close_waits_for_in_flight_requests_and_wakes_a_blocked_waiter() {
    let (m, ring) = manual_ring(4);
    let ring = std::sync::Arc::new(ring);
    ring.push(Op::read(raw_fd(), Vec::with_capacity(16), 0).user_data(1))
        .unwrap();
    ring.push(Op::read(raw_fd(), Vec::with_capacity(8), 0).user_data(2))
        .unwrap();
    ring.submit().unwrap();
    let queued = ring
        .push(Op::read(raw_fd(), Vec::with_capacity(8), 0).user_data(3))
        .unwrap();
    let closer = {
        let ring = ring.clone();
        std::thread::spawn(move || ring.close())
    };
    // The close cannot finish until the engine completes the two in-flight requests.
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        !closer.is_finished(),
        "close returned with requests in flight"
    );
    let waiter = {
        let ring = ring.clone();
        std::thread::spawn(move || ring.wait(3, 4, None))
    };
    m.complete_all();
    closer.join().unwrap().unwrap();
    assert!(
        m.cancels.load(Ordering::Relaxed) >= 2,
        "close asked the engine to cancel"
    );
    let mut all: Vec<Completion<Vec<u8>>> = match waiter.join().unwrap() {
        Ok(v) => v,
        Err(Error::Closed) => Vec::new(),
        Err(e) => panic!("{e}"),
    };
    while let Ok(more) = ring.wait(1, 4, Some(Duration::ZERO)) {
        all.extend(more);
    }
    all.sort_by_key(|c| c.user_data);
    let ids: Vec<u64> = all.iter().map(|c| c.user_data).collect();
    assert_eq!(ids, [1, 2, 3], "each request reported once");
    assert_eq!(all[2].token, queued);
    assert_eq!(
        all[2].result.as_ref().unwrap_err().raw_os_error(),
        Some(Errno::CANCELED.0),
        "the never-submitted request is cancelled"
    );
    assert_eq!(*all[0].result.as_ref().unwrap(), 16);
}

#[test]
fn a_large_ring_makes_slots_only_as_requests_need_them_and_reuses_them() {
    let (m, ring) = manual_ring(1 << 20);
    let made = |ring: &Ring<Vec<u8>>| ring.lock().slots.len();
    assert_eq!(made(&ring), 0, "no slot before the first request");
    for round in 0..3u64 {
        for i in 0..5u64 {
            ring.push(Op::read(raw_fd(), Vec::with_capacity(8), 0).user_data(round * 10 + i))
                .unwrap();
        }
        ring.submit().unwrap();
        m.complete_all();
        let mut got = 0;
        while got < 5 {
            got += ring.wait(1, 8, Some(Duration::from_secs(5))).unwrap().len();
        }
        assert_eq!(made(&ring), 5, "slots freed by one round serve the next");
    }
    // The capacity still bounds the table: a small ring refuses past it.
    let (_m, small) = manual_ring(2);
    for _ in 0..2 {
        small.push(Op::read(raw_fd(), Vec::new(), 0)).unwrap();
    }
    let full = small.push(Op::read(raw_fd(), Vec::new(), 0)).unwrap_err();
    assert!(matches!(full.error, Error::QueueFull { capacity: 2 }));
    assert_eq!(made(&small), 2);
}
