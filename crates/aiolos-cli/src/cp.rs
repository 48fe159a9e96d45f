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

use crate::bench::args::parse_size;
use aiolos::align::{self, Alignment};
use aiolos::sys::signal;
use aiolos::{AlignedBuf, BufPool, Completion, EngineKind, Fd, Op, Ring};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rustix::fs::SeekFrom;
use rustix::io::Errno;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tempfile::NamedTempFile;

/// The engine to copy with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// io_uring.
    Uring,
    /// Kernel AIO.
    Native,
    /// The thread pool.
    Threads,
}

impl From<EngineArg> for EngineKind {
    fn from(e: EngineArg) -> EngineKind {
        match e {
            EngineArg::Uring => EngineKind::Uring,
            EngineArg::Native => EngineKind::Native,
            EngineArg::Threads => EngineKind::Threads,
        }
    }
}

/// `aiolos cp`: copy a file with many requests in flight.
#[derive(Args, Debug, Clone)]
pub struct CpArgs {
    /// The file to copy (a regular file).
    pub src: PathBuf,
    /// Where to copy it: a file name, or an existing directory to copy into.
    pub dst: PathBuf,
    /// Requests in flight.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub qd: u32,
    /// Bytes per request (k, m, g suffixes); rounded up to the O_DIRECT alignment.
    #[arg(long, default_value = "1m", value_parser = parse_size)]
    pub bs: u64,
    /// Engine: uring, native (kernel AIO) or threads. Default: what aiolos suggests here.
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,
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
struct Plan {
    src: PathBuf,
    dst: PathBuf,
    dir: PathBuf,
    size: u64,
    mode: u32,
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

/// The data regions of the first `size` bytes of `file`, as `(start, end)`; the whole
/// file as one region where the file system cannot tell (no `SEEK_DATA`).
pub fn data_extents(file: &File, size: u64) -> Vec<(u64, u64)> {
    let whole = if size == 0 { vec![] } else { vec![(0, size)] };
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < size {
        let start = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(s) if s < size => s,
            Ok(_) | Err(Errno::NXIO) => break,
            Err(_) => return whole,
        };
        let end = match rustix::fs::seek(file, SeekFrom::Hole(start)) {
            Ok(e) => e.min(size),
            Err(Errno::NXIO) => size,
            Err(_) => return whole,
        };
        if end <= start {
            return whole;
        }
        out.push((start, end));
        pos = end;
    }
    out
}

/// Widens every region to whole units of `unit` bytes and merges those that then touch.
fn align_extents(extents: &[(u64, u64)], unit: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &(s, e) in extents {
        let (s, e) = (align::align_down(s, unit), align::align_up(e, unit));
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The requests to make: `(offset, length)` pieces of at most `bs` bytes.
fn chunks(extents: Vec<(u64, u64)>, bs: u64) -> impl Iterator<Item = (u64, u64)> {
    extents.into_iter().flat_map(move |(s, e)| {
        (s..e)
            .step_by(bs as usize)
            .map(move |off| (off, bs.min(e - off)))
    })
}

/// The open files and I/O parameters of one copy.
struct Io {
    /// SRC, buffered: for short-read fix-ups and extents.
    src: File,
    /// The descriptors requests go to (O_DIRECT ones in direct mode).
    src_io: Fd,
    dst_io: Fd,
    /// The alignment unit of offsets and lengths (1 when buffered).
    unit: u64,
    mem_align: usize,
    bs: u64,
    direct: bool,
}

fn open_direct(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(path)
}

fn open_io(args: &CpArgs, plan: &Plan, tmp: &NamedTempFile) -> Result<(Io, Option<String>)> {
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

fn progress_bar(total: u64) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// One chunk between its read and its write.
#[derive(Clone, Copy, Default)]
struct Chunk {
    off: u64,
    /// Bytes of SRC it carries (short for the last one).
    data: u64,
}

/// The read-then-write pipeline on the ring.
struct Pipeline<'a> {
    io: &'a Io,
    dst_file: &'a File,
    ring: Ring<AlignedBuf>,
    pool: BufPool,
    size: u64,
    slots: Vec<Chunk>,
    free: Vec<usize>,
    in_flight: usize,
    pb: ProgressBar,
}

impl Pipeline<'_> {
    fn start_read(&mut self, off: u64, len: u64) -> Result<()> {
        let slot = self.free.pop().context("no free request slot")?;
        let data = len.min(self.size.saturating_sub(off));
        self.slots[slot] = Chunk { off, data };
        let buf = if len == self.io.bs {
            self.pool.get()
        } else {
            AlignedBuf::try_with_capacity(len as usize, self.io.mem_align)
                .context("cannot allocate a buffer")?
        };
        let op = Op::read(&self.io.src_io, buf, off).user_data(slot as u64 * 2);
        self.ring.push(op).map_err(io::Error::from)?;
        self.in_flight += 1;
        Ok(())
    }

    fn finish(&mut self, slot: usize, buf: AlignedBuf) {
        self.pool.put(buf);
        self.free.push(slot);
        self.in_flight -= 1;
    }

    /// Handles one completion; an `Err` stops the copy (after the caller drains).
    fn complete(&mut self, c: Completion<AlignedBuf>, stopping: bool) -> Result<()> {
        let Completion {
            user_data,
            result,
            bufs,
            ..
        } = c;
        let slot = (user_data / 2) as usize;
        let is_write = user_data % 2 == 1;
        let chunk = self.slots[slot];
        let aiolos::Buffers::One(mut buf) = bufs else {
            bail!("a completion came back without its buffer");
        };
        let outcome = if is_write {
            self.written(chunk, result, &buf)
        } else {
            self.read_done(chunk, result, &mut buf)
        };
        match outcome {
            Ok(true) if !stopping => {
                let op = Op::write(&self.io.dst_io, buf, chunk.off).user_data(slot as u64 * 2 + 1);
                self.ring.push(op).map_err(io::Error::from)?;
                Ok(())
            }
            Ok(_) => {
                self.finish(slot, buf);
                Ok(())
            }
            Err(e) => {
                self.finish(slot, buf);
                Err(e)
            }
        }
    }

    /// A read finished: complete it if it was short, pad it for O_DIRECT. `Ok(true)` when
    /// the write should follow.
    fn read_done(&self, ch: Chunk, res: io::Result<usize>, buf: &mut AlignedBuf) -> Result<bool> {
        let n = res.with_context(|| format!("reading SRC at offset {}", ch.off))?;
        let want = ch.data as usize;
        if n < want {
            // A short read before the end of the file: fetch the rest synchronously.
            buf.resize(want);
            self.io
                .src
                .read_exact_at(&mut buf[n..want], ch.off + n as u64)
                .with_context(|| {
                    format!(
                        "reading SRC at offset {}: it is shorter than when the copy began",
                        ch.off + n as u64
                    )
                })?;
        }
        buf.truncate(want);
        if self.io.direct {
            buf.resize(align::align_up(want as u64, self.io.unit) as usize);
        }
        Ok(true)
    }

    /// A write finished: complete it if it was short; count its bytes.
    fn written(&self, ch: Chunk, res: io::Result<usize>, buf: &AlignedBuf) -> Result<bool> {
        let m = res.with_context(|| format!("writing DST at offset {}", ch.off))?;
        if m < buf.len() {
            self.dst_file
                .write_all_at(&buf[m..], ch.off + m as u64)
                .with_context(|| format!("writing DST at offset {}", ch.off + m as u64))?;
        }
        self.pb.inc(ch.data);
        Ok(false)
    }
}

/// Why the copy stopped early.
enum Stop {
    Interrupted,
    Failed(anyhow::Error),
}

fn copy_data(pipe: &mut Pipeline<'_>, extents: Vec<(u64, u64)>, qd: usize) -> Result<(), Stop> {
    let mut todo = chunks(extents, pipe.io.bs);
    let mut stop: Option<Stop> = None;
    loop {
        if stop.is_none() && signal::interrupted() {
            stop = Some(Stop::Interrupted);
        }
        while stop.is_none() && pipe.in_flight < qd {
            let Some((off, len)) = todo.next() else { break };
            if let Err(e) = pipe.start_read(off, len) {
                stop = Some(Stop::Failed(e));
            }
        }
        if pipe.in_flight == 0 {
            break;
        }
        let done = match pipe.ring.wait(1, qd, Some(Duration::from_millis(100))) {
            Ok(d) => d,
            // The ring is unusable: nothing more can be drained.
            Err(e) => {
                return Err(Stop::Failed(
                    anyhow::Error::new(e).context("waiting for I/O"),
                ))
            }
        };
        for c in done {
            if let Err(e) = pipe.complete(c, stop.is_some()) {
                stop.get_or_insert(Stop::Failed(e));
            }
        }
    }
    stop.map_or(Ok(()), Err)
}

/// Reads `a` and `b` from the start and returns the first offset where they differ
/// (including where one ends before the other), or `None` when they are equal.
///
/// # Errors
/// Read errors.
pub fn first_difference(
    a: &mut impl Read,
    b: &mut impl Read,
    pb: &ProgressBar,
) -> io::Result<Option<u64>> {
    const CHUNK: usize = 1 << 20;
    let (mut x, mut y) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut off = 0u64;
    loop {
        let n = read_full(a, &mut x)?;
        let m = read_full(b, &mut y)?;
        let common = n.min(m);
        if let Some(i) = x[..common]
            .iter()
            .zip(&y[..common])
            .position(|(p, q)| p != q)
        {
            return Ok(Some(off + i as u64));
        }
        if n != m {
            return Ok(Some(off + common as u64));
        }
        if n == 0 {
            return Ok(None);
        }
        off += n as u64;
        pb.inc(n as u64);
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn verify(plan: &Plan, tmp: &NamedTempFile) -> Result<()> {
    let tmp_file = tmp
        .reopen()
        .context("cannot reopen the copy to verify it")?;
    // Read the copy from the device, not from the page cache (a no-op after O_DIRECT).
    let _ = rustix::fs::fadvise(&tmp_file, 0, None, rustix::fs::Advice::DontNeed);
    let mut src = File::open(&plan.src)
        .with_context(|| format!("cannot reopen SRC {} to verify", plan.src.display()))?;
    let pb = progress_bar(plan.size);
    let diff = first_difference(&mut src, &mut io::BufReader::new(tmp_file), &pb)
        .context("verifying the copy")?;
    pb.finish_and_clear();
    if let Some(off) = diff {
        bail!(
            "verify failed: the copy differs from SRC {} at byte offset {off}; DST was not written",
            plan.src.display()
        );
    }
    Ok(())
}

fn engine(args: &CpArgs) -> EngineKind {
    match args.engine {
        Some(e) => e.into(),
        None => EngineKind::suggest().kind,
    }
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
    let (io, why_buffered) = open_io(&args, &plan, &tmp)?;
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
        verify(plan, &tmp)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_extents_cover_whole_units_and_merge_when_they_touch() {
        let e = align_extents(&[(10, 20), (600, 700), (5000, 5001)], 512);
        assert_eq!(e, vec![(0, 1024), (4608, 5120)]);
    }

    #[test]
    fn chunks_split_each_extent_at_the_block_size() {
        let c: Vec<_> = chunks(vec![(0, 10), (20, 25)], 4).collect();
        assert_eq!(c, vec![(0, 4), (4, 4), (8, 2), (20, 4), (24, 1)]);
    }

    #[test]
    fn first_difference_names_the_first_differing_offset() {
        let a = vec![7u8; 3 << 20];
        let mut b = a.clone();
        b[(2 << 20) + 5] = 0;
        let pb = ProgressBar::hidden();
        assert_eq!(
            first_difference(&mut &a[..], &mut &b[..], &pb).unwrap(),
            Some((2 << 20) + 5)
        );
        assert_eq!(
            first_difference(&mut &a[..], &mut &a[..], &pb).unwrap(),
            None
        );
        assert_eq!(
            first_difference(&mut &a[..], &mut &a[..10], &pb).unwrap(),
            Some(10)
        );
    }

    #[test]
    fn data_extents_of_a_sparse_file_skip_its_hole() {
        let f = tempfile::tempfile().unwrap();
        let size = 64 << 20;
        f.set_len(size).unwrap();
        f.write_all_at(&[1u8; 4096], 32 << 20).unwrap();
        let e = data_extents(&f, size);
        let total: u64 = e.iter().map(|(s, e)| e - s).sum();
        if e == vec![(0, size)] {
            eprintln!("SKIP: this file system does not report holes (SEEK_DATA)");
            return;
        }
        assert!(total < size / 2, "{e:?}");
        assert!(
            e.iter()
                .any(|&(s, end)| s <= 32 << 20 && end >= (32 << 20) + 4096),
            "{e:?}"
        );
    }
}
