//! The async `fs::DirectFile`: tasks of a multi-thread runtime writing disjoint unaligned
//! byte ranges that share blocks keep every byte (their read-modify-write cycles never
//! interleave: a task waits for a block range without blocking its worker), on every
//! engine; and an O_DIRECT open that fails names the path.
mod common;
use aiolos::fs::{DirectFile, Driver};
use aiolos::EngineKind;
use std::sync::Arc;

const TASKS: usize = 8;
const STRIPE: usize = 37; // deliberately unaligned
const ROUNDS: usize = 4;

fn owner(i: usize) -> usize {
    (i / STRIPE) % TASKS
}

fn value(task: usize, round: usize) -> u8 {
    (1 + task * ROUNDS + round) as u8
}

fn unaligned_writes_from_many_tasks_keep_every_byte(kind: EngineKind) {
    let dir = common::scratch_dir();
    let path = dir.path().join("f");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let Some(driver) = common::fs::driver(kind, 64, |b| b.build_tokio()) else {
            return;
        };
        let opts = aiolos::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .driver(&driver)
            .clone();
        let file = match DirectFile::open_with(&path, &opts).await {
            Ok(f) => Arc::new(f),
            Err(e) => {
                eprintln!("SKIP: no O_DIRECT in the build directory: {e}");
                return;
            }
        };
        // Four blocks, starting one byte into the file so that nothing lines up.
        let len = 4 * file.alignment().offset();
        let base = 1u64;
        file.write_at(&vec![0u8; len], base)
            .await
            .expect("zero fill");
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let file = file.clone();
                tokio::spawn(async move {
                    for round in 0..ROUNDS {
                        let mut start = t * STRIPE;
                        while start < len {
                            let end = (start + STRIPE).min(len);
                            let data = vec![value(t, round); end - start];
                            file.write_at(&data, base + start as u64)
                                .await
                                .expect("write");
                            start += TASKS * STRIPE;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let mut back = vec![0u8; len];
        assert_eq!(file.read_at(&mut back, base).await.expect("read"), len);
        let lost: Vec<usize> = (0..len)
            .filter(|&i| back[i] != value(owner(i), ROUNDS - 1))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {len} bytes lost their last write, first at {:?}",
            lost.len(),
            lost.first()
        );
        assert_eq!(file.len().await.expect("len"), base + len as u64);
        // Aligned buffers from the file's pool go straight to the kernel.
        let mut blk = file.block();
        blk.resize(file.alignment().offset());
        blk.fill(9);
        let aiolos::BufResult(n, blk) = file.write_aligned(blk, 0).await;
        assert_eq!(n.expect("write_aligned"), file.alignment().offset());
        file.put_block(blk);
        drop(driver);
    });
}

on_every_engine!(unaligned_writes_from_many_tasks_keep_every_byte);

#[test]
fn an_open_that_fails_names_the_path() {
    let dir = common::scratch_dir();
    let missing = dir.path().join("no-such-file");
    let d = Driver::global().expect("driver");
    let e = d
        .block_on(DirectFile::open(&missing))
        .expect_err("a missing file");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    let e = d
        .block_on(aiolos::fs::File::open(&missing))
        .expect_err("a missing file");
    assert!(e.to_string().contains("no-such-file"), "{e}");
}
