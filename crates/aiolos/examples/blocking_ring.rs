//! The blocking `Ring` API, without async: write a file in one batch, read it back in
//! another, and check the bytes.
//!
//!     cargo run --example blocking_ring [PATH]

use aiolos::{Op, Ring};
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| dir.path().join("blocking_ring.dat"), Into::into);
    // The engine: AIOLOS_ENGINE if set, else io_uring where it runs, else the thread pool.
    let ring: Ring<Vec<u8>> = Ring::builder().entries(64).build()?;
    let file = aiolos::Fd::from(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?,
    );

    // 16 writes of 4 KiB, each block filled with its own number, in one submit.
    for i in 0..16u8 {
        ring.push(Op::write(&file, vec![i; 4096], u64::from(i) * 4096).user_data(i.into()))?;
    }
    ring.submit()?;
    let mut done = 0;
    while done < 16 {
        for c in ring.wait(1, 16, None)? {
            c.result?;
            done += 1;
        }
    }

    // Read them back, in one submit; the buffers come back with the completions.
    for i in 0..16u8 {
        ring.push(
            Op::read(&file, Vec::with_capacity(4096), u64::from(i) * 4096).user_data(i.into()),
        )?;
    }
    let mut done = 0;
    while done < 16 {
        for c in ring.wait(1, 16, None)? {
            let n = *c.result.as_ref().map_err(|e| e.to_string())?;
            let block = c.user_data as u8;
            let buf = c.into_buf().ok_or("a read came back without its buffer")?;
            assert_eq!(n, 4096);
            assert!(buf.iter().all(|&b| b == block), "block {block} differs");
            done += 1;
        }
    }
    println!(
        "{}: wrote and read back 16 blocks of {} ({:?})",
        ring.engine_kind(),
        path.display(),
        ring.stats()
    );
    Ok(())
}
