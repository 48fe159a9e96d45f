//! On io_uring, buffered reads of a file whose pages were dropped from the page cache
//! return the right data.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::time::Duration;

#[test]
fn buffered_reads_of_a_cold_file_return_its_data() {
    let Some(ring) = ring::<Vec<u8>>(EngineKind::Uring, 64) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("cold");
    let len = 4 << 20;
    patterned_file(&path, len);
    let file = open_rw(&path, false);
    drop_page_cache(&file);
    let file: aiolos::Fd = file.into();
    let chunk = 256 * 1024;
    for i in 0..(len / chunk) as u64 {
        ring.push(Op::read(&file, Vec::with_capacity(chunk), i * chunk as u64).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    let mut seen = 0;
    while seen < len / chunk {
        for c in ring.wait(1, 64, Some(Duration::from_secs(30))).unwrap() {
            assert_eq!(bytes(&c), chunk);
            let off = c.user_data * chunk as u64;
            assert!(
                c.into_buf().unwrap() == pattern(off, chunk),
                "data at {off} differs"
            );
            seen += 1;
        }
    }
}
