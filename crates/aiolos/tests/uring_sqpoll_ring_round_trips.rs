//! A ring built with `.sqpoll(ms)` submits through the kernel's polling thread and
//! completes reads and writes as any other.
mod common;
use aiolos::{EngineKind, Error, Op, Ring};
use common::*;
use std::time::Duration;

#[test]
fn an_sqpoll_ring_writes_and_reads_back() {
    let ring: Ring<Vec<u8>> = match Ring::builder()
        .entries(32)
        .engine(EngineKind::Uring)
        .sqpoll(50)
        .build()
    {
        Ok(r) => r,
        Err(Error::EngineUnavailable { reason, .. }) => {
            eprintln!("SKIP: io_uring with SQPOLL unavailable: {reason}");
            return;
        }
        Err(e) => panic!("building an SQPOLL ring: {e}"),
    };
    let dir = scratch_dir();
    let file: aiolos::Fd = open_rw(&dir.path().join("f"), false).into();
    let data = pattern(0, 64 * 1024);
    for i in 0..16u64 {
        let off = i * 4096;
        ring.push(Op::write(
            &file,
            data[off as usize..off as usize + 4096].to_vec(),
            off,
        ))
        .unwrap();
    }
    ring.submit().unwrap();
    let mut n = 0;
    while n < 16 {
        for c in ring.wait(1, 16, Some(Duration::from_secs(10))).unwrap() {
            assert_eq!(bytes(&c), 4096);
            n += 1;
        }
    }
    // Let the polling thread fall asleep, then submit again: it must be woken.
    std::thread::sleep(Duration::from_millis(120));
    ring.push(Op::read(&file, Vec::with_capacity(64 * 1024), 0))
        .unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done[0].result.as_ref().copied().unwrap(), 64 * 1024);
    assert_eq!(done.into_iter().next().unwrap().into_buf().unwrap(), data);
}
