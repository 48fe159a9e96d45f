//! Data written by each write op reads back through each read op, on every engine.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::time::Duration;

fn write_then_read_returns_the_same_bytes(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 64) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    let file: aiolos::Fd = open_rw(&path, false).into();
    let data = pattern(0, 64 * 1024);
    ring.push(Op::write(&file, data[..32 * 1024].to_vec(), 0).user_data(1))
        .unwrap();
    ring.push(
        Op::writev(
            &file,
            vec![
                data[32 * 1024..48 * 1024].to_vec(),
                data[48 * 1024..].to_vec(),
            ],
            32 * 1024,
        )
        .user_data(2),
    )
    .unwrap();
    ring.submit().unwrap();
    let done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 2);
    for c in &done {
        assert_eq!(
            bytes(c),
            32 * 1024,
            "request {} wrote all its bytes",
            c.user_data
        );
    }
    ring.push(Op::fsync(&file).user_data(3)).unwrap();
    ring.push(Op::fdatasync(&file).user_data(4)).unwrap();
    let done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    for c in &done {
        assert_eq!(bytes(c), 0, "fsync/fdatasync return 0");
    }
    ring.push(Op::read(&file, Vec::with_capacity(64 * 1024), 0).user_data(5))
        .unwrap();
    ring.push(
        Op::readv(
            &file,
            vec![
                Vec::with_capacity(1000),
                Vec::with_capacity(64 * 1024 - 1000),
            ],
            0,
        )
        .user_data(6),
    )
    .unwrap();
    ring.submit().unwrap();
    let done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    for c in done {
        assert_eq!(bytes(&c), 64 * 1024);
        let got: Vec<u8> = c.into_bufs().concat();
        assert_eq!(got, data);
    }
}

fn nop_completes_with_zero_and_keeps_user_data(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    ring.push(Op::nop().user_data(0xdead_beef)).unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done[0].user_data, 0xdead_beef);
    assert_eq!(bytes(&done[0]), 0);
}

fn poll_completes_when_a_pipe_becomes_readable(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let (r, mut w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    ring.push(Op::poll(&r, aiolos::op::events::POLLIN).user_data(9))
        .unwrap();
    ring.submit().unwrap();
    let early = ring.wait(0, 8, Some(Duration::ZERO)).unwrap();
    assert!(early.is_empty(), "poll completed before the pipe had data");
    std::io::Write::write_all(&mut w, b"x").unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done[0].user_data, 9);
    let mask = bytes(&done[0]) as i16;
    assert!(mask & aiolos::op::events::POLLIN != 0, "mask {mask:#x}");
}

on_every_engine!(
    write_then_read_returns_the_same_bytes,
    nop_completes_with_zero_and_keeps_user_data,
    poll_completes_when_a_pipe_becomes_readable,
);
