//! On the thread pool, buffered reads of a file whose pages were dropped from the cache
//! (so they go to the device) return the file's bytes, short only at the end of file.
mod common;
use aiolos::{EngineKind, Fd, Op, Ring};
use common::*;
use std::time::Duration;

#[test]
fn buffered_reads_of_a_cold_file_return_its_bytes() {
    const CHUNK: usize = 64 * 1024;
    const LEN: usize = 4 * 1024 * 1024 + 1000;
    let ring: Ring<Vec<u8>> = Ring::builder()
        .entries(128)
        .engine(EngineKind::Threads)
        .build()
        .expect("thread-pool ring");
    let dir = scratch_dir();
    let path = dir.path().join("cold");
    patterned_file(&path, LEN);
    let file: Fd = open_rw(&path, false).into();
    drop_page_cache(&file);

    let chunks = LEN.div_ceil(CHUNK);
    for i in 0..chunks {
        let off = (i * CHUNK) as u64;
        if i % 2 == 0 {
            ring.push(Op::read(&file, Vec::with_capacity(CHUNK), off).user_data(off))
                .unwrap();
        } else {
            let halves = vec![Vec::with_capacity(CHUNK / 2), Vec::with_capacity(CHUNK / 2)];
            ring.push(Op::readv(&file, halves, off).user_data(off))
                .unwrap();
        }
    }
    assert_eq!(ring.submit().unwrap(), chunks);
    let mut seen = 0;
    while seen < chunks {
        for c in ring.wait(1, 128, Some(Duration::from_secs(30))).unwrap() {
            let off = c.user_data as usize;
            let want = CHUNK.min(LEN - off);
            assert_eq!(bytes(&c), want, "read at {off}");
            let data: Vec<u8> = c.into_bufs().concat();
            assert_eq!(data.len(), want);
            assert!(data == pattern(off as u64, want), "wrong bytes at {off}");
            seen += 1;
        }
    }
    assert_eq!(ring.outstanding(), 0);
}
