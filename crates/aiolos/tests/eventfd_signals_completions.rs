//! A request's own eventfd, and the ring's notification descriptor, become readable when
//! requests complete, without anyone waiting on the ring; and the descriptor stays
//! readable while completions wait in the ring's ready queue, however they got there.
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

/// A ring of 8 on `kind` whose notification descriptor starts quiet, and a patterned
/// 8 KiB file in a scratch directory (kept alive by the caller). `None`: no such engine.
fn quiet_ring_and_file(
    kind: EngineKind,
) -> Option<(aiolos::Ring<Vec<u8>>, tempfile::TempDir, aiolos::Fd)> {
    let ring = ring::<Vec<u8>>(kind, 8)?;
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    assert!(ring.poll_completions(8).unwrap().is_empty());
    Some((ring, dir, file))
}

fn the_ring_notification_fd_becomes_readable_when_completions_are_ready(kind: EngineKind) {
    let Some((ring, _dir, file)) = quiet_ring_and_file(kind) else {
        return;
    };
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

/// Applies completions with zero-timeout drives until `n` were applied (10 s at most).
fn drive_until_applied(ring: &aiolos::Ring<Vec<u8>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut applied = 0;
    while applied < n {
        assert!(
            Instant::now() < deadline,
            "{applied} of {n} completions in 10 s"
        );
        applied += ring.drive(Some(Duration::ZERO)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// An event loop empties the descriptor when it fires; before it collects, another thread
/// reaps the completion into the ready queue. The descriptor must fire again for it.
fn a_completion_another_thread_reaped_keeps_the_notification_fd_readable(kind: EngineKind) {
    let Some((ring, _dir, file)) = quiet_ring_and_file(kind) else {
        return;
    };
    ring.push(Op::read(&file, Vec::with_capacity(100), 0))
        .unwrap();
    ring.submit().unwrap();
    assert!(wait_readable(ring.notify_fd()));
    eventfd_drain(ring.notify_fd());
    std::thread::scope(|s| {
        s.spawn(|| drive_until_applied(&ring, 1));
    });
    assert!(
        readable(ring.notify_fd(), Duration::ZERO),
        "a completion waits in the ready queue behind an empty notification descriptor"
    );
    let got = ring.poll_completions(8).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got[0]), 100);
    assert!(
        !readable(ring.notify_fd(), Duration::ZERO),
        "nothing is left, yet the descriptor fires"
    );
}

/// No engine event announces a request cancelled before it was submitted: the ring
/// signals the descriptor for its completion itself.
fn a_request_cancelled_before_submission_makes_the_notification_fd_readable(kind: EngineKind) {
    let Some((ring, _dir, file)) = quiet_ring_and_file(kind) else {
        return;
    };
    let token = ring
        .push(Op::read(&file, Vec::with_capacity(100), 0))
        .unwrap();
    assert_eq!(
        ring.cancel(token).unwrap(),
        aiolos::CancelOutcome::Cancelled
    );
    assert!(
        readable(ring.notify_fd(), Duration::ZERO),
        "the cancelled request's completion is not announced"
    );
    let got = ring.poll_completions(8).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(aiolos::sys::Errno::CANCELED.raw())
    );
}

/// `poll_completions(max)` with more than `max` ready leaves the descriptor readable for
/// the rest, and quiet once they are all taken.
fn completions_beyond_max_keep_the_notification_fd_readable(kind: EngineKind) {
    let Some((ring, _dir, file)) = quiet_ring_and_file(kind) else {
        return;
    };
    for i in 0..3u64 {
        ring.push(Op::read(&file, Vec::with_capacity(100), i * 100).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    drive_until_applied(&ring, 3);
    let mut seen = Vec::new();
    for left in [2, 1, 0] {
        let got = ring.poll_completions(1).unwrap();
        assert_eq!(got.len(), 1, "with {} left", left + 1);
        seen.push(got[0].user_data);
        assert_eq!(
            readable(ring.notify_fd(), Duration::ZERO),
            left > 0,
            "{left} completions left in the ready queue"
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2]);
}

on_every_engine!(
    a_requests_own_eventfd_is_signalled_once_per_request,
    the_ring_notification_fd_becomes_readable_when_completions_are_ready,
    a_completion_another_thread_reaped_keeps_the_notification_fd_readable,
    a_request_cancelled_before_submission_makes_the_notification_fd_readable,
    completions_beyond_max_keep_the_notification_fd_readable,
);
