//! On io_uring, a thread blocked in `wait` returns when another thread closes the ring.
mod common;
use aiolos::{EngineKind, Error, Op};
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_waiter_blocked_without_timeout_returns_when_another_thread_closes_the_ring() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 8) else {
        return;
    };
    let ring = Arc::new(ring);
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    // Four polls that never become ready on their own; the waiter wants all four.
    for i in 0..4 {
        ring.push(Op::poll(&r, aiolos::op::events::POLLIN).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    let waiter = {
        let ring = Arc::clone(&ring);
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut got = 0;
            loop {
                match ring.wait(4, 8, None) {
                    Ok(v) => {
                        for c in &v {
                            assert_eq!(c.result.as_ref().unwrap_err().raw_os_error(), Some(125));
                        }
                        got += v.len();
                    }
                    Err(Error::Closed) => break,
                    Err(e) => panic!("wait failed: {e}"),
                }
            }
            (got, start.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !waiter.is_finished(),
        "the waiter blocks while nothing completes"
    );
    ring.close().unwrap();
    let (got, _) = waiter.join().unwrap();
    assert_eq!(
        got, 4,
        "every poll completes exactly once, cancelled by close"
    );
}
