//! The file the bench runs on: a temporary file it creates, fills and removes, or a file
//! or block device the user names. Opens it (O_DIRECT or buffered), learns the O_DIRECT
//! alignment, and refuses what cannot work or would destroy data by surprise.

use super::args::BenchArgs;
use super::stamp;
use aiolos::Fd;
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Size of the temporary file when `--size` is not given.
pub const DEFAULT_SIZE: u64 = 1 << 30;
/// Chunk size used to fill a new file.
const FILL_CHUNK: usize = 8 << 20;

/// The open file the jobs share.
pub struct Target {
    /// Where it is.
    pub path: PathBuf,
    /// The descriptor, shared by every request.
    pub fd: Fd,
    /// Bytes in use.
    pub size: u64,
    /// Whether it is a block device.
    pub block_device: bool,
    /// Whether the bench created it (and fills/removes it).
    pub temporary: bool,
    /// O_DIRECT alignment of offsets and lengths in bytes (1 when buffered).
    pub align: u64,
    /// Seconds spent creating and filling the file.
    pub fill_s: f64,
    // Removes the temporary file when the target is dropped (also after Ctrl-C).
    _temp: Option<tempfile::TempPath>,
}

fn open(path: &Path, write: bool, direct: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(write);
    if direct {
        o.custom_flags(aiolos::sys::O_DIRECT);
    }
    o.open(path).map_err(|e| {
        if direct && e.raw_os_error() == Some(aiolos::sys::Errno::INVAL.0) {
            anyhow::anyhow!(
                "O_DIRECT is not supported by the file system holding {} (open with O_DIRECT \
                 failed: {e}); run with --buffered, or put the file on a file system that \
                 supports direct I/O (ext4, xfs, btrfs)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot open {}", path.display()))
        }
    })
}

fn interrupted_while_filling() -> Result<(), crate::interrupt::Interrupted> {
    crate::interrupt::check(|| {
        "bench interrupted while filling the file; the file it was creating was removed".into()
    })
}

/// Writes stamped data over `[0, size)` with large writes, flushes it and drops it from
/// the page cache so the run starts cold.
fn fill(file: &File, size: u64) -> Result<()> {
    let mut chunk = vec![0u8; FILL_CHUNK];
    let mut off = 0;
    while off < size {
        let n = (size - off).min(FILL_CHUNK as u64) as usize;
        let n_sectors = n / stamp::SECTOR * stamp::SECTOR;
        stamp::stamp(&mut chunk[..n_sectors], off, 0);
        file.write_all_at(&chunk[..n], off)
            .with_context(|| format!("filling the file at offset {off}"))?;
        off += n as u64;
        interrupted_while_filling()?;
    }
    file.sync_data().context("flushing the filled file")?;
    interrupted_while_filling()?;
    let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
    Ok(())
}

fn temp_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(t) = std::env::var_os("TMPDIR") {
        v.push(PathBuf::from(t));
    }
    v.push(PathBuf::from("/var/tmp"));
    if let Ok(d) = std::env::current_dir() {
        v.push(d);
    }
    v
}

/// Creates the temporary file in the first directory whose file system takes O_DIRECT
/// (when asked for), fills it and opens it.
fn temporary(
    args: &BenchArgs,
    size: u64,
    check: &dyn Fn(u64, &Path) -> Result<()>,
) -> Result<(tempfile::TempPath, File, u64, f64)> {
    let mut why = Vec::new();
    for dir in temp_dirs() {
        let tmp = match tempfile::Builder::new()
            .prefix(".aiolos-bench-")
            .tempfile_in(&dir)
        {
            Ok(t) => t,
            Err(e) => {
                why.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let path = tmp.into_temp_path();
        let io = match open(&path, true, args.direct()) {
            Ok(f) => f,
            Err(e) => {
                why.push(format!("{}: {e:#}", dir.display()));
                continue;
            }
        };
        let start = std::time::Instant::now();
        let plain = OpenOptions::new().write(true).open(&path)?;
        plain.set_len(size).with_context(|| {
            format!(
                "cannot size the temporary file in {} to {size} bytes",
                dir.display()
            )
        })?;
        // Probe and check on the still-sparse file: a bad --bs fails before 1 GiB is written.
        let align = alignment(args, &io)?;
        check(align, &dir)?;
        fill(&plain, size)?;
        return Ok((path, io, align, start.elapsed().as_secs_f64()));
    }
    bail!(
        "found no directory for the temporary file{}: {}",
        if args.direct() {
            " that supports O_DIRECT (try --buffered or --file)"
        } else {
            ""
        },
        why.join("; ")
    )
}

/// The O_DIRECT alignment of offsets and lengths, from `aiolos::align` (statx DIOALIGN,
/// then the block device's logical block size, then 512).
fn probe_alignment(file: &File) -> Result<u64> {
    let a = aiolos::align::Alignment::of(file).context("finding the O_DIRECT alignment")?;
    Ok(a.offset() as u64)
}

fn alignment(args: &BenchArgs, file: &File) -> Result<u64> {
    if args.direct() {
        probe_alignment(file)
    } else {
        Ok(1)
    }
}

/// Opens (creating and filling if needed) the file the bench runs on. `check` sees the
/// O_DIRECT alignment (1 when buffered) before any data is written.
pub fn prepare(args: &BenchArgs, check: impl Fn(u64, &Path) -> Result<()>) -> Result<Target> {
    let writes = args.rw.writes();
    let Some(path) = args.file.clone() else {
        let size = args.size.unwrap_or(DEFAULT_SIZE);
        let (temp, file, align, fill_s) = temporary(args, size, &check)?;
        return Ok(Target {
            path: temp.to_path_buf(),
            fd: Fd::from(file),
            size,
            block_device: false,
            temporary: true,
            align,
            fill_s,
            _temp: Some(temp),
        });
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
    };
    let block_device = meta
        .as_ref()
        .is_some_and(|m| m.file_type().is_block_device());
    if block_device && writes && !args.force {
        bail!(
            "refusing to write to the block device {}: --rw {} would destroy its contents; \
             pass --force if that is what you want",
            path.display(),
            args.rw.name()
        );
    }
    if let Some(m) = &meta {
        let mut f = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let have = f
            .seek(SeekFrom::End(0))
            .with_context(|| format!("cannot find the size of {}", path.display()))?;
        let size = args.size.unwrap_or(have);
        if size > have || (size == 0 && m.is_file()) {
            bail!(
                "{} is too small: it has {have} bytes, the bench needs {}; use a smaller \
                 --size, or a new path (the bench creates and fills it)",
                path.display(),
                size.max(args.bs.max)
            );
        }
        if writes && m.is_file() && !args.force && !stamp::is_bench_file(&f) {
            bail!(
                "refusing to write to {}: it was not created by aiolos bench (its first \
                 sector has no bench stamp), and --rw {} would overwrite its contents; pass \
                 --force if that is what you want, or name a new path (the bench creates it)",
                path.display(),
                args.rw.name()
            );
        }
        let file = open(&path, writes, args.direct())?;
        let align = alignment(args, &file)?;
        check(align, &path)?;
        return Ok(Target {
            path,
            fd: Fd::from(file),
            size,
            block_device,
            temporary: false,
            align,
            fill_s: 0.0,
            _temp: None,
        });
    }
    // A new file: create it, check, fill; remove it again if that fails.
    let size = args.size.unwrap_or(DEFAULT_SIZE);
    let start = std::time::Instant::now();
    let plain = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let made = (|| {
        plain
            .set_len(size)
            .with_context(|| format!("cannot size {} to {size} bytes", path.display()))?;
        let file = open(&path, writes, args.direct())?;
        let align = alignment(args, &file)?;
        check(align, &path)?;
        fill(&plain, size)?;
        Ok((file, align))
    })();
    let (file, align) = match made {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    let fill_s = start.elapsed().as_secs_f64();
    Ok(Target {
        path,
        fd: Fd::from(file),
        size,
        block_device,
        temporary: false,
        align,
        fill_s,
        _temp: None,
    })
}
