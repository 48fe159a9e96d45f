//! On io_uring, the `async_buffered` policy hands buffered reads of files to the kernel's
//! worker threads (counted in `EngineStats::punted_reads`) and nothing else: not O_DIRECT
//! reads, not writes, not reads of pipes. Whatever the policy, reads return the file's data.
mod common;
use aiolos::{AsyncBuffered, EngineKind, Error, Op, Ring};
use common::*;
use std::io::Write;
use std::time::Duration;

fn uring(policy: AsyncBuffered) -> Option<Ring<Vec<u8>>> {
    // The policy decides per submission system call; one call per batch (no split into
    // chunks) makes "a batch is punted whole or not at all" checkable.
    match Ring::builder()
        .entries(64)
        .engine(EngineKind::Uring)
        .async_buffered(policy)
        .submit_split(0, 0)
        .build()
    {
        Ok(r) => Some(r),
        Err(Error::EngineUnavailable { reason, .. }) => {
            eprintln!("SKIP: io_uring unavailable: {reason}");
            None
        }
        Err(e) => panic!("creating an io_uring ring failed: {e}"),
    }
}

/// Reads `file` (filled with `pattern`) in `chunk`-byte reads, half of them vectored,
/// checking every byte.
fn read_all_and_check(ring: &Ring<Vec<u8>>, file: &aiolos::Fd, len: usize, chunk: usize) {
    let n = (len / chunk) as u64;
    for i in 0..n {
        let off = i * chunk as u64;
        let op = if i % 2 == 0 {
            Op::read(file, Vec::with_capacity(chunk), off)
        } else {
            let halves = (0..2).map(|_| Vec::with_capacity(chunk / 2)).collect();
            Op::readv(file, halves, off)
        };
        ring.push(op.user_data(i)).unwrap();
    }
    ring.submit().unwrap();
    let mut seen = 0;
    while seen < n {
        for c in ring.wait(1, 64, Some(Duration::from_secs(30))).unwrap() {
            assert_eq!(bytes(&c), chunk);
            let off = c.user_data * chunk as u64;
            let data: Vec<u8> = match c.bufs {
                aiolos::Buffers::One(b) => b,
                aiolos::Buffers::Many(v) => v.concat(),
                aiolos::Buffers::None => panic!("a read came back without buffers"),
            };
            assert!(data == pattern(off, chunk), "data at {off} differs");
            seen += 1;
        }
    }
}

fn cold_file(dir: &std::path::Path, len: usize) -> aiolos::Fd {
    let path = dir.join("cold");
    patterned_file(&path, len);
    let file = open_rw(&path, false);
    common::drop_page_cache(&file);
    file.into()
}

#[test]
fn always_punts_every_buffered_read_of_a_file_and_the_data_is_right() {
    let Some(ring) = uring(AsyncBuffered::Always) else {
        return;
    };
    let dir = scratch_dir();
    let file = cold_file(dir.path(), 4 << 20);
    read_all_and_check(&ring, &file, 4 << 20, 128 * 1024);
    assert_eq!(ring.stats().punted_reads, 32);
}

#[test]
fn never_punts_no_read() {
    let Some(ring) = uring(AsyncBuffered::Never) else {
        return;
    };
    let dir = scratch_dir();
    let file = cold_file(dir.path(), 1 << 20);
    read_all_and_check(&ring, &file, 1 << 20, 64 * 1024);
    assert_eq!(ring.stats().punted_reads, 0);
}

#[test]
fn auto_reads_of_a_cold_file_return_its_data_whatever_it_decides() {
    let Some(ring) = uring(AsyncBuffered::Auto) else {
        return;
    };
    let dir = scratch_dir();
    let file = cold_file(dir.path(), 4 << 20);
    // Several batches, so that the policy sees inline submits and may turn cold.
    for _ in 0..4 {
        read_all_and_check(&ring, &file, 4 << 20, 128 * 1024);
        common::drop_page_cache(&file);
    }
    // Each 32-read batch is punted as a whole or not at all.
    assert_eq!(ring.stats().punted_reads % 32, 0);
}

#[test]
fn o_direct_reads_writes_and_pipe_reads_are_never_punted() {
    let Some(ring) = uring(AsyncBuffered::Always) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("direct");
    patterned_file(&path, 1 << 20);
    let direct: aiolos::Fd = open_rw(&path, true).into();
    let buffered: aiolos::Fd = open_rw(&path, false).into();
    let (rx, tx) = std::io::pipe().unwrap();
    let mut tx = tx;
    tx.write_all(b"through the pipe").unwrap();
    let pipe: aiolos::Fd = std::os::fd::OwnedFd::from(rx).into();

    let buf = aiolos::AlignedBuf::zeroed(4096, 4096);
    let dring: Ring<aiolos::AlignedBuf> = Ring::builder()
        .entries(8)
        .engine(EngineKind::Uring)
        .async_buffered(AsyncBuffered::Always)
        .build()
        .unwrap();
    dring.push(Op::read(&direct, buf, 8192)).unwrap();
    dring.submit().unwrap();
    let c = dring.wait(1, 1, Some(Duration::from_secs(30))).unwrap();
    match &c[0].result {
        Ok(n) => assert_eq!(*n, 4096),
        Err(e) if e.raw_os_error() == Some(22) => {
            eprintln!("SKIP (O_DIRECT part): the scratch file system refuses it: {e}");
        }
        Err(e) => panic!("O_DIRECT read failed: {e}"),
    }
    assert_eq!(dring.stats().punted_reads, 0, "an O_DIRECT read was punted");

    ring.push(Op::write(&buffered, pattern(0, 4096), 0))
        .unwrap();
    ring.push(Op::read(&pipe, Vec::with_capacity(64), 0))
        .unwrap();
    ring.submit().unwrap();
    let mut got = 0;
    while got < 2 {
        for c in ring.wait(1, 2, Some(Duration::from_secs(30))).unwrap() {
            assert!(bytes(&c) > 0);
            got += 1;
        }
    }
    assert_eq!(
        ring.stats().punted_reads,
        0,
        "a write or a pipe read was punted"
    );
}
