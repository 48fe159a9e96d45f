//! The checks before a copy: what SRC is, where DST goes, and how SRC can be read.
//!
//! A regular file on a disk file system is copied by offset with many requests in flight.
//! Anything whose size cannot be trusted is read from start to end of file instead, as `cp`
//! does: pipes (FIFOs), character and block devices, and files of the kernel's own file
//! systems (`/proc`, `/sys`, debugfs, cgroup, ...), which report a size of 0 or of one page
//! whatever they hold. A directory or a socket is refused.

use super::CpArgs;
use anyhow::{bail, Context, Result};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

/// How SRC is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A regular file whose size is its length: copied by offset, `size` bytes.
    Sized {
        /// Bytes to copy.
        size: u64,
    },
    /// Read sequentially until end of file; the reason is shown with `-v`.
    Stream {
        /// What SRC is: "a pipe", "a character device", ..., or the name of the kernel
        /// file system it is a file of ("proc", "sysfs").
        what: &'static str,
    },
}

/// Where the copy goes, after the checks.
pub struct Plan {
    pub src: PathBuf,
    pub dst: PathBuf,
    /// DST's directory, where the temporary copy is made.
    pub dir: PathBuf,
    pub source: Source,
    /// SRC's permission bits, given to the copy.
    pub mode: u32,
}

impl Plan {
    /// The bytes to copy, when known before reading.
    pub fn size(&self) -> Option<u64> {
        match self.source {
            Source::Sized { size } => Some(size),
            Source::Stream { .. } => None,
        }
    }
}

/// How a regular file is read: by offset, or to end of file where its size says nothing.
fn regular_source(src: &PathBuf, meta: &Metadata) -> Result<Source> {
    let file = File::open(src).with_context(|| format!("cannot open SRC {}", src.display()))?;
    if let Some(fs) = crate::kernelfs::of(&file) {
        return Ok(Source::Stream { what: fs });
    }
    if meta.len() == 0 {
        // An empty file, or one whose length the kernel does not know: reading tells.
        return Ok(Source::Stream {
            what: "a file of size 0",
        });
    }
    Ok(Source::Sized { size: meta.len() })
}

fn source(args: &CpArgs, meta: &Metadata) -> Result<Source> {
    let ft = meta.file_type();
    if ft.is_file() {
        regular_source(&args.src, meta)
    } else if ft.is_fifo() {
        Ok(Source::Stream { what: "a pipe" })
    } else if ft.is_char_device() {
        Ok(Source::Stream {
            what: "a character device",
        })
    } else if ft.is_block_device() {
        Ok(Source::Stream {
            what: "a block device",
        })
    } else if ft.is_dir() {
        bail!(
            "SRC {} is a directory (aiolos cp copies one file)",
            args.src.display()
        )
    } else {
        bail!(
            "SRC {} is a socket or another kind of file that cannot be read",
            args.src.display()
        )
    }
}

/// Checks SRC and DST and says how to copy.
///
/// # Errors
/// A missing SRC, a directory or socket as SRC, a DST that is SRC, a directory, or exists
/// without `--force`, a DST directory that does not exist.
pub fn plan(args: &CpArgs) -> Result<Plan> {
    let src_meta = std::fs::metadata(&args.src).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!("SRC {} does not exist", args.src.display()),
        _ => anyhow::Error::new(e).context(format!("cannot access SRC {}", args.src.display())),
    })?;
    let source = source(args, &src_meta)?;
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
    let mode = if src_meta.is_file() {
        src_meta.permissions().mode() & 0o7777
    } else {
        // A device's or a pipe's mode says who may open it, not what its copy should be.
        0o644
    };
    Ok(Plan {
        src: args.src.clone(),
        dst,
        dir,
        source,
        mode,
    })
}
