//! On the thread pool, closing or dropping a ring while a worker waits in a poll that
//! would never become ready wakes that worker, completes the poll, and returns.
mod common;
use aiolos::op::events::POLLIN;
use aiolos::{EngineKind, Error, Fd, Op, Ring};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc};
use std::time::Duration;

fn ring() -> Ring<Vec<u8>> {
    Ring::builder()
        .entries(8)
        .engine(EngineKind::Threads)
        .threads(1)
        .build()
        .expect("thread-pool ring")
}

/// Runs `f` on a thread and fails (instead of hanging the suite) if it does not return.
fn returns_within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("did not return: a poll held the shutdown")
}

#[test]
fn close_with_a_poll_in_flight_wakes_the_waiter_and_returns() {
    let ring = Arc::new(ring());
    let (quiet, _peer) = UnixStream::pair().unwrap();
    let quiet: Fd = OwnedFd::from(quiet).into();
    let poll = ring.push(Op::poll(&quiet, POLLIN)).unwrap();
    ring.submit().unwrap();
    let waiter = {
        let ring = Arc::clone(&ring);
        std::thread::spawn(move || ring.wait(1, 8, None))
    };
    std::thread::sleep(Duration::from_millis(100));
    let closer = Arc::clone(&ring);
    returns_within(Duration::from_secs(30), move || closer.close()).unwrap();
    // The waiter gets the poll's one completion, or (if close collected it first) Closed
    // and the completion stays for the next wait.
    let mut got = match waiter.join().unwrap() {
        Ok(done) => done,
        Err(Error::Closed) => Vec::new(),
        Err(e) => panic!("waiter failed: {e}"),
    };
    if got.is_empty() {
        got = ring.wait(1, 8, Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].token, poll);
    assert_eq!(
        got[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(125)
    );
    assert!(matches!(
        ring.wait(1, 8, Some(Duration::ZERO)),
        Err(Error::Closed)
    ));
}

#[test]
fn dropping_a_ring_with_polls_running_and_queued_returns() {
    let ring = ring();
    let (quiet, _peer) = UnixStream::pair().unwrap();
    let quiet: Fd = OwnedFd::from(quiet).into();
    // One poll runs on the only worker, two wait behind it.
    for _ in 0..3 {
        ring.push(Op::poll(&quiet, POLLIN)).unwrap();
    }
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    returns_within(Duration::from_secs(30), move || drop(ring));
}
