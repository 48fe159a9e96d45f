//! `aiolos probe [PATH]`: what this kernel and the file system at PATH offer for
//! asynchronous I/O, and the engine aiolos would choose. One [`Report`] is gathered and
//! printed as text or, with `--json`, serialised as it is.
//!
//! Two answers are measured rather than looked up, on a scratch file of a few MiB in
//! PATH's directory whose page cache is dropped first: whether kernel AIO performs a
//! buffered read inside `io_submit` (it does on most file systems: the submitting thread
//! blocks), and whether a buffered `RWF_NOWAIT` read is refused with `EAGAIN` instead.

mod text;

use aiolos::align::{self, Alignment};
use aiolos::sys::Errno;
use aiolos::{EngineKind, Op, Ring, RwFlags};
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Size of the scratch file the measurements read.
const SCRATCH_BYTES: usize = 4 << 20;
/// Size of the one buffered read that is timed.
const READ_BYTES: usize = 1 << 20;

/// `aiolos probe`: report kernel and file-system support for asynchronous I/O.
#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// A file, directory or block device to examine (default: the current directory), or a
    /// program: then whether it links libaio.so.1.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `aiolos probe` reports; the text output is rendered from this too.
#[derive(Serialize, Debug)]
pub struct Report {
    kernel: Kernel,
    io_uring: Uring,
    kernel_aio: KernelAio,
    path: PathReport,
    engine: Engine,
}

#[derive(Serialize, Debug)]
struct Kernel {
    sysname: String,
    release: String,
    machine: String,
}

#[derive(Serialize, Debug)]
struct Uring {
    /// A ring could be created.
    available: bool,
    /// Why not, when it could not.
    unavailable_reason: Option<String>,
    /// The aiolos io_uring engine can run (every op and feature it needs is there).
    usable_by_aiolos: bool,
    unusable_reason: Option<String>,
    supported_ops: Vec<&'static str>,
    unsupported_ops: Vec<&'static str>,
}

#[derive(Serialize, Debug)]
struct KernelAio {
    /// `io_setup(1)` and `io_destroy` succeeded.
    available: bool,
    unavailable_reason: Option<String>,
    aio_nr: Option<u64>,
    aio_max_nr: Option<u64>,
}

#[derive(Serialize, Debug)]
struct PathReport {
    path: String,
    kind: &'static str,
    fs_type: Option<String>,
    /// Whether the file system holds regular files: false for the kernel's own file
    /// systems (`/proc`, `/sys`, ...), where O_DIRECT and alignment do not apply.
    regular_files: bool,
    o_direct: Option<bool>,
    o_direct_error: Option<String>,
    alignment: Option<AlignmentInfo>,
    block_device: Option<String>,
    logical_block_size: Option<u32>,
    physical_block_size: Option<u32>,
    native_buffered_read: Measured<BlockingRead>,
    rwf_nowait: Measured<Nowait>,
}

#[derive(Serialize, Debug)]
struct AlignmentInfo {
    /// Required alignment of the buffer address.
    mem: usize,
    /// Required alignment of file offsets and lengths.
    offset: usize,
    /// Where the values came from.
    source: String,
}

/// A measurement, or why it was not made.
#[derive(Serialize, Debug)]
#[serde(rename_all = "snake_case")]
enum Measured<T> {
    Done(T),
    Skipped(String),
}

#[derive(Serialize, Debug)]
struct BlockingRead {
    /// The read had completed when `io_submit` returned: the submitting thread did it.
    blocks: bool,
    /// How long `submit()` took, in microseconds.
    submit_us: f64,
    read_bytes: usize,
}

#[derive(Serialize, Debug)]
struct Nowait {
    supported: bool,
    /// What the `RWF_NOWAIT` read of a cold page returned.
    result: String,
}

#[derive(Serialize, Debug)]
struct Engine {
    choice: &'static str,
    reason: String,
}

fn kernel() -> Kernel {
    // uname(2) cannot fail (rustix returns its answer directly).
    let u = rustix::system::uname();
    Kernel {
        sysname: u.sysname().to_string_lossy().into_owned(),
        release: u.release().to_string_lossy().into_owned(),
        machine: u.machine().to_string_lossy().into_owned(),
    }
}

fn uring() -> Uring {
    match aiolos::engine::uring_probe() {
        Ok(p) => Uring {
            available: true,
            unavailable_reason: None,
            usable_by_aiolos: p.usable.is_ok(),
            unusable_reason: p.usable.clone().err(),
            supported_ops: p.supported().collect(),
            unsupported_ops: p
                .ops
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(n, _)| *n)
                .collect(),
        },
        Err(why) => Uring {
            available: false,
            unavailable_reason: Some(why),
            usable_by_aiolos: false,
            unusable_reason: None,
            supported_ops: vec![],
            unsupported_ops: vec![],
        },
    }
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn kernel_aio() -> KernelAio {
    use aiolos::sys::aio;
    let result = aio::io_setup(1).and_then(aio::io_destroy);
    let unavailable_reason = result.err().map(|e| match e {
        Errno::NOSYS => "io_setup failed with ENOSYS: the kernel has no AIO (CONFIG_AIO) or \
                         a seccomp filter denies it"
            .to_string(),
        Errno::AGAIN => "io_setup failed with EAGAIN: fs.aio-nr has reached fs.aio-max-nr \
                         (raise the sysctl fs.aio-max-nr)"
            .to_string(),
        Errno::PERM => "io_setup failed with EPERM: denied by a seccomp filter".to_string(),
        e => format!("io_setup failed: {e}"),
    });
    KernelAio {
        available: unavailable_reason.is_none(),
        unavailable_reason,
        aio_nr: read_u64("/proc/sys/fs/aio-nr"),
        aio_max_nr: read_u64("/proc/sys/fs/aio-max-nr"),
    }
}

/// A scratch file of [`SCRATCH_BYTES`] written, flushed and dropped from the page cache.
fn cold_scratch(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".aiolos-probe-")
        .tempfile_in(dir)?;
    let block: Vec<u8> = (0..SCRATCH_BYTES).map(|i| (i % 251) as u8).collect();
    tmp.write_all(&block)?;
    tmp.as_file().sync_all()?;
    rustix::fs::fadvise(tmp.as_file(), 0, None, rustix::fs::Advice::DontNeed)?;
    Ok(tmp)
}

fn native_ring() -> Result<Ring<Vec<u8>>, String> {
    Ring::builder()
        .entries(4)
        .engine(EngineKind::Native)
        .build::<Vec<u8>>()
        .map_err(|e| format!("no kernel AIO ring: {e}"))
}

/// Times one `submit()` of a buffered read of a cold page on a kernel AIO ring.
fn blocking_read(file: &File) -> Result<BlockingRead, String> {
    let ring = native_ring()?;
    let fd = file.try_clone().map_err(|e| e.to_string())?;
    rustix::fs::fadvise(&fd, 0, None, rustix::fs::Advice::DontNeed).map_err(|e| e.to_string())?;
    ring.push(Op::read(fd, Vec::with_capacity(READ_BYTES), 0))
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    ring.submit().map_err(|e| e.to_string())?;
    let submit = t.elapsed();
    let ready = ring
        .wait(0, 1, Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    let blocks = !ready.is_empty();
    let done = if blocks {
        ready
    } else {
        ring.wait(1, 1, Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?
    };
    let c = done
        .into_iter()
        .next()
        .ok_or("the read did not complete in 10 s")?;
    c.result.map_err(|e| format!("the read failed: {e}"))?;
    Ok(BlockingRead {
        blocks,
        submit_us: submit.as_secs_f64() * 1e6,
        read_bytes: READ_BYTES,
    })
}

/// A buffered `RWF_NOWAIT` read of a cold page on a kernel AIO ring.
fn nowait_read(file: &File) -> Result<Nowait, String> {
    let ring = native_ring()?;
    let fd = file.try_clone().map_err(|e| e.to_string())?;
    rustix::fs::fadvise(&fd, 0, None, rustix::fs::Advice::DontNeed).map_err(|e| e.to_string())?;
    let op = Op::read(fd, Vec::with_capacity(READ_BYTES), 0).rw_flags(RwFlags::NOWAIT);
    ring.push(op).map_err(|e| e.to_string())?;
    let done = ring
        .wait(1, 1, Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let c = done
        .into_iter()
        .next()
        .ok_or("the read did not complete in 10 s")?;
    Ok(match c.result {
        Ok(n) => Nowait {
            supported: true,
            result: format!("{n} bytes: served without blocking"),
        },
        Err(e) => match e.raw_os_error().map(Errno) {
            Some(Errno::AGAIN) => Nowait {
                supported: true,
                result: "EAGAIN: refused instead of blocking on a cold page".into(),
            },
            Some(Errno::OPNOTSUPP) | Some(Errno::INVAL) => Nowait {
                supported: false,
                result: format!("{e}"),
            },
            _ => return Err(format!("the read failed: {e}")),
        },
    })
}

fn measure<T>(f: impl FnOnce() -> Result<T, String>) -> Measured<T> {
    match f() {
        Ok(v) => Measured::Done(v),
        Err(why) => Measured::Skipped(why),
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "directory"
    } else if meta.file_type().is_block_device() {
        "block device"
    } else if meta.is_file() {
        "file"
    } else {
        "other"
    }
}

/// An error in words, without the path of the scratch file that `tempfile` adds.
fn bare(e: &io::Error) -> String {
    e.raw_os_error().map_or_else(
        || e.kind().to_string(),
        |code| io::Error::from_raw_os_error(code).to_string(),
    )
}

/// The report for a path on one of the kernel's own file systems (`/proc`, `/sys`): no
/// regular files there, so nothing about O_DIRECT or alignment applies and nothing is
/// measured.
fn kernel_fs_report(path: &Path, kind: &'static str, fs: &'static str) -> PathReport {
    let why = format!("{fs} holds no regular files");
    PathReport {
        path: path.display().to_string(),
        kind,
        fs_type: Some(fs.to_string()),
        regular_files: false,
        o_direct: Some(false),
        o_direct_error: None,
        alignment: None,
        block_device: None,
        logical_block_size: None,
        physical_block_size: None,
        native_buffered_read: Measured::Skipped(why.clone()),
        rwf_nowait: Measured::Skipped(why),
    }
}

fn path_report(path: &Path) -> Result<PathReport> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("PATH {} cannot be examined", path.display()))?;
    let kind = kind_of(&meta);
    let opened = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if let Some(fs) = crate::kernelfs::of(&opened) {
        return Ok(kernel_fs_report(path, kind, fs));
    }
    let dir = if meta.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    // A scratch file for the measurements, which also answers for the directory's files.
    let scratch = if kind == "block device" {
        Err("PATH is a block device: measured on files only".to_string())
    } else {
        cold_scratch(&dir)
            .map_err(|e| format!("cannot write a file in {}: {}", dir.display(), bare(&e)))
    };
    let subject: PathBuf = match (&scratch, kind) {
        (Ok(t), "directory") => t.path().to_path_buf(),
        _ => path.to_path_buf(),
    };
    let file = File::open(&subject)
        .map_err(|e| anyhow::anyhow!("cannot open a file in {}: {}", dir.display(), bare(&e)))?;
    let report = Alignment::discover(&file)
        .map_err(|e| anyhow::anyhow!("cannot examine {}: {}", path.display(), bare(&e)))?;
    let (o_direct, o_direct_error) = match align::direct_io_supported(&subject) {
        Ok(b) => (Some(b), None),
        Err(e) => (report.direct_io, Some(bare(&e))),
    };
    let dev = report.block_device;
    let scratch_file = scratch.and_then(|t| t.reopen().map(|f| (t, f)).map_err(|e| bare(&e)));
    let (native_buffered_read, rwf_nowait) = match &scratch_file {
        Ok((_, f)) => (measure(|| blocking_read(f)), measure(|| nowait_read(f))),
        Err(why) => (
            Measured::Skipped(why.clone()),
            Measured::Skipped(why.clone()),
        ),
    };
    Ok(PathReport {
        path: path.display().to_string(),
        kind,
        fs_type: report.fs_type.map(|t| t.to_string()),
        regular_files: true,
        o_direct,
        o_direct_error,
        // Only where O_DIRECT works is there an alignment to speak of.
        alignment: (o_direct == Some(true)).then(|| AlignmentInfo {
            mem: report.alignment.mem(),
            offset: report.alignment.offset(),
            source: report.source.to_string(),
        }),
        block_device: dev.map(|d| format!("{}:{}", d.major, d.minor)),
        logical_block_size: dev.map(|d| d.logical_block_size),
        physical_block_size: dev.and_then(|d| d.physical_block_size),
        native_buffered_read,
        rwf_nowait,
    })
}

fn engine() -> Engine {
    match crate::engine::default_engine() {
        Ok(d) => Engine {
            choice: d.kind.name(),
            reason: d.reason,
        },
        // An AIOLOS_ENGINE that names no engine: rings would refuse to start; say why.
        Err(e) => Engine {
            choice: "none",
            reason: e.to_string(),
        },
    }
}

/// Gathers the whole report.
///
/// # Errors
/// When PATH cannot be examined at all (missing, unreadable).
pub fn gather(path: &Path) -> Result<Report> {
    Ok(Report {
        kernel: kernel(),
        io_uring: uring(),
        kernel_aio: kernel_aio(),
        path: path_report(path)?,
        engine: engine(),
    })
}

/// Runs `aiolos probe`.
///
/// # Errors
/// When PATH cannot be examined, or the output cannot be written.
pub fn run(args: ProbeArgs) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    if let Some(program) = crate::program::inspect(&args.path)? {
        if args.json {
            serde_json::to_writer_pretty(&mut out, &program)?;
            writeln!(out)?;
        } else {
            crate::program::text(&program, &mut out)?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::interrupt::catch().context("cannot install the Ctrl-C handler")?;
    let report = gather(&args.path)?;
    // The measurements take moments; Ctrl-C waits for them, so the scratch file is gone.
    crate::interrupt::check(|| "probe interrupted; its scratch file was removed".into())?;
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        text::render(&report, &mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
