//! `aiolos bench`: a fio-class benchmark of the rings' engines. Prepares the file
//! ([`target`]), runs jobs ([`job`]) for every round, queue depth and engine, interleaved,
//! gathers one [`report::Report`] and renders it as text, JSON or SVG.

pub mod args;
mod job;
mod report;
mod stamp;
mod svg;
mod target;
mod text;

use crate::engine::EngineChoice;
use crate::rusage::{process_cpu_time, CpuTime};
use aiolos::{AlignedBuf, EngineKind, Ring};
use anyhow::{bail, Context, Result};
pub use args::BenchArgs;
use report::{Config, Report, RunResult};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether Ctrl-C (or SIGTERM) asked the bench to stop.
pub fn interrupted() -> bool {
    crate::interrupt::interrupted()
}

/// Checks, before anything runs, that the plot can be written where `--plot` says: its
/// directory exists and takes a new file, and the path is not a directory.
fn check_plot_path(path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if path.is_dir() {
        bail!(
            "--plot {}: that is a directory; name a file",
            path.display()
        );
    }
    if !dir.is_dir() {
        bail!(
            "--plot {}: the directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    tempfile::Builder::new()
        .prefix(".aiolos-plot-check-")
        .tempfile_in(dir)
        .map(drop)
        .with_context(|| {
            format!(
                "--plot {}: cannot create a file in {}",
                path.display(),
                dir.display()
            )
        })
}

/// Checks the block sizes against what the file needs, before any data is written.
fn check_block_sizes(args: &BenchArgs, align: u64, path: &std::path::Path) -> Result<()> {
    let bs = args.bs;
    if args.verify
        && (!bs.min.is_multiple_of(stamp::SECTOR as u64)
            || !bs.max.is_multiple_of(stamp::SECTOR as u64))
    {
        bail!(
            "--verify stamps every {}-byte sector, so --bs must be a multiple of {} (got {})",
            stamp::SECTOR,
            stamp::SECTOR,
            bs_text(args)
        );
    }
    if args.direct() && (!bs.min.is_multiple_of(align) || !bs.max.is_multiple_of(align)) {
        bail!(
            "--bs {} is not a multiple of {align} bytes, the O_DIRECT alignment of {}; use a \
             multiple of {align} (e.g. --bs {}), or --buffered",
            bs_text(args),
            path.display(),
            (bs.min / align).max(1) * align
        );
    }
    Ok(())
}

fn bs_text(args: &BenchArgs) -> String {
    if args.bs.min == args.bs.max {
        args.bs.min.to_string()
    } else {
        format!("{}-{}", args.bs.min, args.bs.max)
    }
}

/// The engines to run, and notes about those that cannot run here.
fn engines(args: &BenchArgs, entries: u32) -> Result<(Vec<EngineKind>, Vec<String>)> {
    let try_build = |k: EngineKind| -> Result<(), String> {
        Ring::builder()
            .entries(entries)
            .engine(k)
            .build::<AlignedBuf>()
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let mut notes = Vec::new();
    match args.engine {
        Some(EngineChoice::One(k)) => one(k, try_build),
        Some(EngineChoice::All) => {
            let mut v = Vec::new();
            for k in EngineKind::ALL {
                match try_build(k) {
                    Ok(()) => v.push(k),
                    Err(e) => notes.push(format!("skipping {k}: {e}")),
                }
            }
            if v.is_empty() {
                bail!("no engine works here: {}", notes.join("; "));
            }
            Ok((v, notes))
        }
        None => one(crate::engine::default_engine()?.kind, try_build),
    }
}

fn one(
    k: EngineKind,
    try_build: impl Fn(EngineKind) -> Result<(), String>,
) -> Result<(Vec<EngineKind>, Vec<String>)> {
    match try_build(k) {
        Ok(()) => Ok((vec![k], Vec::new())),
        Err(e) => bail!("{e}"),
    }
}

/// One engine at one queue depth: all jobs side by side.
fn run_one(
    args: &BenchArgs,
    target: &target::Target,
    engine: EngineKind,
    qd: u32,
    round: u32,
    progress: bool,
) -> Result<RunResult> {
    let jobs = u64::from(args.jobs);
    let step = args.bs.min;
    let per_job = target.size / jobs / step * step;
    if per_job < args.bs.max {
        bail!(
            "the file is too small: {} bytes over {jobs} job(s) leaves {per_job} bytes per \
             job, less than the block size {}; raise --size or lower --jobs/--bs",
            target.size,
            args.bs.max
        );
    }
    let start = Instant::now();
    let measure_from = start + args.ramp;
    let until = measure_from + args.runtime;
    let unit = if args.direct() {
        target.align
    } else if args.verify {
        stamp::SECTOR as u64
    } else {
        1
    };
    let spec = |j: u64| job::JobSpec {
        engine,
        fd: target.fd.clone(),
        qd,
        start: j * per_job,
        end: (j + 1) * per_job,
        rw: args.rw,
        rwmix_read: args.rwmix_read,
        bs: args.bs,
        unit: unit.max(1),
        // Page-aligned, as `DirectFile::alloc_buf` does: a large buffer that straddles one
        // more page than it needs makes the kernel split requests.
        mem_align: (target.align as usize).max(rustix::param::page_size()),
        single_issuer: !args.shared_ring,
        async_buffered: args.async_buffered,
        batch_submit: args.batch_submit,
        batch_complete: args.batch_complete,
        fsync_every: args.fsync_every,
        verify: args.verify,
        seed: 0x9E37_79B9 ^ (j << 40) ^ (u64::from(round) << 20) ^ u64::from(qd),
        measure_from,
        until,
    };
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let (outputs, cpu) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let spec = spec(j);
                let (stop, done) = (&stop, &done);
                s.spawn(move || {
                    let r = job::run(&spec, stop, done);
                    if r.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        let mut cpu0: Option<CpuTime> = None;
        let mut last = (Instant::now(), 0u64);
        while !handles.iter().all(|h| h.is_finished()) {
            let now = Instant::now();
            if cpu0.is_none() && now >= measure_from {
                cpu0 = process_cpu_time().ok();
            }
            if interrupted() {
                stop.store(true, Ordering::Relaxed);
            }
            if progress && now.duration_since(last.0) >= Duration::from_millis(500) {
                let n = done.load(Ordering::Relaxed);
                let rate = (n - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                eprint!(
                    "\r\x1b[2K{engine} qd {qd}: {:.0}/{:.0} s  {:.0} IOPS",
                    now.duration_since(start).as_secs_f64(),
                    (until - start).as_secs_f64(),
                    rate
                );
                last = (now, n);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let cpu1 = process_cpu_time().ok();
        if progress {
            eprint!("\r\x1b[2K");
        }
        let cpu = match (cpu0, cpu1) {
            (Some(a), Some(b)) => b.since(a),
            _ => CpuTime::default(),
        };
        let outputs = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a job thread panicked")))
            })
            .collect::<Result<Vec<_>>>();
        (outputs, cpu)
    });
    let outputs = outputs.with_context(|| format!("{engine} engine, queue depth {qd}"))?;
    Ok(RunResult::from_jobs(
        engine.name(),
        qd,
        round,
        &outputs,
        cpu,
    ))
}

/// Runs `aiolos bench`.
///
/// # Errors
/// Impossible option combinations, files that cannot be used, engines that cannot run,
/// I/O errors and verification failures, each with what to do about it.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    crate::interrupt::catch().context("cannot install the Ctrl-C handler")?;
    if args.fsync_every > 0 && !args.rw.writes() {
        bail!("--fsync-every needs a workload that writes (--rw write, randwrite or randrw)");
    }
    if let Some(path) = &args.plot {
        check_plot_path(path)?;
    }
    let qd_max = args.qd.0.iter().copied().max().unwrap_or(1);
    let (engines, mut notes) = engines(&args, job::ring_entries(qd_max))?;
    let target = target::prepare(&args, |align, path| check_block_sizes(&args, align, path))?;
    let rounds = args
        .rounds
        .unwrap_or(if args.engine == Some(EngineChoice::All) {
            3
        } else {
            1
        });
    if !args.direct() && args.rw.writes() {
        notes.push("buffered writes measure the page cache unless --fsync-every is set".into());
    }
    let progress = std::io::stderr().is_terminal() && !args.json;
    let mut runs = Vec::new();
    'all: for round in 1..=rounds {
        for &qd in &args.qd.0 {
            for &engine in &engines {
                runs.push(run_one(&args, &target, engine, qd, round, progress)?);
                if interrupted() {
                    break 'all;
                }
            }
        }
    }
    let report = Report {
        schema: report::SCHEMA,
        aiolos_version: env!("CARGO_PKG_VERSION"),
        config: Config {
            file: target.path.display().to_string(),
            file_temporary: target.temporary,
            block_device: target.block_device,
            size_bytes: target.size,
            fill_s: target.fill_s,
            rw: args.rw,
            rwmix_read_pct: args.rwmix_read,
            bs_min_bytes: args.bs.min,
            bs_max_bytes: args.bs.max,
            qd: args.qd.0.clone(),
            engines: engines.iter().map(|e| e.name().to_string()).collect(),
            rounds,
            jobs: args.jobs,
            direct: args.direct(),
            dio_align_bytes: target.align,
            uring_single_issuer: !args.shared_ring,
            uring_async_buffered: args.async_buffered.name(),
            batch_submit: args.batch_submit,
            batch_complete: args.batch_complete,
            runtime_s: args.runtime.as_secs_f64(),
            ramp_s: args.ramp.as_secs_f64(),
            fsync_every: args.fsync_every,
            verify: args.verify,
        },
        notes,
        interrupted: interrupted(),
        summary: report::summarize(&runs),
        runs,
    };
    drop(target);
    // The report first: whatever happens to the plot, the measurements are not lost.
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).context("writing JSON")?;
        writeln!(out)?;
    } else {
        out.write_all(text::render(&report).as_bytes())?;
    }
    out.flush()?;
    if let Some(path) = &args.plot {
        let svg = svg::render(&report)?;
        std::fs::write(path, svg)
            .with_context(|| format!("cannot write the plot to {}", path.display()))?;
        if !args.json {
            writeln!(out, "plot: {}", path.display())?;
        }
    }
    Ok(if report.interrupted {
        ExitCode::from(crate::interrupt::EXIT_STATUS)
    } else {
        ExitCode::SUCCESS
    })
}
