//! A write that does not fit on a full file system fails with ENOSPC (or is cut short at
//! the edge), on its own request; every write reported complete reads back intact, and the
//! ring keeps working. The file system is a 1 MiB tmpfs mounted for the test and unmounted
//! by a guard, also when the test fails.
mod common;
use aiolos::{EngineKind, Op};
use common::tmpfs::SmallTmpfs;
use common::*;
use std::path::PathBuf;
use std::time::Duration;

const BLOCK: usize = 64 << 10;
/// 1.5 MiB of writes onto a 1 MiB file system.
const BLOCKS: u64 = 24;

fn writes_past_the_capacity_of_a_full_file_system_fail_with_enospc_alone(kind: EngineKind) {
    let Some(fs) = SmallTmpfs::mount() else {
        return;
    };
    let Some(ring) = ring::<Vec<u8>>(kind, 64) else {
        return;
    };
    let path: PathBuf = fs.path().join("fill");
    let file: aiolos::Fd = open_rw(&path, false).into();
    for i in 0..BLOCKS {
        let off = i * BLOCK as u64;
        ring.push(Op::write(&file, pattern(off, BLOCK), off).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    let mut written = vec![0usize; BLOCKS as usize];
    let (mut enospc, mut short) = (0, 0);
    let mut seen = 0;
    while seen < BLOCKS {
        for c in ring.wait(1, 64, Some(Duration::from_secs(20))).unwrap() {
            seen += 1;
            match &c.result {
                Ok(n) => {
                    assert!(*n <= BLOCK);
                    if *n < BLOCK {
                        short += 1;
                    }
                    written[c.user_data as usize] = *n;
                }
                Err(e) => {
                    assert_eq!(
                        e.raw_os_error(),
                        Some(libc::ENOSPC),
                        "write {} failed with something other than ENOSPC: {e}",
                        c.user_data
                    );
                    enospc += 1;
                }
            }
        }
    }
    let total: usize = written.iter().sum();
    eprintln!(
        "{kind}: {total} bytes written, {enospc} writes refused with ENOSPC, {short} cut short"
    );
    assert!(enospc > 0, "1.5 MiB fit on a 1 MiB file system");
    assert!(total > 0, "nothing fit");
    assert!(
        total <= 1 << 20,
        "more than the file system holds was reported written"
    );

    // Every byte reported written is there; the ring still serves requests.
    for (i, &n) in written.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let off = i as u64 * BLOCK as u64;
        ring.push(Op::read(&file, Vec::with_capacity(n), off).user_data(i as u64))
            .unwrap();
        let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
        assert_eq!(bytes(&c[0]), n, "read back of block {i}");
        assert_eq!(
            c.into_iter().next().unwrap().into_buf().unwrap(),
            pattern(off, n),
            "block {i} reads back intact"
        );
    }

    // Freeing space makes writes succeed again on the same ring.
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    ring.push(Op::write(&file, pattern(0, BLOCK), 0)).unwrap();
    let c = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(bytes(&c[0]), BLOCK, "a write after freeing space succeeds");
    drop(file);
}

on_every_engine!(writes_past_the_capacity_of_a_full_file_system_fail_with_enospc_alone);
