//! On io_uring, cancelling a poll that is waiting in the kernel gives exactly one
//! completion, with ECANCELED, and the cancel request's own completion never surfaces.
mod common;
use aiolos::{CancelOutcome, EngineKind, Error, Op};
use common::*;
use std::time::Duration;

#[test]
fn cancel_of_an_in_flight_poll_on_a_pipe_completes_it_once_with_ecanceled() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 8) else {
        return;
    };
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    let t = ring
        .push(Op::poll(&r, aiolos::op::events::POLLIN).user_data(5))
        .unwrap();
    ring.submit().unwrap();
    assert!(
        ring.wait(0, 8, Some(Duration::ZERO)).unwrap().is_empty(),
        "poll is pending"
    );
    assert_eq!(ring.cancel(t).unwrap(), CancelOutcome::Requested);
    let done = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].token, t);
    assert_eq!(done[0].user_data, 5);
    assert!(done[0].cancel_requested);
    assert_eq!(
        done[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(125)
    );
    // Nothing more: the async-cancel request's own completion is swallowed.
    assert!(matches!(
        ring.wait(1, 8, Some(Duration::from_millis(100))),
        Err(Error::WouldWaitForever { .. })
    ));
    ring.push(Op::nop().user_data(6)).unwrap();
    let next = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].user_data, 6, "only the new request completes");
}

#[test]
fn a_cancelled_poll_with_an_eventfd_still_signals_it_before_completing() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 8) else {
        return;
    };
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    let efd: aiolos::Fd = common::eventfd::eventfd().into();
    let t = ring
        .push(Op::poll(&r, aiolos::op::events::POLLIN).eventfd(&efd))
        .unwrap();
    ring.submit().unwrap();
    assert_eq!(ring.cancel(t).unwrap(), CancelOutcome::Requested);
    let done = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        done[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(125)
    );
    // The completion is handed back only after the linked eventfd write ran.
    let n = common::eventfd::eventfd_drain(&efd);
    assert_eq!(n, 1);
}
