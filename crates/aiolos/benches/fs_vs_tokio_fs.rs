//! 32 concurrent tasks doing 4 KiB random reads of one file: `aiolos::fs` on tokio versus
//! tokio's own file I/O (each read a `spawn_blocking` positional read: the mechanism
//! behind `tokio::fs`, with one hop per read instead of a seek plus a read), and the
//! blocking `Ring` API on the same engine, in the same run. aiolos runs on a multi-thread
//! runtime (as the tokio baseline does) and on a current-thread one. Buffered with a warm page
//! cache, then O_DIRECT.
//!
//!     cargo bench -p aiolos --bench fs_vs_tokio_fs [-- --engine uring,native] [--buffered|--direct] [--case aiolos|aiolos-ct|tokio|ring]
//!
//! `--engine` takes a comma-separated list of engines (default: the one
//! `EngineKind::suggest` picks); `--buffered` or `--direct` runs only that half; `--case` runs one case alone
//! (for profiling).
//! `AIOLOS_BENCH_FILE_MB` (default 1024) sets the file size, `AIOLOS_BENCH_SECS`
//! (default 3) the time per case, `AIOLOS_BENCH_WORKERS` the tokio worker threads
//! (default: one per core). Prints IOPS, CPU time per I/O (user + system, whole process,
//! from /proc/self/stat) and the ratios.

use aiolos::fs::{Driver, File};
use aiolos::{BufResult, EngineKind, IoBuf, IoBufMut, Op, Ring};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TASKS: usize = 32;
const BLOCK: usize = 4096;

/// A 4 KiB buffer aligned for O_DIRECT.
#[derive(Debug)]
struct Aligned(*mut u8);

// SAFETY: the buffer owns its allocation exclusively.
unsafe impl Send for Aligned {}

const LAYOUT: Layout = match Layout::from_size_align(BLOCK, BLOCK) {
    Ok(l) => l,
    Err(_) => panic!("bad layout"),
};

impl Aligned {
    fn new() -> Aligned {
        // SAFETY: LAYOUT has a non-zero size.
        let p = unsafe { alloc_zeroed(LAYOUT) };
        assert!(!p.is_null(), "out of memory");
        Aligned(p)
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: a live zeroed allocation of BLOCK bytes, borrowed through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.0, BLOCK) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in new() with LAYOUT.
        unsafe { dealloc(self.0, LAYOUT) }
    }
}

// SAFETY: the allocation does not move with the value; all BLOCK bytes are initialised.
unsafe impl IoBuf for Aligned {
    fn stable_ptr(&self) -> *const u8 {
        self.0
    }
    fn bytes_init(&self) -> usize {
        BLOCK
    }
}

// SAFETY: all BLOCK bytes are writable.
unsafe impl IoBufMut for Aligned {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.0
    }
    fn bytes_total(&self) -> usize {
        BLOCK
    }
    unsafe fn set_init(&mut self, _n: usize) {}
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU time of the whole process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<u64> = after_comm
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat(5) (utime, stime), in USER_HZ = 100 ticks per second;
    // after the command name they are the 12th and 13th.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

struct Sample {
    ios: u64,
    wall: Duration,
    cpu: Duration,
}

impl Sample {
    fn iops(&self) -> f64 {
        self.ios as f64 / self.wall.as_secs_f64()
    }
    fn cpu_us_per_io(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ios.max(1) as f64
    }
}

fn measure(f: impl FnOnce() -> u64) -> Sample {
    let (c0, t0) = (cpu_time(), Instant::now());
    let ios = f();
    Sample {
        ios,
        wall: t0.elapsed(),
        cpu: cpu_time().saturating_sub(c0),
    }
}

fn next(x: &mut u64, blocks: u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    (*x % blocks) * BLOCK as u64
}

fn runtime() -> tokio::runtime::Runtime {
    runtime_of(false)
}

/// A multi-thread runtime (worker count from `AIOLOS_BENCH_WORKERS`, else one per core),
/// or a current-thread one.
fn runtime_of(current_thread: bool) -> tokio::runtime::Runtime {
    if current_thread {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Ok(Ok(n)) = std::env::var("AIOLOS_BENCH_WORKERS").map(|s| s.parse()) {
        b.worker_threads(n);
    }
    b.enable_all().build().expect("tokio runtime")
}

fn aiolos_on_tokio(
    path: &Path,
    direct: bool,
    blocks: u64,
    secs: u64,
    engine: EngineKind,
    current_thread: bool,
) -> Sample {
    let rt = runtime_of(current_thread);
    rt.block_on(async {
        let driver = Driver::builder()
            .engine(engine)
            .build_tokio()
            .expect("driver");
        let file = File::options()
            .read(true)
            .direct(direct)
            .driver(&driver)
            .open_blocking(path)
            .expect("open");
        let total = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let (c0, t0) = (cpu_time(), Instant::now());
        let tasks: Vec<_> = (0..TASKS as u64)
            .map(|t| {
                let (file, total) = (file.clone(), total.clone());
                tokio::spawn(async move {
                    let mut x = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let mut buf = Aligned::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let BufResult(r, b) = file.read_at(buf, next(&mut x, blocks)).await;
                        assert_eq!(r.expect("read"), BLOCK);
                        buf = b;
                        n += 1;
                    }
                    total.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        Sample {
            ios: total.load(Ordering::Relaxed),
            wall: t0.elapsed(),
            cpu: cpu_time().saturating_sub(c0),
        }
    })
}

fn open_std(path: &Path, direct: bool) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(if direct { aiolos::sys::O_DIRECT } else { 0 })
        .open(path)
        .expect("open")
}

fn tokio_blocking(path: &Path, direct: bool, blocks: u64, secs: u64) -> Sample {
    let rt = runtime();
    let file = Arc::new(open_std(path, direct));
    rt.block_on(async {
        let total = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let (c0, t0) = (cpu_time(), Instant::now());
        let tasks: Vec<_> = (0..TASKS as u64)
            .map(|t| {
                let (file, total) = (file.clone(), total.clone());
                tokio::spawn(async move {
                    let mut x = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let mut buf = Aligned::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let off = next(&mut x, blocks);
                        let f = file.clone();
                        let (r, b) = tokio::task::spawn_blocking(move || {
                            let r = f.read_at(buf.as_mut_slice(), off);
                            (r, buf)
                        })
                        .await
                        .expect("blocking task");
                        assert_eq!(r.expect("read"), BLOCK);
                        buf = b;
                        n += 1;
                    }
                    total.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        Sample {
            ios: total.load(Ordering::Relaxed),
            wall: t0.elapsed(),
            cpu: cpu_time().saturating_sub(c0),
        }
    })
}

fn blocking_ring(path: &Path, direct: bool, blocks: u64, secs: u64, engine: EngineKind) -> Sample {
    let ring: Ring<Aligned> = Ring::builder()
        .entries(TASKS as u32)
        .engine(engine)
        .build()
        .expect("ring");
    let fd = aiolos::Fd::from(open_std(path, direct));
    measure(|| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..TASKS {
            ring.push(Op::read(&fd, Aligned::new(), next(&mut x, blocks)))
                .expect("push");
        }
        ring.submit().expect("submit");
        let mut n = 0;
        let mut out = Vec::with_capacity(TASKS);
        let mut in_flight = TASKS;
        while in_flight > 0 {
            ring.wait_into(&mut out, 1, TASKS, None).expect("wait");
            for c in out.drain(..) {
                in_flight -= 1;
                assert_eq!(*c.result.as_ref().expect("read"), BLOCK);
                n += 1;
                if Instant::now() < deadline {
                    let buf = c.into_buf().expect("buffer");
                    ring.push(Op::read(&fd, buf, next(&mut x, blocks)))
                        .expect("push");
                    in_flight += 1;
                }
            }
            ring.submit().expect("submit");
        }
        n
    })
}

fn make_file(path: &PathBuf, bytes: u64) {
    if std::fs::metadata(path).map(|m| m.len()).ok() == Some(bytes) {
        return;
    }
    let mut f = std::fs::File::create(path).expect("create bench file");
    let mut block = vec![0u8; 1 << 20];
    let mut x = 1u64;
    for _ in 0..bytes >> 20 {
        for b in block.chunks_mut(8) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            b.copy_from_slice(&x.to_ne_bytes()[..b.len()]);
        }
        f.write_all(&block).expect("write bench file");
    }
    f.sync_all().expect("sync bench file");
}

fn warm(path: &Path) {
    let mut f = std::fs::File::open(path).expect("open");
    std::io::copy(&mut f, &mut std::io::sink()).expect("warm the page cache");
}

fn row(name: &str, s: &Sample) {
    println!(
        "  {name:<44} {:>10.0} IOPS  {:>7.2} µs CPU/IO  ({} reads in {:.2} s)",
        s.iops(),
        s.cpu_us_per_io(),
        s.ios,
        s.wall.as_secs_f64()
    );
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let engines: Vec<EngineKind> = match arg("--engine") {
        Some(list) => list
            .split(',')
            .map(|e| e.parse().expect("engine name: uring, native or threads"))
            .collect(),
        None => vec![EngineKind::suggest().kind],
    };
    let only = |flag: &str| std::env::args().any(|a| a == flag);
    let halves: Vec<bool> = match (only("--buffered"), only("--direct")) {
        (true, false) => vec![false],
        (false, true) => vec![true],
        _ => vec![false, true],
    };
    let mb = env("AIOLOS_BENCH_FILE_MB", 1024).max(1);
    let secs = env("AIOLOS_BENCH_SECS", 3).max(1);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fs_bench_{mb}M.dat"));
    make_file(&path, mb << 20);
    let blocks = (mb << 20) / BLOCK as u64;
    println!("{TASKS} tasks, 4 KiB random reads, {mb} MiB file, {secs} s per case");
    for direct in halves {
        if !direct {
            warm(&path);
        }
        for &engine in &engines {
            println!(
                "{}, {engine}:",
                if direct {
                    "O_DIRECT"
                } else {
                    "buffered, warm cache"
                }
            );
            if let Some(case) = arg("--case") {
                // One case alone (for profiling): aiolos, tokio or ring.
                let s = match case.as_str() {
                    "aiolos" => aiolos_on_tokio(&path, direct, blocks, secs, engine, false),
                    "aiolos-ct" => aiolos_on_tokio(&path, direct, blocks, secs, engine, true),
                    "tokio" => tokio_blocking(&path, direct, blocks, secs),
                    _ => blocking_ring(&path, direct, blocks, secs, engine),
                };
                row(&case, &s);
                continue;
            }
            let ours = aiolos_on_tokio(&path, direct, blocks, secs, engine, false);
            let ours_ct = aiolos_on_tokio(&path, direct, blocks, secs, engine, true);
            let theirs = tokio_blocking(&path, direct, blocks, secs);
            let ring = blocking_ring(&path, direct, blocks, secs, engine);
            row(&format!("aiolos::fs, tokio multi-thread ({engine})"), &ours);
            row(
                &format!("aiolos::fs, tokio current-thread ({engine})"),
                &ours_ct,
            );
            row("tokio spawn_blocking pread, multi-thread", &theirs);
            row(&format!("blocking Ring ({engine})"), &ring);
            println!(
                "  ratio multi-thread aiolos/tokio: {:.2}x IOPS, {:.2}x CPU per I/O; aiolos/Ring: {:.2}x IOPS, {:.2}x CPU per I/O",
                ours.iops() / theirs.iops(),
                ours.cpu_us_per_io() / theirs.cpu_us_per_io(),
                ours.iops() / ring.iops(),
                ours.cpu_us_per_io() / ring.cpu_us_per_io()
            );
            println!(
                "  ratio current-thread aiolos/tokio: {:.2}x IOPS, {:.2}x CPU per I/O; aiolos/Ring: {:.2}x IOPS, {:.2}x CPU per I/O",
                ours_ct.iops() / theirs.iops(),
                ours_ct.cpu_us_per_io() / theirs.cpu_us_per_io(),
                ours_ct.iops() / ring.iops(),
                ours_ct.cpu_us_per_io() / ring.cpu_us_per_io()
            );
        }
    }
}
