//! `aiolos cp SRC DST`: a file copy with many requests in flight on one [`Ring`](aiolos::Ring).
//!
//! The copy goes to a temporary file in DST's directory, which is renamed over DST only
//! when every byte is written, flushed (`fsync`) and, with `--verify`, compared; on an
//! error or Ctrl-C (in any phase, however many times) the temporary file is removed, so DST
//! is either untouched or complete. Space for SRC's data is allocated before the first
//! write ([`space`]), so a file system that is too small fails the copy at once.
//!
//! SRC whose size says nothing (pipes, devices, files of `/proc` and `/sys`) is read to its
//! end of file instead ([`stream`]); see [`plan`].
//!
//! Otherwise both files are opened O_DIRECT when both support it. Requests then cover whole
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
mod plan;
mod progress;
mod report;
mod space;
mod stream;
mod verify;

use crate::bench::args::{parse_qd, parse_size};
use crate::interrupt;
use aiolos::EngineKind;
use anyhow::{bail, Context, Result};
use clap::Args;
use extents::{align_extents, data_extents};
use plan::{Plan, Source};
use report::{Copied, Method, Verified};
use std::os::unix::fs::PermissionsExt;
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

fn engine(args: &CpArgs) -> Result<EngineKind> {
    Ok(match args.engine {
        Some(kind) => kind,
        None => crate::engine::default_engine()?.kind,
    })
}

fn temp_file(plan: &Plan) -> Result<NamedTempFile> {
    let name = plan
        .dst
        .file_name()
        .map_or_else(|| "copy".into(), |n| n.to_string_lossy().into_owned());
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".aiolos-cp")
        .tempfile_in(&plan.dir)
        .with_context(|| format!("cannot create a temporary file in {}", plan.dir.display()))
}

/// The copy phase for a SRC of known size: space first, then the data on a ring, then
/// the copy cut to size and flushed.
fn copy_sized(args: &CpArgs, plan: &Plan, tmp: &NamedTempFile, size: u64) -> Result<Method> {
    let (io, buffered) = files::open_io(args, plan, tmp)?;
    let dst_file = tmp.as_file();
    dst_file
        .set_len(size)
        .with_context(|| format!("cannot size {} to {size} bytes", tmp.path().display()))?;
    let mut extents = data_extents(&io.src, size);
    if io.direct {
        extents = align_extents(&extents, io.unit);
    }
    space::reserve(dst_file, &plan.dir, &extents)?;
    let data_bytes: u64 = extents.iter().map(|&(s, e)| e.min(size) - s).sum();
    let kind = engine(args)?;
    pipeline::copy(&io, dst_file, size, extents, kind, args.qd)?;
    if io.direct {
        dst_file
            .set_len(size)
            .with_context(|| format!("cannot cut {} to {size} bytes", tmp.path().display()))?;
    }
    Ok(Method::Ring {
        engine: kind,
        qd: args.qd,
        bs: io.bs,
        buffered,
        unit: io.unit,
        data_bytes,
    })
}

/// Runs `aiolos cp`.
///
/// # Errors
/// Every reason the copy cannot be made, naming the file and the fix;
/// [`Interrupted`](interrupt::Interrupted) after Ctrl-C or `SIGTERM`.
pub fn run(args: CpArgs) -> Result<ExitCode> {
    interrupt::catch().context("cannot install the Ctrl-C handler")?;
    let plan = plan::plan(&args)?;
    if let (true, Source::Stream { what }) = (args.verify, plan.source) {
        bail!(
            "--verify compares the copy with SRC read a second time, but SRC {} is {}, \
             which need not give the same bytes twice; copy without --verify",
            plan.src.display(),
            report::describe(what)
        );
    }
    let mut tmp = temp_file(&plan)?;
    let started = Instant::now();
    let method = match plan.source {
        Source::Sized { size } => copy_sized(&args, &plan, &tmp, size)?,
        Source::Stream { what } => {
            stream::copy(&plan.src, tmp.as_file_mut(), &plan.dir, args.bs)?;
            Method::Stream { what }
        }
    };
    let bytes = tmp.as_file().metadata().map_or(0, |m| m.len());
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot flush {}", tmp.path().display()))?;
    interrupt::check(|| "cp interrupted while copying; the copy was removed".to_string())?;
    if args.verbose {
        let elapsed = started.elapsed();
        eprintln!(
            "{}",
            report::copied(&Copied {
                bytes,
                elapsed,
                method
            })
        );
    }
    if args.verify {
        let started = Instant::now();
        let bytes = verify::verify(&plan, &tmp)?;
        if args.verbose {
            let elapsed = started.elapsed();
            eprintln!("{}", report::verified(&Verified { bytes, elapsed }));
        }
    }
    interrupt::check(|| "cp interrupted before DST was written; the copy was removed".to_string())?;
    install(&args, &plan, tmp)?;
    Ok(ExitCode::SUCCESS)
}

/// Gives the copy SRC's mode and renames it to DST.
fn install(args: &CpArgs, plan: &Plan, tmp: NamedTempFile) -> Result<()> {
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(plan.mode))
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
