//! Cancel never loses or duplicates a completion, whatever state the request is in.
mod common;
use aiolos::{CancelOutcome, EngineKind, Error, Op};
use common::*;
use std::time::Duration;

fn cancel_of_a_queued_request_completes_it_once_with_ecanceled(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 4096);
    let file: aiolos::Fd = open_rw(&path, false).into();
    let t = ring
        .push(Op::read(&file, Vec::with_capacity(64), 0).user_data(7))
        .unwrap();
    assert_eq!(ring.cancel(t).unwrap(), CancelOutcome::Cancelled);
    let done = ring.wait(1, 8, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].token, t);
    assert!(done[0].cancel_requested);
    assert_eq!(
        done[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(125)
    );
    // Nothing else arrives, and the token is now stale.
    assert!(matches!(
        ring.wait(1, 8, Some(Duration::from_millis(50))),
        Err(Error::WouldWaitForever { .. })
    ));
    assert!(matches!(ring.cancel(t), Err(Error::InvalidToken)));
}

fn cancel_of_a_completed_request_reports_it_once(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 4096);
    let file: aiolos::Fd = open_rw(&path, false).into();
    let t = ring
        .push(Op::read(&file, Vec::with_capacity(64), 0))
        .unwrap();
    ring.submit().unwrap();
    // Let it complete inside the ring without handing it out: wait for the notification
    // (a thread-pool worker may not even have started it when submit returns).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !common::eventfd::readable(ring.notify_fd(), Duration::from_millis(100)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no completion notified"
        );
    }
    let mut outcome = ring.cancel(t).unwrap();
    while outcome != CancelOutcome::AlreadyComplete && std::time::Instant::now() < deadline {
        // Reap into the ring's ready queue by waiting with min 0.
        let got = ring.wait(0, 8, Some(Duration::from_millis(10))).unwrap();
        if let Some(c) = got.into_iter().next() {
            assert_eq!(c.token, t);
            assert_eq!(bytes(&c), 64);
            assert!(matches!(ring.cancel(t), Err(Error::InvalidToken)));
            return;
        }
        outcome = ring.cancel(t).unwrap();
    }
    assert_ne!(outcome, CancelOutcome::Cancelled);
    let done = ring.wait(1, 8, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(
        bytes(&done[0]),
        64,
        "a read that finished reports its bytes, not ECANCELED"
    );
    assert!(matches!(ring.cancel(t), Err(Error::InvalidToken)));
}

fn cancel_of_an_in_flight_poll_completes_it_once(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    let t = ring.push(Op::poll(&r, aiolos::op::events::POLLIN)).unwrap();
    ring.submit().unwrap();
    assert!(ring
        .wait(0, 8, Some(Duration::from_millis(20)))
        .unwrap()
        .is_empty());
    let outcome = ring.cancel(t).unwrap();
    assert_eq!(outcome, CancelOutcome::Requested);
    let done = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].token, t);
    // Kernel AIO reports a cancelled poll with result 0; the others with ECANCELED.
    match &done[0].result {
        Ok(0) => {}
        Err(e) => assert_eq!(e.raw_os_error(), Some(125), "got {e}"),
        Ok(n) => panic!("cancelled poll reported readiness {n:#x}"),
    }
    assert!(matches!(
        ring.wait(1, 8, Some(Duration::from_millis(50))),
        Err(Error::WouldWaitForever { .. })
    ));
}

fn a_stale_token_from_a_reaped_request_is_rejected(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 1) else {
        return;
    };
    let t1 = ring.push(Op::nop()).unwrap();
    ring.wait(1, 1, Some(Duration::from_secs(5))).unwrap();
    let t2 = ring.push(Op::nop()).unwrap();
    assert_eq!(t1.index(), t2.index(), "the one slot is reused");
    assert!(matches!(ring.cancel(t1), Err(Error::InvalidToken)));
    ring.wait(1, 1, Some(Duration::from_secs(5))).unwrap();
}

on_every_engine!(
    cancel_of_a_queued_request_completes_it_once_with_ecanceled,
    cancel_of_a_completed_request_reports_it_once,
    cancel_of_an_in_flight_poll_completes_it_once,
    a_stale_token_from_a_reaped_request_is_rejected,
);
