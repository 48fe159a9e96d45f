//! 32 tokio tasks doing 4 KiB random reads of one file through `aiolos::fs`, sharing one
//! ring watched by the runtime (no extra thread).
//!
//!     cargo run --release --example tokio_random_reads [PATH] [SECONDS]
//!
//! Without PATH, a 64 MiB temporary file is used.

use aiolos::fs::{Driver, File};
use aiolos::BufResult;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let tmp;
    let path = match args.next() {
        Some(p) => p.into(),
        None => {
            tmp = tempfile::tempdir()?;
            let p = tmp.path().join("random_reads.dat");
            std::fs::write(&p, vec![7u8; 64 << 20])?;
            p
        }
    };
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);

    let driver = Driver::tokio()?;
    let file = File::options()
        .read(true)
        .driver(&driver)
        .open(&path)
        .await?;
    let blocks = (file.metadata().await?.len() / 4096).max(1);
    let reads = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);

    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let (file, reads) = (file.clone(), reads.clone());
        tasks.push(tokio::spawn(async move {
            let mut x = task.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut buf = Vec::with_capacity(4096);
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.clear();
                let BufResult(r, b) = file.read_at(buf, (x % blocks) * 4096).await;
                r?;
                buf = b;
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), std::io::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let n = reads.load(Ordering::Relaxed);
    println!(
        "{n} reads in {seconds} s on the {} engine: {:.0} IOPS",
        driver.engine_kind(),
        n as f64 / seconds as f64
    );
    Ok(())
}
