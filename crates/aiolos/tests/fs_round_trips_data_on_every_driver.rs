//! Data written through `aiolos::fs::File` reads back identically, on every engine, with
//! every way of driving futures: a completion thread, the program's own polling, tokio's
//! current-thread and multi-thread runtimes.
mod common;
use aiolos::fs::{Driver, File};
use aiolos::{BufResult, EngineKind};
use common::fs::{run, AlignedBuf, MODES};
use common::*;
use std::path::PathBuf;

fn open(driver: &Driver, path: &PathBuf, direct: bool) -> File {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .direct(direct)
        .driver(driver)
        .open_blocking(path)
        .expect("open")
}

/// write_all_at, read_at, read_exact_at, readv_at/writev_at, sync_all and sync_data.
async fn every_operation(driver: Driver, path: PathBuf) {
    let file = open(&driver, &path, false);
    let data = pattern(0, 64 * 1024);
    let BufResult(r, back) = file.write_all_at(data.clone(), 0).await;
    r.expect("write_all_at");
    assert_eq!(back, data, "the written buffer came back unchanged");
    file.sync_data().await.expect("sync_data");

    let BufResult(n, buf) = file.read_at(Vec::with_capacity(4096), 8192).await;
    assert_eq!(n.expect("read_at"), 4096);
    assert_eq!(buf, pattern(8192, 4096));

    // A read past the end is short; read_exact_at reports the end of file.
    let BufResult(n, buf) = file.read_at(Vec::with_capacity(4096), 62 * 1024).await;
    assert_eq!(n.expect("short read"), 2048);
    assert_eq!(buf, pattern(62 * 1024, 2048));
    let BufResult(r, buf) = file.read_exact_at(vec![0u8; 4096], 62 * 1024).await;
    assert_eq!(
        r.expect_err("read past the end").kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    assert_eq!(&buf[..2048], &pattern(62 * 1024, 2048)[..]);

    let BufResult(r, buf) = file.read_exact_at(vec![0u8; 10_000], 100).await;
    r.expect("read_exact_at");
    assert_eq!(buf, pattern(100, 10_000));

    let parts = vec![vec![1u8; 100], vec![2u8; 200], vec![3u8; 300]];
    let BufResult(n, parts) = file.writev_at(parts, 70_000).await;
    assert_eq!(n.expect("writev_at"), 600);
    assert_eq!(parts[2], vec![3u8; 300], "writev gave its buffers back");
    file.sync_all().await.expect("sync_all");
    let bufs = vec![Vec::with_capacity(300), Vec::with_capacity(300)];
    let BufResult(n, bufs) = file.readv_at(bufs, 70_000).await;
    assert_eq!(n.expect("readv_at"), 600);
    let mut expect = vec![1u8; 100];
    expect.extend([2u8; 200]);
    assert_eq!(bufs[0], expect);
    let mut expect = vec![3u8; 300];
    assert_eq!(bufs[1], expect.split_off(0));
    assert_eq!(file.metadata().await.expect("metadata").len(), 70_600);
}

/// Many reads at once, each checked against the pattern; O_DIRECT with aligned buffers.
async fn concurrent_direct_reads(driver: Driver, path: PathBuf) {
    let file = open(&driver, &path, true);
    let len = 1 << 20;
    let BufResult(r, _) = file
        .write_all_at(AlignedBuf::from_slice(&pattern(0, len)), 0)
        .await;
    r.expect("O_DIRECT write");
    let mut rng = fs::Rng::new(7);
    let reads: Vec<_> = (0..64)
        .map(|_| {
            let off = rng.below((len / 4096) as u64) * 4096;
            (off, file.read_at(AlignedBuf::new(4096), off))
        })
        .collect();
    for (off, read) in reads {
        let BufResult(n, buf) = read.await;
        assert_eq!(n.expect("O_DIRECT read"), 4096);
        assert_eq!(buf.initialised(), 4096);
        assert_eq!(buf.as_slice(), &pattern(off, 4096)[..], "offset {off}");
    }
}

type BoxedTest = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn each_mode(kind: EngineKind, body: fn(Driver, PathBuf) -> BoxedTest) {
    for mode in MODES {
        let dir = scratch_dir();
        let path = dir.path().join("data");
        if !run(kind, mode, 64, move |d| body(d, path)) {
            return;
        }
        eprintln!("{kind} {mode:?}: ok");
    }
}

fn every_operation_round_trips_in_every_mode(kind: EngineKind) {
    each_mode(kind, |d, p| Box::pin(every_operation(d, p)));
}

fn concurrent_direct_reads_return_the_right_bytes_in_every_mode(kind: EngineKind) {
    each_mode(kind, |d, p| Box::pin(concurrent_direct_reads(d, p)));
}

on_every_engine!(
    every_operation_round_trips_in_every_mode,
    concurrent_direct_reads_return_the_right_bytes_in_every_mode,
);

#[test]
fn whole_file_helpers_round_trip_on_the_global_driver() {
    let dir = scratch_dir();
    let path = dir.path().join("whole");
    let data = pattern(0, 300_000);
    let global = Driver::global().expect("global driver");
    global
        .block_on(aiolos::fs::write(&path, data.clone()))
        .expect("fs::write");
    assert_eq!(std::fs::read(&path).expect("std read"), data);
    assert_eq!(
        global.block_on(aiolos::fs::read(&path)).expect("fs::read"),
        data
    );
    let empty = dir.path().join("empty");
    global
        .block_on(aiolos::fs::write(&empty, Vec::new()))
        .expect("fs::write of nothing");
    assert!(global
        .block_on(aiolos::fs::read(&empty))
        .expect("fs::read of an empty file")
        .is_empty());
}
