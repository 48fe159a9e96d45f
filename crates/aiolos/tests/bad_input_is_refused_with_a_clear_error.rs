//! Bad input to the Rust API never crashes and never hangs: it is refused up front with an
//! error that names the problem, or the request it belongs to completes with its own error.
//! One function per row of the Rust-API table in docs/reliability.md (R1, R2, ...).
mod common;
use aiolos::{AlignedBuf, EngineKind, Error, Op, Ring, RwFlags};
use common::*;
use std::io::ErrorKind;
use std::time::Duration;

const T: Option<Duration> = Some(Duration::from_secs(10));

fn build(kind: EngineKind, entries: u32) -> Result<Ring<Vec<u8>>, Error> {
    Ring::builder().entries(entries).engine(kind).build()
}

/// Runs one op alone and returns its result.
fn one(ring: &Ring<Vec<u8>>, op: Op<Vec<u8>>) -> std::io::Result<usize> {
    ring.push(op).unwrap();
    let c = ring.wait(1, 1, T).unwrap();
    c.into_iter().next().unwrap().result
}

fn errno(r: &std::io::Result<usize>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

fn temp_file(len: usize) -> (tempfile::TempDir, std::fs::File) {
    let dir = scratch_dir();
    let p = dir.path().join("f");
    patterned_file(&p, len);
    (dir, open_rw(&p, false))
}

/// R1, R2: a ring of 0 or of more than `limits::MAX_ENTRIES` (2^20) entries.
fn zero_or_huge_entries_are_refused_with_the_allowed_range(kind: EngineKind) {
    assert_eq!(aiolos::limits::MAX_ENTRIES, 1 << 20);
    for n in [0, aiolos::limits::MAX_ENTRIES + 1, u32::MAX] {
        match build(kind, n) {
            Err(Error::InvalidRequest(m)) => {
                assert!(
                    m.contains("between 1 and 1048576") && m.contains(&n.to_string()),
                    "{m}"
                )
            }
            other => panic!("entries({n}): {:?}", other.map(|_| ())),
        }
    }
}

/// R3: a thread pool of 0 or 2000 threads.
fn a_thread_count_outside_1_to_1024_is_refused(kind: EngineKind) {
    for n in [0, 2000] {
        let r = Ring::builder()
            .entries(4)
            .engine(kind)
            .threads(n)
            .build::<Vec<u8>>();
        match (kind, r) {
            (EngineKind::Threads, Err(Error::InvalidRequest(m))) => {
                assert!(m.contains("1 to 1024 threads"), "{m}")
            }
            (EngineKind::Threads, other) => panic!("threads({n}): {:?}", other.map(|_| ())),
            // Other engines ignore the option.
            (_, Ok(_)) | (_, Err(Error::EngineUnavailable { .. })) => {}
            (_, Err(e)) => panic!("{kind} with threads({n}): {e}"),
        }
    }
}

/// R4: a descriptor number that is not open.
fn a_request_on_a_descriptor_that_is_not_open_fails_with_ebadf(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    // SAFETY: the number is not open; the request is expected to fail with EBADF.
    let fd = unsafe { aiolos::Fd::from_raw(987_654) };
    let r = one(&ring, Op::read(fd, Vec::with_capacity(16), 0));
    assert_eq!(errno(&r), Some(libc::EBADF), "{r:?}");
    // SAFETY: as above.
    let fd = unsafe { aiolos::Fd::from_raw(-1) };
    let r = one(&ring, Op::write(fd, vec![1; 16], 0));
    assert_eq!(errno(&r), Some(libc::EBADF), "{r:?}");
}

/// R5: writing through a read-only descriptor, reading through a write-only one.
fn a_request_against_the_descriptors_access_mode_fails_with_ebadf(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (dir, _) = temp_file(4096);
    let ro = std::fs::File::open(dir.path().join("f")).unwrap();
    let r = one(&ring, Op::write(ro, vec![1; 16], 0));
    assert_eq!(errno(&r), Some(libc::EBADF), "{r:?}");
    let wo = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("f"))
        .unwrap();
    let r = one(&ring, Op::read(wo, Vec::with_capacity(16), 0));
    assert_eq!(errno(&r), Some(libc::EBADF), "{r:?}");
}

/// R6: reading a directory.
fn reading_a_directory_fails_with_eisdir(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let dir = std::fs::File::open(scratch_dir().path()).unwrap();
    let r = one(&ring, Op::read(dir, Vec::with_capacity(16), 0));
    assert_eq!(errno(&r), Some(libc::EISDIR), "{r:?}");
}

/// R7: an O_DIRECT read at an offset off the file's alignment.
fn a_misaligned_o_direct_request_names_the_alignment(kind: EngineKind) {
    let Some(ring) = ring::<AlignedBuf>(kind, 4) else {
        return;
    };
    let dir = scratch_dir();
    let p = dir.path().join("direct");
    patterned_file(&p, 1 << 16);
    let f: aiolos::Fd = open_rw(&p, true).into();
    let cases = [
        ("offset", AlignedBuf::with_capacity(4096, 4096), 1u64),
        ("length", AlignedBuf::with_capacity(4095, 4096), 0),
    ];
    for (what, buf, off) in cases {
        ring.push(Op::read(&f, buf, off)).unwrap();
        let c = ring.wait(1, 1, T).unwrap();
        let e = c[0]
            .result
            .as_ref()
            .expect_err("a misaligned O_DIRECT read succeeded");
        assert_eq!(e.raw_os_error(), None, "the bare EINVAL is explained: {e}");
        let m = e.to_string();
        assert!(m.contains("O_DIRECT") && m.contains(what), "{what}: {m}");
    }
}

/// R8: zero-length reads and writes.
fn zero_length_reads_and_writes_complete_with_zero(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(4096);
    let f: aiolos::Fd = f.into();
    assert_eq!(one(&ring, Op::read(&f, Vec::new(), 0)).unwrap(), 0);
    assert_eq!(one(&ring, Op::write(&f, Vec::new(), 0)).unwrap(), 0);
}

/// R9: a read far larger than the file.
fn a_read_longer_than_the_file_is_short_not_an_error(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(1000);
    let r = one(&ring, Op::read(f, Vec::with_capacity(16 << 20), 0));
    assert_eq!(r.unwrap(), 1000);
}

/// R10: offsets past 2^63 - 1 (the kernel's offsets are signed).
fn an_offset_past_2_pow_63_is_refused_with_the_limit(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(4096);
    let f: aiolos::Fd = f.into();
    for off in [1u64 << 63, u64::MAX] {
        for op in [
            Op::read(&f, Vec::with_capacity(8), off),
            Op::write(&f, vec![0; 8], off),
            Op::readv(&f, vec![Vec::with_capacity(8)], off),
        ] {
            let e = ring.push(op).expect_err("accepted an offset past 2^63");
            assert!(matches!(e.error, Error::InvalidRequest(_)), "{e}");
            assert!(e.to_string().contains(&off.to_string()), "{e}");
            assert!(e.to_string().contains("largest file offset"), "{e}");
            assert_eq!(e.op.into_bufs().len(), 1, "the buffer comes back");
        }
    }
    assert_eq!(ring.outstanding(), 0);
}

/// R11: an offset just below 2^63 that the length would carry past it.
fn an_offset_whose_end_passes_2_pow_63_fails_alone(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(4096);
    let r = one(&ring, Op::write(f, vec![0; 4096], i64::MAX as u64 - 10));
    assert!(
        matches!(errno(&r), Some(libc::EINVAL) | Some(libc::EFBIG)),
        "{r:?}"
    );
}

/// R12: vectored requests with no buffers or more than IOV_MAX.
fn vectored_requests_need_1_to_1024_buffers(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(4096);
    let f: aiolos::Fd = f.into();
    for n in [0, 1025] {
        let bufs = (0..n).map(|_| Vec::with_capacity(1)).collect();
        let e = ring.push(Op::readv(&f, bufs, 0)).expect_err("accepted");
        assert!(e.to_string().contains("1 to 1024 buffers"), "{e}");
        assert!(e.to_string().contains(&n.to_string()), "{e}");
        assert_eq!(e.op.into_bufs().len(), n, "the buffers come back");
    }
}

/// R13: more requests than the ring has slots.
fn pushing_into_a_full_ring_gives_queue_full_and_the_op_back(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 2) else {
        return;
    };
    ring.push(Op::nop()).unwrap();
    ring.push(Op::nop()).unwrap();
    let e = ring
        .push(Op::write((-1i32).into_fd(), vec![7; 3], 0))
        .unwrap_err();
    assert!(matches!(e.error, Error::QueueFull { capacity: 2 }), "{e}");
    assert!(e.to_string().contains("reap completions"), "{e}");
    assert_eq!(e.op.into_bufs(), vec![vec![7; 3]]);
    assert_eq!(ring.wait(2, 2, T).unwrap().len(), 2);
}

/// R14: push after close.
fn pushing_after_close_is_refused_with_closed(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 2) else {
        return;
    };
    ring.close().unwrap();
    let e = ring
        .push(Op::write((-1i32).into_fd(), vec![1], 0))
        .unwrap_err();
    assert!(matches!(e.error, Error::Closed), "{e}");
    assert!(e.to_string().contains("closed"));
    assert_eq!(e.op.into_bufs(), vec![vec![1]]);
    assert!(matches!(ring.wait(1, 1, T), Err(Error::Closed)));
    ring.close().unwrap();
}

/// R15: waiting for more completions than requests outstanding.
fn waiting_for_more_than_is_outstanding_is_refused_at_once(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    ring.push(Op::nop()).unwrap();
    match ring.wait(3, 4, None) {
        Err(Error::WouldWaitForever {
            wanted: 3,
            outstanding: 1,
        }) => {}
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    assert_eq!(ring.wait(1, 4, T).unwrap().len(), 1);
    // Nothing outstanding: min 0 returns at once, empty; max 0 means 1.
    assert!(ring.wait(0, 4, None).unwrap().is_empty());
    assert!(ring.wait(0, 0, None).unwrap().is_empty());
}

/// R16: a token of another ring, and a token already reaped.
fn a_token_of_another_ring_or_already_reaped_is_invalid(kind: EngineKind) {
    let (Some(a), Some(b)) = (ring::<Vec<u8>>(kind, 4), ring::<Vec<u8>>(kind, 4)) else {
        return;
    };
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    // A poll that never fires, on each ring: same slot, same generation.
    let ta = a.push(Op::poll(&r, libc::POLLIN)).unwrap();
    let tb = b.push(Op::poll(&r, libc::POLLIN)).unwrap();
    a.submit().unwrap();
    b.submit().unwrap();
    let e = b.cancel(ta).unwrap_err();
    assert!(matches!(e, Error::InvalidToken), "{e}");
    assert!(e.to_string().contains("another ring"), "{e}");
    b.detach(ta); // ignored
    assert!(b.cancel(tb).is_ok());
    let c = b.wait(1, 1, T).unwrap();
    assert_eq!(c[0].token, tb);
    assert!(matches!(b.cancel(tb), Err(Error::InvalidToken)));
    // Ring a's request was untouched by b.cancel(ta) and b.detach(ta).
    assert!(a.wait(0, 4, Some(Duration::ZERO)).unwrap().is_empty());
    a.cancel(ta).unwrap();
    assert_eq!(a.wait(1, 1, T).unwrap()[0].token, ta);
}

/// R17: an I/O priority the kernel does not know.
fn an_invalid_io_priority_fails_its_request_with_einval(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(4096);
    let f: aiolos::Fd = f.into();
    let r = one(
        &ring,
        Op::read(&f, Vec::with_capacity(8), 0).ioprio(7 << 13),
    );
    assert_eq!(errno(&r), Some(libc::EINVAL), "{r:?}");
    assert_eq!(
        one(&ring, Op::read(&f, Vec::with_capacity(8), 0)).unwrap(),
        8
    );
}

/// R18: an unknown RWF_* flag.
fn an_unknown_rw_flag_fails_its_request_with_eopnotsupp(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (_d, f) = temp_file(4096);
    let r = one(
        &ring,
        Op::read(f, Vec::with_capacity(8), 0).rw_flags(RwFlags(1 << 30)),
    );
    assert_eq!(errno(&r), Some(libc::EOPNOTSUPP), "{r:?}");
}

/// R19: fsync of something that cannot be synced (a pipe).
fn fsync_of_a_pipe_fails_with_einval(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let (r, _w) = std::io::pipe().unwrap();
    let r: aiolos::Fd = std::os::fd::OwnedFd::from(r).into();
    let res = one(&ring, Op::fsync(&r));
    assert_eq!(errno(&res), Some(libc::EINVAL), "{res:?}");
}

/// R20: the API's refusals as `io::Error`s: QueueFull, WouldWaitForever, Closed.
fn every_error_of_the_api_converts_to_a_fitting_io_error_kind(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 1) else {
        return;
    };
    ring.push(Op::nop()).unwrap();
    let full: std::io::Error = ring.push(Op::nop()).unwrap_err().into();
    assert_eq!(full.kind(), ErrorKind::WouldBlock);
    let forever: std::io::Error = ring.wait(2, 2, T).unwrap_err().into();
    assert_eq!(forever.kind(), ErrorKind::InvalidInput);
    ring.wait(1, 1, T).unwrap();
    ring.close().unwrap();
    let closed: std::io::Error = ring.push(Op::nop()).unwrap_err().into();
    assert_eq!(closed.kind(), ErrorKind::BrokenPipe);
}

trait IntoFd {
    fn into_fd(self) -> aiolos::Fd;
}

impl IntoFd for i32 {
    /// A handle on a number that is never used (the op is refused before submission).
    fn into_fd(self) -> aiolos::Fd {
        // SAFETY: the op holding it is refused by push; the number is never used.
        unsafe { aiolos::Fd::from_raw(self) }
    }
}

on_every_engine!(
    zero_or_huge_entries_are_refused_with_the_allowed_range,
    a_thread_count_outside_1_to_1024_is_refused,
    a_request_on_a_descriptor_that_is_not_open_fails_with_ebadf,
    a_request_against_the_descriptors_access_mode_fails_with_ebadf,
    reading_a_directory_fails_with_eisdir,
    a_misaligned_o_direct_request_names_the_alignment,
    zero_length_reads_and_writes_complete_with_zero,
    a_read_longer_than_the_file_is_short_not_an_error,
    an_offset_past_2_pow_63_is_refused_with_the_limit,
    an_offset_whose_end_passes_2_pow_63_fails_alone,
    vectored_requests_need_1_to_1024_buffers,
    pushing_into_a_full_ring_gives_queue_full_and_the_op_back,
    pushing_after_close_is_refused_with_closed,
    waiting_for_more_than_is_outstanding_is_refused_at_once,
    a_token_of_another_ring_or_already_reaped_is_invalid,
    an_invalid_io_priority_fails_its_request_with_einval,
    an_unknown_rw_flag_fails_its_request_with_eopnotsupp,
    fsync_of_a_pipe_fails_with_einval,
    every_error_of_the_api_converts_to_a_fitting_io_error_kind,
);
