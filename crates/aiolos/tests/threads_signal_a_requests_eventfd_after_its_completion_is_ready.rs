//! On the thread pool, a request's own eventfd is signalled once, after its I/O, and by
//! then the completion can be reaped without waiting.
mod common;
use aiolos::op::events::POLLIN;
use aiolos::{EngineKind, Fd, Op, Ring};
use common::eventfd::{eventfd, eventfd_drain};
use common::*;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn ring() -> Ring<Vec<u8>> {
    Ring::builder()
        .entries(8)
        .engine(EngineKind::Threads)
        .threads(2)
        .build()
        .expect("thread-pool ring")
}

fn readable(fd: &Fd, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if common::eventfd::readable(fd, Duration::from_millis(20)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

#[test]
fn the_eventfd_of_a_read_is_signalled_once_and_its_completion_is_ready() {
    let ring = ring();
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: Fd = open_rw(&path, false).into();
    let efd: Fd = eventfd().into();
    ring.push(Op::read(&file, Vec::with_capacity(4096), 4096).eventfd(&efd))
        .unwrap();
    ring.submit().unwrap();
    assert!(readable(&efd, Duration::from_secs(10)), "never signalled");
    assert_eq!(eventfd_drain(&efd), 1);
    let done = ring.wait(0, 8, Some(Duration::ZERO)).unwrap();
    assert_eq!(done.len(), 1, "signalled before the completion was queued");
    let c = done.into_iter().next().unwrap();
    assert_eq!(bytes(&c), 4096);
    assert_eq!(c.into_buf().unwrap(), pattern(4096, 4096));
    assert_eq!(eventfd_drain(&efd), 0, "signalled twice");
}

#[test]
fn the_eventfd_of_a_poll_is_signalled_only_when_the_poll_completes() {
    let ring = ring();
    let (sock, peer) = UnixStream::pair().unwrap();
    let sock: Fd = OwnedFd::from(sock).into();
    let efd: Fd = eventfd().into();
    ring.push(Op::poll(&sock, POLLIN).eventfd(&efd)).unwrap();
    ring.submit().unwrap();
    assert!(
        !readable(&efd, Duration::from_millis(200)),
        "signalled before the poll was ready"
    );
    (&peer).write_all(b"x").unwrap();
    assert!(readable(&efd, Duration::from_secs(10)), "never signalled");
    assert_eq!(eventfd_drain(&efd), 1);
    let done = ring.wait(0, 8, Some(Duration::ZERO)).unwrap();
    assert_eq!(done.len(), 1);
    assert_ne!(bytes(&done[0]) as i16 & POLLIN, 0);
}
