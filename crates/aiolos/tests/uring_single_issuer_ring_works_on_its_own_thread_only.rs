//! A single-issuer io_uring ring (SINGLE_ISSUER | DEFER_TASKRUN) reads, writes, notifies,
//! cancels and closes on the thread that built it, and refuses the calls that enter the
//! kernel from any other thread with `Error::WrongThread`.
mod common;
use aiolos::op::events::POLLIN;
use aiolos::{CancelOutcome, EngineKind, Error, Op, Ring};
use common::*;
use std::time::{Duration, Instant};

fn single_issuer_ring(entries: u32) -> Option<Ring<Vec<u8>>> {
    match Ring::builder()
        .entries(entries)
        .engine(EngineKind::Uring)
        .single_issuer(true)
        .build()
    {
        Ok(r) => Some(r),
        Err(Error::EngineUnavailable { reason, .. }) => {
            eprintln!("SKIP: io_uring unavailable: {reason}");
            None
        }
        Err(e) => panic!("creating a single-issuer ring failed: {e}"),
    }
}

#[test]
fn reads_and_writes_round_trip_on_the_owning_thread() {
    let Some(ring) = single_issuer_ring(16) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 64 * 1024);
    let file: aiolos::Fd = open_rw(&path, false).into();
    for i in 0..8u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), i * 4096).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < 8 {
        got.extend(ring.wait(1, 16, Some(Duration::from_secs(10))).unwrap());
    }
    for c in got {
        let off = c.user_data * 4096;
        assert_eq!(bytes(&c), 4096);
        assert_eq!(c.into_buf().unwrap(), pattern(off, 4096), "read at {off}");
    }
    ring.push(Op::write(&file, b"single".to_vec(), 3)).unwrap();
    let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(bytes(&c[0]), 6);
    assert_eq!(&std::fs::read(&path).unwrap()[3..9], b"single");
}

#[test]
fn the_notification_fd_fires_and_poll_completions_collects_deferred_completions() {
    let Some(ring) = single_issuer_ring(8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    assert!(ring.poll_completions(8).unwrap().is_empty());
    ring.push(Op::read(&file, Vec::with_capacity(100), 0))
        .unwrap();
    ring.submit().unwrap();
    // Nobody enters the kernel for completions now: the fd must still become readable
    // and a non-blocking poll must then find the completion.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the completion was never collected"
        );
        if common::eventfd::readable(ring.notify_fd(), Duration::from_millis(100)) {
            got = ring.poll_completions(8).unwrap();
        }
    }
    assert_eq!(got.len(), 1);
    assert_eq!(bytes(&got[0]), 100);
}

#[test]
fn cancel_and_close_work_from_the_owning_thread() {
    let Some(ring) = single_issuer_ring(8) else {
        return;
    };
    let (rd, _wr) = std::io::pipe().unwrap();
    let rd: aiolos::Fd = std::os::fd::OwnedFd::from(rd).into();
    let t = ring.push(Op::poll(&rd, POLLIN)).unwrap();
    let t2 = ring.push(Op::poll(&rd, POLLIN)).unwrap();
    ring.submit().unwrap();
    assert_eq!(ring.cancel(t).unwrap(), CancelOutcome::Requested);
    let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c[0].token, t);
    assert_eq!(
        c[0].result.as_ref().unwrap_err().raw_os_error(),
        Some(aiolos::sys::Errno::CANCELED.0)
    );
    // Close cancels the second poll and waits for it.
    ring.close().unwrap();
    let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c[0].token, t2);
    assert!(c[0].cancel_requested);
}

#[test]
fn other_threads_are_refused_with_wrong_thread() {
    let Some(ring) = single_issuer_ring(8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    let t = ring
        .push(Op::read(&file, Vec::with_capacity(10), 0))
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(matches!(ring.submit(), Err(Error::WrongThread)));
            assert!(matches!(
                ring.wait(1, 1, Some(Duration::ZERO)),
                Err(Error::WrongThread)
            ));
            assert!(matches!(ring.cancel(t), Err(Error::WrongThread)));
            assert!(matches!(ring.close(), Err(Error::WrongThread)));
        });
    });
    // The refused calls changed nothing: the owner submits and reaps the request.
    let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c[0].token, t);
    assert_eq!(bytes(&c[0]), 10);
    let e: std::io::Error = Error::WrongThread.into();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
}
