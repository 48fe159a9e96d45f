//! A request's own eventfd, and the ring's notification descriptor, become readable when
//! requests complete, without anyone waiting on the ring.
mod common;
use aiolos::{EngineKind, Op};
use common::eventfd::{eventfd, eventfd_drain, readable};
use common::*;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

fn wait_readable(fd: impl AsFd) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if readable(&fd, Duration::from_millis(100)) {
            return true;
        }
    }
    false
}

fn a_requests_own_eventfd_is_signalled_once_per_request(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    let efd: aiolos::Fd = eventfd().into();
    for i in 0..3u64 {
        ring.push(Op::read(&file, Vec::with_capacity(100), i * 100).eventfd(&efd))
            .unwrap();
    }
    ring.submit().unwrap();
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while total < 3 && Instant::now() < deadline {
        assert!(wait_readable(&efd), "eventfd never became readable");
        total += eventfd_drain(&efd);
    }
    assert_eq!(total, 3, "one signal per completed request");
    assert_eq!(
        ring.wait(3, 3, Some(Duration::from_secs(5))).unwrap().len(),
        3
    );
}

fn the_ring_notification_fd_becomes_readable_when_completions_are_ready(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    // Start from a quiet descriptor.
    assert!(ring.poll_completions(8).unwrap().is_empty());
    ring.push(Op::read(&file, Vec::with_capacity(100), 0))
        .unwrap();
    ring.submit().unwrap();
    assert!(wait_readable(ring.notify_fd()));
    let mut got = ring.poll_completions(8).unwrap();
    if got.is_empty() {
        got = ring.wait(1, 8, Some(Duration::from_secs(5))).unwrap();
    }
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got[0]), 100);
}

on_every_engine!(
    a_requests_own_eventfd_is_signalled_once_per_request,
    the_ring_notification_fd_becomes_readable_when_completions_are_ready,
);
