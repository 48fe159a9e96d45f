//! A pipe has no offsets: a read or write of one goes to the stream whatever offset the
//! op names, on every engine (the thread pool used to fail it with ESPIPE).
mod common;
use aiolos::{EngineKind, Fd, Op};
use common::*;
use std::time::Duration;

fn a_pipe_round_trips_whatever_the_offset(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (r, w) = std::io::pipe().unwrap();
    let (r, w) = (
        Fd::from(std::os::fd::OwnedFd::from(r)),
        Fd::from(std::os::fd::OwnedFd::from(w)),
    );
    ring.push(Op::write(&w, b"stream".to_vec(), 4096).user_data(1))
        .unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(bytes(&done[0]), 6, "{:?}", done[0].result);
    ring.push(Op::read(&r, Vec::with_capacity(16), 77).user_data(2))
        .unwrap();
    let mut done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(bytes(&done[0]), 6, "{:?}", done[0].result);
    assert_eq!(done.remove(0).into_buf().unwrap(), b"stream");
}

on_every_engine!(a_pipe_round_trips_whatever_the_offset);
