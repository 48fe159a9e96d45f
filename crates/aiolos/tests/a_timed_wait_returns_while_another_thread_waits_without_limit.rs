//! Two threads wait on one ring: one without a limit, for a request that does not complete;
//! the other with a timeout. Only one of them can reap at a time, so the second sleeps
//! while the first holds the engine: its timeout must still end its wait (it returned
//! nothing then), and a zero timeout must return at once. The first is then satisfied.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

fn a_timed_wait_returns_while_another_thread_waits_without_limit(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let (r, mut w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    ring.push(Op::poll(&r, aiolos::op::events::POLLIN).user_data(1))
        .unwrap();
    ring.submit().unwrap();
    let (timed, blocked) = std::thread::scope(|s| {
        let blocked = s.spawn(|| ring.wait(1, 1, None).map(|v| v.len()));
        // Let it reach the engine (a timed wait that came first would reap instead; the
        // test then checks less, but still checks the timeouts).
        std::thread::sleep(Duration::from_millis(100));
        let (tx, rx) = mpsc::channel();
        let ring = &ring;
        s.spawn(move || {
            for timeout in [Duration::from_millis(20), Duration::ZERO] {
                let got = ring.wait(1, 1, Some(timeout)).map(|v| v.len());
                let _ = tx.send((timeout, got));
            }
        });
        let timed: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(20)))
            .collect();
        // Whatever happened, the poll completes now and both threads can end.
        w.write_all(b"x").unwrap();
        (timed, blocked.join().unwrap())
    });
    for t in timed {
        let (timeout, got) =
            t.expect("a timed wait did not return while another thread waited without limit");
        assert_eq!(got.unwrap(), 0, "wait with timeout {timeout:?}");
    }
    assert_eq!(blocked.unwrap(), 1);
}

on_every_engine!(a_timed_wait_returns_while_another_thread_waits_without_limit);
