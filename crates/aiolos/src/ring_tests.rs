//! Ring logic against a scripted engine: partial submits and `EAGAIN` never lose a request.

use super::*;
use crate::engine::{EngineCancel, EngineStats};
use crate::sys::eventfd;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

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
    fn supports(&self, _op: OpCode) -> bool {
        true
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
        notify: eventfd::eventfd().unwrap(),
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
fn tokens_round_trip_through_user_data() {
    let t = Token {
        index: 12345,
        generation: 0xfeed_beef,
    };
    assert_eq!(Token::from_u64(t.to_u64()), t);
}
