//! On the thread pool, a request that no worker has started yet (every worker is busy with
//! a poll that never becomes ready) is cancelled: it completes exactly once, with
//! `ECANCELED`, and its buffer comes back untouched.
mod common;
use aiolos::op::events::POLLIN;
use aiolos::{CancelOutcome, EngineKind, Fd, Op, Ring};
use common::*;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[test]
fn a_read_queued_behind_busy_workers_completes_once_with_ecanceled() {
    let ring: Ring<Vec<u8>> = Ring::builder()
        .entries(16)
        .engine(EngineKind::Threads)
        .threads(2)
        .build()
        .expect("thread-pool ring");
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 4096);
    let file: Fd = open_rw(&path, false).into();
    // Two polls on sockets with no data occupy both workers (the queue is FIFO, so they
    // are taken before the read, whenever the workers get to run).
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..2).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (quiet, _)) in pairs.iter().enumerate() {
        let fd: Fd = OwnedFd::from(quiet.try_clone().unwrap()).into();
        ring.push(Op::poll(fd, POLLIN).user_data(10 + i as u64))
            .unwrap();
    }
    let read = ring
        .push(Op::read(&file, Vec::with_capacity(64), 0).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    assert_eq!(ring.cancel(read).unwrap(), CancelOutcome::Requested);

    let done = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1, "only the cancelled read completes");
    let c = &done[0];
    assert_eq!(c.token, read);
    assert!(c.cancel_requested);
    assert_eq!(c.result.as_ref().unwrap_err().raw_os_error(), Some(125));
    assert!(
        matches!(&c.bufs, aiolos::Buffers::One(b) if b.is_empty()),
        "the buffer comes back untouched"
    );

    // Now let the polls finish on their own: they were running, not cancelled.
    for (_, peer) in &pairs {
        (&*peer).write_all(b"x").unwrap();
    }
    let mut polls = Vec::new();
    while polls.len() < 2 {
        let got = ring.wait(1, 8, Some(Duration::from_secs(10))).unwrap();
        assert!(!got.is_empty(), "the polls never completed");
        polls.extend(got);
    }
    for p in &polls {
        assert!(p.user_data >= 10, "the read completed a second time");
        assert_ne!(bytes(p) as i16 & POLLIN, 0);
    }
    assert_eq!(ring.outstanding(), 0);
    assert!(ring.wait(0, 8, Some(Duration::ZERO)).unwrap().is_empty());
}
