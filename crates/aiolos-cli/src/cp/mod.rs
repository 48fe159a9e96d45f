//! `aiolos cp SRC DST`: a file copy with many requests in flight on one [`Ring`].
//!
//! The copy goes to a temporary file in DST's directory, which is renamed over DST only
//! when every byte is written, flushed (`fsync`) and, with `--verify`, compared; on an
//! error or Ctrl-C the temporary file is removed, so DST is either untouched or complete.
//!
//! Both files are opened O_DIRECT when both support it. Requests then cover whole
//! alignment units (the larger of the two files' [`Alignment`]s): the last, partial unit
//! of the source is read to its end of file, padded with zeros, written whole, and the
//! destination is cut back to the source's size with `ftruncate` at the end. Holes in the
//! source (found with `SEEK_DATA`/`SEEK_HOLE`) are not read or written; the destination is
//! created at full size first, so they stay holes.
//!
//! Buffers start on a page boundary even where the files need less alignment: a 1 MiB
//! buffer at a 512-byte boundary spans 257 pages, the block layer splits each request in
//! two odd-sized pieces, and on the virtio disk this was measured on the copy ran three to
//! four times slower (docs/cp.md).

mod extents;
mod files;
mod pipeline;
mod progress;
mod verify;

use crate::bench::args::{parse_qd, parse_size};
use aiolos::sys::signal;
use aiolos::{AlignedBuf, BufPool, EngineKind, Ring};
use anyhow::{bail, Context, Result};
use clap::Args;
use extents::{align_extents, data_extents};
use pipeline::{copy_data, Chunk, Pipeline, Stop};
use progress::progress_bar;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tempfile::NamedTempFile;

/// `aiolos cp`: copy a file with many requests in flight.
#[derive(Args, Debug, Clone)]
pub struct CpArgs {
    /// The file to copy (a regular file).
    pub src: PathBuf,
    /// Where to copy it: a file name, or an existing directory to copy into.
    pub dst: PathBuf,
    /// Requests in flight (1 to 1048576, the ring's limit).
    #[arg(long, default_value_t = 32, value_parser = parse_qd)]
    pub qd: u32,
    /// Bytes per request (k, m, g suffixes); rounded up to the O_DIRECT alignment.
    #[arg(long, default_value = "1m", value_parser = parse_size)]
    pub bs: u64,
    /// Engine: uring, native (kernel AIO) or threads. Default: what aiolos suggests here.
    #[arg(long, value_name = "ENGINE", value_parser = crate::engine::parse_engine)]
    pub engine: Option<EngineKind>,
    /// Replace DST if it exists.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// After copying, read both files back and compare them (DST from the device).
    #[arg(long)]
    pub verify: bool,
    /// Use the page cache even where O_DIRECT works.
    #[arg(long)]
    pub buffered: bool,
    /// Print what was done (mode, engine, throughput) on stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// Where the copy goes, after the checks.
pub struct Plan {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub dir: PathBuf,
    pub size: u64,
    pub mode: u32,
}

fn plan(args: &CpArgs) -> Result<Plan> {
    let src_meta = std::fs::metadata(&args.src).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!("SRC {} does not exist", args.src.display()),
        _ => anyhow::Error::new(e).context(format!("cannot access SRC {}", args.src.display())),
    })?;
    if !src_meta.is_file() {
        bail!(
            "SRC {} is not a regular file (aiolos cp copies regular files)",
            args.src.display()
        );
    }
    let mut dst = args.dst.clone();
    if dst.is_dir() {
        let name = args
            .src
            .file_name()
            .with_context(|| format!("SRC {} has no file name", args.src.display()))?;
        dst.push(name);
    }
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "the directory of DST, {}, does not exist (or is not a directory)",
            dir.display()
        );
    }
    if let Ok(dst_meta) = std::fs::metadata(&dst) {
        if dst_meta.dev() == src_meta.dev() && dst_meta.ino() == src_meta.ino() {
            bail!(
                "SRC {} and DST {} are the same file",
                args.src.display(),
                dst.display()
            );
        }
        if dst_meta.is_dir() {
            bail!("DST {} is a directory", dst.display());
        }
        if !args.force {
            bail!("DST {} exists; use --force to replace it", dst.display());
        }
    }
    Ok(Plan {
        src: args.src.clone(),
        dst,
        dir,
        size: src_meta.len(),
        mode: src_meta.permissions().mode() & 0o7777,
    })
}

fn engine(args: &CpArgs) -> EngineKind {
    args.engine
        .unwrap_or_else(|| crate::engine::default_engine().kind)
}

/// Runs `aiolos cp`.
///
/// # Errors
/// Every reason the copy cannot be made, naming the file and the fix.
pub fn run(args: CpArgs) -> Result<ExitCode> {
    signal::catch_interrupt().context("cannot install the Ctrl-C handler")?;
    let plan = plan(&args)?;
    let name = plan
        .dst
        .file_name()
        .map_or_else(|| "copy".into(), |n| n.to_string_lossy().into_owned());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".aiolos-cp")
        .tempfile_in(&plan.dir)
        .with_context(|| format!("cannot create a temporary file in {}", plan.dir.display()))?;
    let started = Instant::now();
    let (io, why_buffered) = files::open_io(&args, &plan, &tmp)?;
    let dst_file = tmp.as_file();
    dst_file.set_len(plan.size).with_context(|| {
        format!(
            "cannot size {} to {} bytes",
            tmp.path().display(),
            plan.size
        )
    })?;
    let mut extents = data_extents(&io.src, plan.size);
    if io.direct {
        extents = align_extents(&extents, io.unit);
    }
    let data_bytes: u64 = extents.iter().map(|&(s, e)| e.min(plan.size) - s).sum();
    let kind = engine(&args);
    let ring = Ring::builder()
        .entries(args.qd)
        .engine(kind)
        .build::<AlignedBuf>()
        .with_context(|| format!("cannot start the {kind} engine"))?;
    let qd = args.qd as usize;
    let mut pipe = Pipeline {
        io: &io,
        dst_file,
        ring,
        pool: BufPool::new(io.bs as usize, io.mem_align, qd),
        size: plan.size,
        slots: vec![Chunk::default(); qd],
        free: (0..qd).rev().collect(),
        in_flight: 0,
        pb: progress_bar(data_bytes),
    };
    let copied = copy_data(&mut pipe, extents, qd);
    pipe.pb.finish_and_clear();
    match copied {
        Ok(()) => {}
        Err(Stop::Interrupted) => {
            drop(tmp);
            eprintln!("aiolos: cp interrupted; the partial copy was removed");
            return Ok(ExitCode::from(130));
        }
        Err(Stop::Failed(e)) => return Err(e),
    }
    drop(pipe);
    finish(&args, &plan, tmp, io.direct)?;
    if args.verbose {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "copied {} bytes ({} of data) in {secs:.3} s, {:.1} MiB/s; {}; {kind} engine, qd {}, bs {}",
            plan.size,
            data_bytes,
            plan.size as f64 / secs.max(1e-9) / (1 << 20) as f64,
            match &why_buffered {
                None => format!("O_DIRECT (alignment {})", io.unit),
                Some(why) => format!("buffered ({why})"),
            },
            args.qd,
            io.bs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Cuts the copy to size, flushes it, verifies it, gives it SRC's mode and renames it.
fn finish(args: &CpArgs, plan: &Plan, tmp: NamedTempFile, direct: bool) -> Result<()> {
    let f = tmp.as_file();
    if direct {
        f.set_len(plan.size).with_context(|| {
            format!("cannot cut {} to {} bytes", tmp.path().display(), plan.size)
        })?;
    }
    f.sync_all()
        .with_context(|| format!("cannot flush {}", tmp.path().display()))?;
    if args.verify {
        verify::verify(plan, &tmp)?;
    }
    if signal::interrupted() {
        bail!("interrupted; the copy was removed");
    }
    f.set_permissions(std::fs::Permissions::from_mode(plan.mode))
        .with_context(|| format!("cannot set the mode of {}", tmp.path().display()))?;
    let persisted = if args.force {
        tmp.persist(&plan.dst)
    } else {
        tmp.persist_noclobber(&plan.dst)
    };
    persisted.map_err(|e| {
        anyhow::Error::new(e.error)
            .context(format!("cannot rename the copy to {}", plan.dst.display()))
    })?;
    Ok(())
}
