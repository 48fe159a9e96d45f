//! Per-request `RWF_*` flags and I/O priorities are passed to the kernel as given: valid
//! ones work, and ones the kernel does not know are refused for that request alone.
mod common;
use aiolos::{EngineKind, Op, RwFlags};
use common::*;
use std::time::Duration;

fn a_dsync_write_succeeds_and_an_unknown_rw_flag_is_refused(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    ring.push(
        Op::write(&file, vec![7u8; 512], 0)
            .rw_flags(RwFlags::DSYNC)
            .user_data(1),
    )
    .unwrap();
    ring.push(
        Op::read(&file, Vec::with_capacity(512), 0)
            .rw_flags(RwFlags(1 << 28))
            .user_data(2),
    )
    .unwrap();
    let mut done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    assert_eq!(bytes(&done[0]), 512);
    let err = done[1].result.as_ref().unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(95),
        "EOPNOTSUPP for an unknown RWF flag, got {err}"
    );
}

fn a_nowait_read_of_cached_data_succeeds(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    // The file was just written, so its pages are in the page cache.
    let file: aiolos::Fd = open_rw(&path, false).into();
    ring.push(Op::read(&file, Vec::with_capacity(4096), 0).rw_flags(RwFlags::NOWAIT))
        .unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    match &done[0].result {
        Ok(n) => assert_eq!(*n, 4096),
        // Some file systems refuse NOWAIT for buffered reads entirely.
        Err(e) => assert!(matches!(e.raw_os_error(), Some(11) | Some(95)), "got {e}"),
    }
}

fn an_invalid_io_priority_class_is_refused(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 8) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let file: aiolos::Fd = open_rw(&path, false).into();
    // Class 3 (idle), level 0 is valid; class 7 does not exist.
    ring.push(
        Op::read(&file, Vec::with_capacity(512), 0)
            .ioprio(3 << 13)
            .user_data(1),
    )
    .unwrap();
    ring.push(
        Op::read(&file, Vec::with_capacity(512), 0)
            .ioprio(7 << 13)
            .user_data(2),
    )
    .unwrap();
    let mut done = ring.wait(2, 2, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    assert_eq!(bytes(&done[0]), 512);
    let err = done[1].result.as_ref().unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(22),
        "EINVAL for priority class 7, got {err}"
    );
}

on_every_engine!(
    a_dsync_write_succeeds_and_an_unknown_rw_flag_is_refused,
    a_nowait_read_of_cached_data_succeeds,
    an_invalid_io_priority_class_is_refused,
);
