//! Several threads push and submit while another reaps: every request completes once.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

fn submitters_and_a_reaper_on_separate_threads_see_every_completion_once(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 64) else {
        return;
    };
    let ring = Arc::new(ring);
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 1 << 16);
    let file: aiolos::Fd = open_rw(&path, false).into();
    const PER_THREAD: u64 = 500;
    let submitters: Vec<_> = (0..3u64)
        .map(|t| {
            let ring = ring.clone();
            let file = file.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let id = t * PER_THREAD + i;
                    let mut op =
                        Op::read(&file, Vec::with_capacity(64), (id % 1000) * 64).user_data(id);
                    loop {
                        match ring.push(op) {
                            Ok(_) => break,
                            Err(e) => {
                                op = e.op;
                                std::thread::yield_now();
                            }
                        }
                    }
                    ring.submit().unwrap();
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    while seen.len() < (3 * PER_THREAD) as usize {
        let done = match ring.wait(1, 64, Some(Duration::from_millis(100))) {
            Ok(d) => d,
            Err(aiolos::Error::WouldWaitForever { .. }) => {
                std::thread::yield_now();
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        for c in done {
            assert_eq!(bytes(&c), 64);
            let id = c.user_data;
            assert_eq!(c.into_buf().unwrap(), pattern((id % 1000) * 64, 64));
            assert!(seen.insert(id), "request {id} reported twice");
        }
    }
    for s in submitters {
        s.join().unwrap();
    }
    assert_eq!(ring.outstanding(), 0);
}

on_every_engine!(submitters_and_a_reaper_on_separate_threads_see_every_completion_once);
