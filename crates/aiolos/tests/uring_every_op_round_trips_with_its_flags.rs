//! On io_uring, every operation round-trips, and `rw_flags` and `ioprio` reach the kernel
//! (invalid values are refused by the kernel for that request alone).
mod common;
use aiolos::{EngineKind, Op, RwFlags};
use common::*;
use std::io::Write;
use std::time::Duration;

#[test]
fn every_op_round_trips_on_io_uring() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 16) else {
        return;
    };
    assert_eq!(ring.engine_kind(), EngineKind::Uring);
    let dir = scratch_dir();
    let file: aiolos::Fd = open_rw(&dir.path().join("f"), false).into();
    let data = pattern(0, 16 * 1024);
    ring.push(Op::write(&file, data[..8192].to_vec(), 0).rw_flags(RwFlags::DSYNC))
        .unwrap();
    ring.push(Op::writev(
        &file,
        vec![data[8192..12288].to_vec(), data[12288..].to_vec()],
        8192,
    ))
    .unwrap();
    ring.push(Op::nop().user_data(99)).unwrap();
    ring.submit().unwrap();
    let mut done = ring.wait(3, 3, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    assert_eq!(bytes(&done[0]) + bytes(&done[1]), 16 * 1024);
    assert_eq!(done[2].user_data, 99);
    assert_eq!(bytes(&done[2]), 0, "a no-op completes with 0");

    ring.push(Op::fsync(&file).user_data(1)).unwrap();
    ring.push(Op::fdatasync(&file).user_data(2)).unwrap();
    let done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    assert!(
        done.iter().all(|c| bytes(c) == 0),
        "fsync and fdatasync return 0"
    );

    // A valid priority (best-effort class, level 4) is accepted.
    let be4 = (2u16 << 13) | 4;
    ring.push(
        Op::read(&file, Vec::with_capacity(8192), 0)
            .ioprio(be4)
            .user_data(1),
    )
    .unwrap();
    ring.push(
        Op::readv(
            &file,
            vec![Vec::with_capacity(100), Vec::with_capacity(16 * 1024 - 100)],
            0,
        )
        .user_data(2),
    )
    .unwrap();
    let mut done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    let rv = done.pop().unwrap();
    let r = done.pop().unwrap();
    assert_eq!(bytes(&r), 8192);
    assert_eq!(r.into_buf().unwrap(), data[..8192]);
    assert_eq!(bytes(&rv), 16 * 1024);
    assert_eq!(rv.into_bufs().concat(), data);

    let (pr, mut pw) = std::io::pipe().unwrap();
    let pr: aiolos::Fd = std::os::fd::OwnedFd::from(pr).into();
    ring.push(Op::poll(&pr, aiolos::op::events::POLLIN))
        .unwrap();
    ring.submit().unwrap();
    assert!(ring.wait(0, 1, Some(Duration::ZERO)).unwrap().is_empty());
    pw.write_all(b"x").unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    let mask = bytes(&done[0]) as i16;
    assert_ne!(mask & aiolos::op::events::POLLIN, 0, "poll reports POLLIN");
}

#[test]
fn unknown_rw_flags_reach_the_kernel_and_fail_only_that_request() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 4096);
    let file: aiolos::Fd = open_rw(&path, false).into();
    ring.push(
        Op::read(&file, Vec::with_capacity(64), 0)
            .rw_flags(RwFlags(0x4000_0000))
            .user_data(1),
    )
    .unwrap();
    ring.push(Op::read(&file, Vec::with_capacity(64), 0).user_data(2))
        .unwrap();
    let mut done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    let err = done[0].result.as_ref().unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(95),
        "unknown RWF bits give EOPNOTSUPP: {err}"
    );
    assert_eq!(bytes(&done[1]), 64);
}

#[test]
fn an_invalid_ioprio_reaches_the_kernel_and_fails_only_that_request() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 4096);
    let file: aiolos::Fd = open_rw(&path, false).into();
    // Class 7 does not exist.
    ring.push(
        Op::read(&file, Vec::with_capacity(64), 0)
            .ioprio(7 << 13)
            .user_data(1),
    )
    .unwrap();
    ring.push(Op::read(&file, Vec::with_capacity(64), 0).user_data(2))
        .unwrap();
    let mut done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    let err = done[0].result.as_ref().unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(22),
        "an unknown priority class is EINVAL: {err}"
    );
    assert_eq!(bytes(&done[1]), 64);
}
