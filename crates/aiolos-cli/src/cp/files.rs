//! Opening SRC and the temporary copy for I/O: O_DIRECT on both when both support it,
//! else buffered, with the request unit and buffer alignment that follow.

use super::plan::Plan;
use super::CpArgs;
use aiolos::align::{self, Alignment};
use aiolos::Fd;
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use tempfile::NamedTempFile;

/// The open files and I/O parameters of one copy.
pub struct Io {
    /// SRC, buffered: for short-read fix-ups and extents.
    pub src: File,
    /// The descriptors requests go to (O_DIRECT ones in direct mode).
    pub src_io: Fd,
    pub dst_io: Fd,
    /// The alignment unit of offsets and lengths (1 when buffered).
    pub unit: u64,
    pub mem_align: usize,
    pub bs: u64,
    pub direct: bool,
}

fn open_direct(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(path)
}

pub fn open_io(args: &CpArgs, plan: &Plan, tmp: &NamedTempFile) -> Result<(Io, Option<String>)> {
    let src =
        File::open(&plan.src).with_context(|| format!("cannot open SRC {}", plan.src.display()))?;
    let why_buffered = if args.buffered {
        Some("--buffered".to_string())
    } else {
        match (
            align::direct_io_supported(&plan.src),
            align::direct_io_supported(tmp.path()),
        ) {
            (Ok(true), Ok(true)) => None,
            (Ok(false), _) => Some(format!("{} does not support O_DIRECT", plan.src.display())),
            (_, Ok(false)) => Some(format!("{} does not support O_DIRECT", plan.dir.display())),
            (Err(e), _) | (_, Err(e)) => Some(format!("O_DIRECT probe failed: {e}")),
        }
    };
    if why_buffered.is_some() {
        let dst = tmp.reopen().context("cannot reopen the temporary file")?;
        let io = Io {
            src_io: Fd::from(src.try_clone()?),
            src,
            dst_io: Fd::from(dst),
            unit: 1,
            mem_align: rustix::param::page_size(),
            bs: args.bs.max(1),
            direct: false,
        };
        return Ok((io, why_buffered));
    }
    let src_d = open_direct(&plan.src, false)
        .with_context(|| format!("cannot open SRC {} with O_DIRECT", plan.src.display()))?;
    let dst_d = open_direct(tmp.path(), true)
        .with_context(|| format!("cannot open {} with O_DIRECT", tmp.path().display()))?;
    let (a, b) = (Alignment::of(&src_d)?, Alignment::of(&dst_d)?);
    let unit = a.offset().max(b.offset()) as u64;
    let io = Io {
        src,
        src_io: Fd::from(src_d),
        dst_io: Fd::from(dst_d),
        unit,
        // Page-aligned buffers even where the files allow less: see `DirectFile::alloc_buf`.
        mem_align: a.max().max(b.max()).max(rustix::param::page_size()),
        bs: align::align_up(args.bs.max(1), unit),
        direct: true,
    };
    Ok((io, None))
}
