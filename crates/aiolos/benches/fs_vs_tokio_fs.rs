//! `aiolos::fs` against `tokio::fs`, tokio's own io_uring file I/O and the blocking `Ring`,
//! side by side in one run, with the CPU time per I/O beside every figure.
//!
//! 1. 32 concurrent tasks doing 4 KiB random reads of one file, buffered with a warm page
//!    cache, then O_DIRECT: `aiolos::fs` on a tokio driver (multi-thread and
//!    current-thread runtime) and on the default driver (multi-thread); tokio's file I/O
//!    two ways (`spawn_blocking` + `pread`, and `tokio::fs::File` seek + read, each task
//!    its own file); `tokio::fs::File` seek + read on tokio's io_uring path (built with
//!    `--cfg tokio_unstable` only); the blocking `Ring`, one thread keeping 32 reads in
//!    flight.
//! 2. Small files, 32 tasks over 10,000 files of 4 KiB: open, read 4 KiB, close; and
//!    create, write 4 KiB, fsync, close.
//!
//! The whole comparison, including tokio's io_uring path, is one command:
//! `scripts/bench-fs.sh` (it prints the load average before and after). By hand:
//!
//!     cargo bench -p aiolos --bench fs_vs_tokio_fs [-- --engine uring,native] [--buffered|--direct|--small] [--case aiolos|aiolos-ct|aiolos-default|tokio|tokio-fs|tokio-uring|ring]
//!
//! `--engine` takes a comma-separated list of engines (default: the one
//! `EngineKind::suggest` picks); `--buffered`, `--direct` or `--small` runs only that part;
//! `--case` runs one random-read case alone (for profiling).
//! `AIOLOS_BENCH_FILE_MB` (default 1024) sets the file size, `AIOLOS_BENCH_SECS`
//! (default 3) the time per case, `AIOLOS_BENCH_ROUNDS` (default 1) how many interleaved
//! rounds of every case to run (each case reports its median round), `AIOLOS_BENCH_WORKERS` the tokio worker threads
//! (default: one per core). Prints IOPS, CPU time per I/O (user + system, whole process,
//! from /proc/self/stat) and the ratios.

use aiolos::fs::{Driver, File};
use aiolos::{AlignedBuf, BufResult, EngineKind, Op, Ring};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const TASKS: usize = 32;
const BLOCK: usize = 4096;
const SMALL_FILES: usize = 10_000;

/// A 4 KiB buffer aligned for O_DIRECT (and fine for buffered reads).
fn block() -> AlignedBuf {
    AlignedBuf::zeroed(BLOCK, BLOCK)
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

#[derive(Clone, Copy)]
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

/// A multi-thread runtime (worker count from `AIOLOS_BENCH_WORKERS`, else one per core),
/// or a current-thread one; with tokio's io_uring path when `uring` (which needs
/// `--cfg tokio_unstable`).
fn runtime(current_thread: bool, uring: bool) -> tokio::runtime::Runtime {
    let mut b = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if let Ok(Ok(n)) = std::env::var("AIOLOS_BENCH_WORKERS").map(|s| s.parse()) {
            b.worker_threads(n);
        }
        b
    };
    b.enable_all();
    #[cfg(tokio_unstable)]
    if uring {
        b.enable_io_uring();
    }
    let _ = uring;
    b.build().expect("tokio runtime")
}

/// Runs `TASKS` tasks of `body` (given the task number, returning its count of I/Os) on
/// `rt` and measures them together.
fn run_tasks<F, Fut>(rt: &tokio::runtime::Runtime, body: F) -> Sample
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = u64> + Send + 'static,
{
    rt.block_on(async {
        let (c0, t0) = (cpu_time(), Instant::now());
        let tasks: Vec<_> = (0..TASKS as u64).map(|t| tokio::spawn(body(t))).collect();
        let mut ios = 0;
        for t in tasks {
            ios += t.await.expect("task");
        }
        Sample {
            ios,
            wall: t0.elapsed(),
            cpu: cpu_time().saturating_sub(c0),
        }
    })
}

fn seed(t: u64) -> u64 {
    (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// aiolos::fs random reads on `driver` (a tokio driver, or the default one).
fn aiolos_reads(
    rt: &tokio::runtime::Runtime,
    file: &File,
    blocks: u64,
    deadline: Instant,
) -> Sample {
    run_tasks(rt, |t| {
        let file = file.clone();
        async move {
            let mut x = seed(t);
            let mut buf = block();
            let mut n = 0;
            while Instant::now() < deadline {
                let BufResult(r, b) = file.read_at(buf, next(&mut x, blocks)).await;
                assert_eq!(r.expect("read"), BLOCK);
                buf = b;
                n += 1;
            }
            n
        }
    })
}

fn aiolos_on_tokio(
    path: &Path,
    direct: bool,
    blocks: u64,
    secs: u64,
    engine: EngineKind,
    ct: bool,
) -> Sample {
    let rt = runtime(ct, false);
    let (driver, file) = rt.block_on(async {
        let driver = Driver::builder()
            .engine(engine)
            .build_tokio()
            .expect("driver");
        let file = File::options()
            .read(true)
            .direct(direct)
            .driver(&driver)
            .open(path)
            .await
            .expect("open");
        (driver, file)
    });
    let s = aiolos_reads(
        &rt,
        &file,
        blocks,
        Instant::now() + Duration::from_secs(secs),
    );
    drop((file, driver));
    s
}

/// The engine the default driver of a multi-thread runtime runs on.
fn default_engine() -> EngineKind {
    runtime(false, false)
        .block_on(async { Driver::default_driver() })
        .expect("the default driver")
        .engine_kind()
}

/// What a program gets with `use aiolos::fs` and nothing else: the default driver.
fn aiolos_default(path: &Path, direct: bool, blocks: u64, secs: u64) -> Sample {
    let rt = runtime(false, false);
    let file = rt
        .block_on(File::options().read(true).direct(direct).open(path))
        .expect("open");
    aiolos_reads(
        &rt,
        &file,
        blocks,
        Instant::now() + Duration::from_secs(secs),
    )
}

fn open_std(path: &Path, direct: bool) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(if direct { aiolos::sys::O_DIRECT } else { 0 })
        .open(path)
        .expect("open")
}

/// tokio's mechanism: each read a `spawn_blocking` positional read.
fn tokio_blocking(path: &Path, direct: bool, blocks: u64, secs: u64) -> Sample {
    let rt = runtime(false, false);
    let file = Arc::new(open_std(path, direct));
    let deadline = Instant::now() + Duration::from_secs(secs);
    run_tasks(&rt, |t| {
        let file = file.clone();
        async move {
            let mut x = seed(t);
            let mut buf = block();
            let mut n = 0;
            while Instant::now() < deadline {
                let off = next(&mut x, blocks);
                let f = file.clone();
                let (r, b) = tokio::task::spawn_blocking(move || {
                    let r = f.read_at(&mut buf, off);
                    (r, buf)
                })
                .await
                .expect("blocking task");
                assert_eq!(r.expect("read"), BLOCK);
                buf = b;
                n += 1;
            }
            n
        }
    })
}

/// `tokio::fs::File`: each task its own file, seek then read 4 KiB; on tokio's io_uring
/// path when `uring`. Buffered only: tokio's internal buffer is not aligned for O_DIRECT.
fn tokio_fs_reads(path: &Path, blocks: u64, secs: u64, uring: bool) -> Sample {
    let rt = runtime(false, uring);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let path = path.to_path_buf();
    run_tasks(&rt, |t| {
        let path = path.clone();
        async move {
            let mut f = tokio::fs::File::open(&path).await.expect("open");
            let mut x = seed(t);
            let mut buf = vec![0u8; BLOCK];
            let mut n = 0;
            while Instant::now() < deadline {
                f.seek(std::io::SeekFrom::Start(next(&mut x, blocks)))
                    .await
                    .expect("seek");
                f.read_exact(&mut buf).await.expect("read");
                n += 1;
            }
            n
        }
    })
}

fn blocking_ring(path: &Path, direct: bool, blocks: u64, secs: u64, engine: EngineKind) -> Sample {
    let ring: Ring<AlignedBuf> = Ring::builder()
        .entries(TASKS as u32)
        .engine(engine)
        .build()
        .expect("ring");
    let fd = aiolos::Fd::from(open_std(path, direct));
    measure(|| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..TASKS {
            ring.push(Op::read(&fd, block(), next(&mut x, blocks)))
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
        "  {name:<52} {:>10.0} IOPS  {:>7.2} µs CPU/IO  ({} in {:.2} s)",
        s.iops(),
        s.cpu_us_per_io(),
        s.ios,
        s.wall.as_secs_f64()
    );
}

fn ratio(name: &str, a: &Sample, b: &Sample) {
    println!(
        "  {name:<52} {:>9.2}x IOPS  {:>6.2}x CPU/IO",
        a.iops() / b.iops(),
        a.cpu_us_per_io() / b.cpu_us_per_io()
    );
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

/// One random-read case by name (for `--case`).
fn case(
    name: &str,
    path: &Path,
    direct: bool,
    blocks: u64,
    secs: u64,
    engine: EngineKind,
) -> Option<Sample> {
    Some(match name {
        "aiolos" => aiolos_on_tokio(path, direct, blocks, secs, engine, false),
        "aiolos-ct" => aiolos_on_tokio(path, direct, blocks, secs, engine, true),
        "aiolos-default" => aiolos_default(path, direct, blocks, secs),
        "tokio" => tokio_blocking(path, direct, blocks, secs),
        "tokio-fs" if !direct => tokio_fs_reads(path, blocks, secs, false),
        "tokio-uring" if !direct && cfg!(tokio_unstable) => {
            tokio_fs_reads(path, blocks, secs, true)
        }
        "ring" => blocking_ring(path, direct, blocks, secs, engine),
        _ => return None,
    })
}

/// `AIOLOS_BENCH_ROUNDS` (default 1) rounds of every case, interleaved (each round runs
/// every case once, in order), so that a change in the machine's load falls on all of them;
/// each case reports its median round (by IOPS).
fn rounds() -> usize {
    env("AIOLOS_BENCH_ROUNDS", 1).max(1) as usize
}

/// Runs each case `rounds()` times, interleaved; the median sample of each, in order.
fn interleaved(cases: &[&dyn Fn() -> Sample]) -> Vec<Sample> {
    let mut runs: Vec<Vec<Sample>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds() {
        for (c, out) in cases.iter().zip(runs.iter_mut()) {
            out.push(c());
        }
    }
    runs.into_iter()
        .map(|mut v| {
            v.sort_by(|a, b| a.iops().total_cmp(&b.iops()));
            v[v.len() / 2]
        })
        .collect()
}

fn random_reads(path: &Path, direct: bool, blocks: u64, secs: u64, engine: EngineKind) {
    let buffered = !direct;
    let uring = buffered && cfg!(tokio_unstable);
    let ring = || blocking_ring(path, direct, blocks, secs, engine);
    let mt = || aiolos_on_tokio(path, direct, blocks, secs, engine, false);
    let ct = || aiolos_on_tokio(path, direct, blocks, secs, engine, true);
    let def = || aiolos_default(path, direct, blocks, secs);
    let spawn = || tokio_blocking(path, direct, blocks, secs);
    let tfs = || tokio_fs_reads(path, blocks, secs, false);
    let tur = || tokio_fs_reads(path, blocks, secs, true);
    let mut cases: Vec<&dyn Fn() -> Sample> = vec![&ring, &mt, &ct, &def, &spawn];
    if buffered {
        cases.push(&tfs);
    }
    if uring {
        cases.push(&tur);
    }
    let r = interleaved(&cases);
    let (ring, mt, ct, def, spawn) = (r[0], r[1], r[2], r[3], r[4]);
    let tfs = buffered.then(|| r[5]);
    let turing = uring.then(|| r[6]);
    row(
        &format!("aiolos::fs, tokio driver, multi-thread ({engine})"),
        &mt,
    );
    row(
        &format!("aiolos::fs, tokio driver, current-thread ({engine})"),
        &ct,
    );
    // The default driver takes no engine from `--engine`: it resolves its own, as in a
    // program (AIOLOS_ENGINE, else io_uring where it runs).
    row(
        &format!(
            "aiolos::fs, default driver, multi-thread ({})",
            default_engine()
        ),
        &def,
    );
    row("tokio spawn_blocking + pread, multi-thread", &spawn);
    match &tfs {
        Some(s) => row("tokio::fs::File seek + read, multi-thread", s),
        None => {
            println!("  tokio::fs::File seek + read: n/a (its buffer is not aligned for O_DIRECT)")
        }
    }
    match &turing {
        Some(s) => row("tokio::fs::File seek + read, tokio io_uring", s),
        None if direct => {}
        None => println!(
            "  tokio io_uring: not built (needs --cfg tokio_unstable: scripts/bench-fs.sh)"
        ),
    }
    row(&format!("blocking Ring ({engine})"), &ring);
    // tokio::fs's best: spawn_blocking + pread or File seek + read, whichever is faster.
    let best = match &tfs {
        Some(t) if t.iops() > spawn.iops() => *t,
        _ => spawn,
    };
    ratio("ratio aiolos multi-thread / blocking Ring", &mt, &ring);
    ratio("ratio aiolos current-thread / blocking Ring", &ct, &ring);
    ratio("ratio aiolos default driver / blocking Ring", &def, &ring);
    ratio("ratio aiolos multi-thread / best tokio::fs", &mt, &best);
    ratio("ratio aiolos default driver / best tokio::fs", &def, &best);
    if let Some(u) = &turing {
        ratio("ratio aiolos multi-thread / tokio io_uring", &mt, u);
    }
}

/// 10,000 files of 4 KiB for the small-file workload (made once).
fn small_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("small-file dir");
    (0..SMALL_FILES)
        .map(|i| {
            let p = dir.join(format!("f{i:05}"));
            if std::fs::metadata(&p).map(|m| m.len()).ok() != Some(BLOCK as u64) {
                std::fs::write(&p, vec![i as u8; BLOCK]).expect("small file");
            }
            p
        })
        .collect()
}

/// Each task takes the next file (round robin over the set) until the deadline.
fn over_files<F, Fut>(
    rt: &tokio::runtime::Runtime,
    files: &Arc<Vec<PathBuf>>,
    secs: u64,
    op: F,
) -> Sample
where
    F: Fn(PathBuf) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    run_tasks(rt, |_| {
        let (files, next, op) = (files.clone(), next.clone(), op.clone());
        async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) % files.len();
                op(files[i].clone()).await;
                n += 1;
            }
            n
        }
    })
}

fn small(secs: u64, engine: EngineKind) {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fs_bench_small");
    let reads = Arc::new(small_files(&base.join("read")));
    std::fs::create_dir_all(base.join("write")).expect("write dir");
    let writes: Arc<Vec<PathBuf>> = Arc::new(
        (0..SMALL_FILES)
            .map(|i| base.join("write").join(format!("w{i:05}")))
            .collect(),
    );
    for f in reads.iter() {
        warm(f);
    }
    println!("small files, {SMALL_FILES} files of 4 KiB, {TASKS} tasks, multi-thread runtime ({engine}):");
    let rt = runtime(false, false);
    let d = rt.block_on(async {
        Driver::builder()
            .engine(engine)
            .build_tokio()
            .expect("driver")
    });
    let urt = cfg!(tokio_unstable).then(|| runtime(false, true));
    let a_read = || {
        let d = d.clone();
        over_files(&rt, &reads, secs, move |p| {
            let d = d.clone();
            async move {
                let f = File::options()
                    .read(true)
                    .driver(&d)
                    .open(p)
                    .await
                    .expect("open");
                let BufResult(r, _) = f.read_at(Vec::with_capacity(BLOCK), 0).await;
                assert_eq!(r.expect("read"), BLOCK);
            }
        })
    };
    let a_read_def = || {
        over_files(&rt, &reads, secs, |p| async move {
            let f = File::open(p).await.expect("open");
            let BufResult(r, _) = f.read_at(Vec::with_capacity(BLOCK), 0).await;
            assert_eq!(r.expect("read"), BLOCK);
        })
    };
    let t_read_on = |rt: &tokio::runtime::Runtime| {
        over_files(rt, &reads, secs, |p| async move {
            let mut f = tokio::fs::File::open(p).await.expect("open");
            let mut buf = vec![0u8; BLOCK];
            f.read_exact(&mut buf).await.expect("read");
        })
    };
    let a_write = || {
        let d = d.clone();
        over_files(&rt, &writes, secs, move |p| {
            let d = d.clone();
            async move {
                let f = File::options()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .driver(&d)
                    .open(p)
                    .await
                    .expect("create");
                let BufResult(r, _) = f.write_all_at(vec![7u8; BLOCK], 0).await;
                r.expect("write");
                f.sync_all().await.expect("fsync");
            }
        })
    };
    let t_write_on = |rt: &tokio::runtime::Runtime| {
        over_files(rt, &writes, secs, |p| async move {
            let mut f = tokio::fs::File::create(p).await.expect("create");
            f.write_all(&[7u8; BLOCK]).await.expect("write");
            f.sync_all().await.expect("fsync");
        })
    };
    let t_read = || t_read_on(&rt);
    let t_write = || t_write_on(&rt);
    let u_read = || t_read_on(urt.as_ref().unwrap_or(&rt));
    let u_write = || t_write_on(urt.as_ref().unwrap_or(&rt));
    let mut cases: Vec<&dyn Fn() -> Sample> =
        vec![&a_read, &a_read_def, &t_read, &a_write, &t_write];
    if urt.is_some() {
        cases.push(&u_read);
        cases.push(&u_write);
    }
    let r = interleaved(&cases);
    let (a_read, a_read_def, t_read, a_write, t_write) = (r[0], r[1], r[2], r[3], r[4]);
    let u = urt.is_some().then(|| (r[5], r[6]));
    drop(d);
    row(
        "open + read 4 KiB + close: aiolos::fs, tokio driver",
        &a_read,
    );
    row(
        "open + read 4 KiB + close: aiolos::fs, default driver",
        &a_read_def,
    );
    row("open + read 4 KiB + close: tokio::fs", &t_read);
    if let Some((r, _)) = &u {
        row("open + read 4 KiB + close: tokio io_uring", r);
    }
    row("create + write 4 KiB + fsync + close: aiolos::fs", &a_write);
    row("create + write 4 KiB + fsync + close: tokio::fs", &t_write);
    if let Some((_, w)) = &u {
        row("create + write 4 KiB + fsync + close: tokio io_uring", w);
    }
    ratio("ratio open+read+close aiolos / tokio::fs", &a_read, &t_read);
    ratio(
        "ratio open+read+close aiolos default / tokio::fs",
        &a_read_def,
        &t_read,
    );
    ratio(
        "ratio create+write+fsync aiolos / tokio::fs",
        &a_write,
        &t_write,
    );
    if let Some((r, w)) = &u {
        ratio("ratio open+read+close aiolos / tokio io_uring", &a_read, r);
        ratio(
            "ratio create+write+fsync aiolos / tokio io_uring",
            &a_write,
            w,
        );
    }
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
    let (b, d, s) = (only("--buffered"), only("--direct"), only("--small"));
    let all = !b && !d && !s;
    let mb = env("AIOLOS_BENCH_FILE_MB", 1024).max(1);
    let secs = env("AIOLOS_BENCH_SECS", 3).max(1);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fs_bench_{mb}M.dat"));
    let blocks = (mb << 20) / BLOCK as u64;
    if all || b || d {
        make_file(&path, mb << 20);
        println!("{TASKS} tasks, 4 KiB random reads, {mb} MiB file, {secs} s per case");
    }
    for direct in [false, true] {
        if !(all || (b && !direct) || (d && direct)) {
            continue;
        }
        if !direct {
            warm(&path);
        }
        for &engine in &engines {
            let what = if direct {
                "O_DIRECT"
            } else {
                "buffered, warm cache"
            };
            println!("{what}, {engine}:");
            if let Some(name) = arg("--case") {
                match case(&name, &path, direct, blocks, secs, engine) {
                    Some(s) => row(&name, &s),
                    None => println!("  {name}: not available here"),
                }
                continue;
            }
            random_reads(&path, direct, blocks, secs, engine);
        }
    }
    if all || s {
        for &engine in &engines {
            small(secs, engine);
        }
    }
}
