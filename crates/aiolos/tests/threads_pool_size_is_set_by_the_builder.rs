//! `RingBuilder::threads(n)` sets how many requests the thread pool runs at once.
mod common;
use aiolos::op::events::POLLIN;
use aiolos::{CancelOutcome, EngineKind, Error, Op, Ring};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn pool(threads: usize) -> Ring<Vec<u8>> {
    Ring::builder()
        .entries(16)
        .engine(EngineKind::Threads)
        .threads(threads)
        .build()
        .expect("thread-pool ring")
}

#[test]
fn a_pool_of_zero_threads_is_refused() {
    let r = Ring::builder()
        .engine(EngineKind::Threads)
        .threads(0)
        .build::<Vec<u8>>();
    assert!(matches!(r, Err(Error::InvalidRequest(_))));
}

#[test]
fn one_thread_busy_with_a_poll_leaves_the_next_request_queued() {
    let ring = pool(1);
    let (quiet, _peer) = UnixStream::pair().unwrap();
    let quiet: aiolos::Fd = aiolos::Fd::from(std::os::fd::OwnedFd::from(quiet));
    let poll = ring.push(Op::poll(&quiet, POLLIN).user_data(1)).unwrap();
    let nop = ring.push(Op::nop().user_data(2)).unwrap();
    ring.submit().unwrap();
    // The only worker sits in the poll, so the no-op never starts.
    let early = ring.wait(1, 2, Some(Duration::from_millis(200))).unwrap();
    assert!(
        early.is_empty(),
        "a one-thread pool ran two requests at once"
    );
    assert_eq!(ring.cancel(nop).unwrap(), CancelOutcome::Requested);
    let done = ring.wait(1, 2, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].user_data, 2);
    assert_eq!(
        done[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(125)
    );
    ring.cancel(poll).unwrap();
    let done = ring.wait(1, 2, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done[0].user_data, 1);
}

#[test]
fn two_threads_run_a_request_beside_a_blocked_poll() {
    let ring = pool(2);
    let (quiet, _peer) = UnixStream::pair().unwrap();
    let quiet: aiolos::Fd = aiolos::Fd::from(std::os::fd::OwnedFd::from(quiet));
    let poll = ring.push(Op::poll(&quiet, POLLIN).user_data(1)).unwrap();
    ring.push(Op::nop().user_data(2)).unwrap();
    ring.submit().unwrap();
    let done = ring.wait(1, 2, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].user_data, 2);
    assert_eq!(common::bytes(&done[0]), 0);
    ring.cancel(poll).unwrap();
    assert_eq!(
        ring.wait(1, 2, Some(Duration::from_secs(10)))
            .unwrap()
            .len(),
        1
    );
}
