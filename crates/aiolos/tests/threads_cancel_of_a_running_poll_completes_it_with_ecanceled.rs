//! On the thread pool, a poll a worker is already waiting in is cancelled: the worker is
//! woken, the poll completes once with `ECANCELED`, and the worker serves new requests.
mod common;
use aiolos::op::events::POLLIN;
use aiolos::{CancelOutcome, EngineKind, Fd, Op, Ring};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[test]
fn a_running_poll_is_woken_and_completes_once_with_ecanceled() {
    let ring: Ring<Vec<u8>> = Ring::builder()
        .entries(8)
        .engine(EngineKind::Threads)
        .threads(2)
        .build()
        .expect("thread-pool ring");
    let (quiet, _peer) = UnixStream::pair().unwrap();
    let quiet: Fd = OwnedFd::from(quiet).into();
    let poll = ring.push(Op::poll(&quiet, POLLIN).user_data(1)).unwrap();
    ring.submit().unwrap();
    // A no-op queued after the poll completing proves a worker took the poll first.
    ring.push(Op::nop().user_data(2)).unwrap();
    let done = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].user_data, 2);

    assert_eq!(ring.cancel(poll).unwrap(), CancelOutcome::Requested);
    // The poll slice of a worker is 5 s; the cancel must not have to wait for it.
    let done = ring.wait(1, 8, Some(Duration::from_secs(4))).unwrap();
    assert_eq!(done.len(), 1, "the cancel did not wake the worker");
    assert_eq!(done[0].token, poll);
    assert_eq!(
        done[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(125)
    );
    assert!(matches!(
        ring.cancel(poll),
        Err(aiolos::Error::InvalidToken)
    ));

    // Both workers are free again: two more polls on the same socket start and finish.
    let (ready, peer) = UnixStream::pair().unwrap();
    use std::io::Write;
    (&peer).write_all(b"x").unwrap();
    let ready: Fd = OwnedFd::from(ready).into();
    ring.push(Op::poll(&ready, POLLIN)).unwrap();
    ring.push(Op::poll(&ready, POLLIN)).unwrap();
    let done = ring.wait(2, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(ring.outstanding(), 0);
}
