//! Threads writing disjoint unaligned byte ranges that share blocks through one
//! DirectFile at the same time keep every byte: the read-modify-write cycles of writes
//! that share a block never interleave.
mod common;
use aiolos::DirectFile;
use std::sync::{Arc, Barrier};

const THREADS: usize = 8;
const STRIPE: usize = 37; // deliberately unaligned
const ROUNDS: usize = 6;

fn owner(i: usize) -> usize {
    (i / STRIPE) % THREADS
}

fn value(thread: usize, round: usize) -> u8 {
    (1 + thread * ROUNDS + round) as u8
}

#[test]
fn concurrent_overlapping_unaligned_writes_keep_every_byte() {
    let dir = common::scratch_dir();
    let file = match DirectFile::create(dir.path().join("f")) {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("SKIP: no O_DIRECT in the build directory: {e}");
            return;
        }
    };
    // Four blocks, starting one byte into the file so that nothing lines up.
    let len = 4 * file.alignment().offset();
    let base = 1u64;
    file.write_at(&vec![0u8; len], base).unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (file, barrier) = (file.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for round in 0..ROUNDS {
                    let mut start = t * STRIPE;
                    while start < len {
                        let end = (start + STRIPE).min(len);
                        let data = vec![value(t, round); end - start];
                        file.write_at(&data, base + start as u64).unwrap();
                        start += THREADS * STRIPE;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut back = vec![0u8; len];
    assert_eq!(file.read_at(&mut back, base).unwrap(), len);
    let lost: Vec<usize> = (0..len)
        .filter(|&i| back[i] != value(owner(i), ROUNDS - 1))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {len} bytes lost their last write, first at {:?}",
        lost.len(),
        lost.first()
    );
    assert_eq!(file.len().unwrap(), base + len as u64);
}
