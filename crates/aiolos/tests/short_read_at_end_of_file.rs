//! A read that crosses the end of the file is short, not an error; one past it returns 0.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::time::Duration;

fn read_across_end_of_file_is_short(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 10_000);
    let file: aiolos::Fd = open_rw(&path, false).into();
    ring.push(Op::read(&file, Vec::with_capacity(4096), 8192).user_data(1))
        .unwrap();
    ring.push(Op::read(&file, Vec::with_capacity(4096), 20_000).user_data(2))
        .unwrap();
    let mut done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    assert_eq!(bytes(&done[0]), 10_000 - 8192);
    assert_eq!(bytes(&done[1]), 0);
    let first = done.remove(0).into_buf().unwrap();
    assert_eq!(
        first,
        pattern(8192, 10_000 - 8192),
        "the buffer's length is the bytes read"
    );
}

on_every_engine!(read_across_end_of_file_is_short);
