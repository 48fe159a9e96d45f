//! The free functions of `tokio::fs` (`read`, `write`, `metadata`, `rename`, ...), each a
//! request on the driver's ring: an io_uring opcode where the kernel has it, else the
//! pool; never a blocking call on the caller's thread.
//!
//! # Safety
//!
//! [`adopt`] turns the result of an `openat` request into an `OwnedFd`: the ring hands an
//! `openat` completion to exactly one taker, so the descriptor is owned by nobody else.
#![allow(unsafe_code)]

use super::driver::Driver;
use super::erased::ErasedBuf;
use super::meta::Metadata;
use super::pool;
use super::request::Raw;
use super::File;
use crate::buf::BufResult;
use crate::op::{Fd, Op};
use crate::sys::path::{self as sp, oflags};
use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// An error that names what was done and to which path; its kind is the cause's kind, and
/// [`std::error::Error::source`] is the cause (with its OS error number).
#[derive(Debug)]
pub struct PathError {
    op: &'static str,
    /// The path, or (for a file opened without one) its descriptor.
    path: Result<PathBuf, RawFd>,
    /// What the cause means here, when it is not plain.
    hint: Option<&'static str>,
    source: io::Error,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Ok(p) => write!(f, "{} {}: {}", self.op, p.display(), self.source)?,
            Err(fd) => write!(f, "{} of descriptor {fd}: {}", self.op, self.source)?,
        }
        match self.hint {
            Some(h) => write!(f, ": {h}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl PathError {
    /// The OS error number of the cause, if it had one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }

    /// The error of a request on an open file: its path if known, else its descriptor.
    pub(crate) fn of_file(
        op: &'static str,
        path: Option<&Path>,
        fd: RawFd,
        hint: Option<&'static str>,
        source: io::Error,
    ) -> PathError {
        PathError {
            op,
            path: path.map(Path::to_path_buf).ok_or(fd),
            hint,
            source,
        }
    }
}

/// `e`, naming the operation and the path (the kind stays `e`'s).
pub(crate) fn context(e: io::Error, op: &'static str, path: &Path) -> io::Error {
    // Already explained (an O_DIRECT refusal, a nested call): keep it.
    if e.get_ref().is_some_and(|r| r.is::<PathError>()) {
        return e;
    }
    io::Error::new(
        e.kind(),
        PathError {
            op,
            path: Ok(path.to_path_buf()),
            hint: None,
            source: e,
        },
    )
}

/// The path as the kernel takes it.
pub(crate) fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contained an unexpected NUL byte",
        )
    })
}

/// Runs one request on `driver`'s ring; its raw result.
pub(crate) async fn run(driver: &Driver, op: Op<ErasedBuf>) -> (io::Result<usize>, Vec<ErasedBuf>) {
    Raw::new(super::request::Request::new(driver.shared(), op)).await
}

/// Runs a request that transfers nothing.
pub(crate) async fn unit(driver: &Driver, op: Op<ErasedBuf>) -> io::Result<()> {
    run(driver, op).await.0.map(|_| ())
}

/// The descriptor an `openat` request returned.
fn adopt(n: usize) -> OwnedFd {
    // SAFETY: `n` is the result of an openat request whose completion this caller took:
    // a new descriptor that nothing else owns (see the module's Safety section).
    unsafe { OwnedFd::from_raw_fd(n as RawFd) }
}

/// Opens `path` with `O_*` flags (`O_CLOEXEC` is added) on `driver`'s ring.
pub(crate) async fn open_fd(
    driver: &Driver,
    path: &Path,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    let op = Op::openat(None, c, flags | oflags::CLOEXEC, mode);
    let (r, _) = run(driver, op).await;
    r.map(adopt)
}

/// `statx` of `path` relative to `dir` (or of `dir` itself with an empty path).
pub(crate) async fn statx(
    driver: &Driver,
    dir: Option<Fd>,
    path: CString,
    flags: i32,
) -> io::Result<Metadata> {
    let buf = ErasedBuf::writable(Vec::<u8>::with_capacity(sp::STATX_SIZE), 0);
    let op = Op::statx(
        dir,
        path,
        flags | sp::AT_STATX_SYNC_AS_STAT,
        sp::STATX_ALL,
        buf,
    );
    let (r, mut bufs) = run(driver, op).await;
    r?;
    let buf: Vec<u8> = match bufs.pop() {
        Some(b) => b.into_writable(),
        None => return Err(io::Error::other("statx returned no buffer")),
    };
    sp::parse_statx(&buf)
        .map(Metadata::from_statx)
        .ok_or_else(|| io::Error::other("statx filled too few bytes"))
}

fn driver() -> io::Result<Driver> {
    Driver::default_driver()
}

/// Reads a whole file into a `Vec` (as `tokio::fs::read`).
///
/// # Errors
/// Opening or reading the file fails; the error names the path.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    let file = File::open(path).await?;
    file.read_to_end_at(0)
        .await
        .map_err(|e| context(e, "read", path))
}

/// Reads a whole file into a `String` (as `tokio::fs::read_to_string`).
///
/// # Errors
/// As [`read`], or [`io::ErrorKind::InvalidData`] if it is not UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Creates (or truncates) a file and writes all of `contents` to it (as
/// `tokio::fs::write`).
///
/// # Errors
/// Creating or writing the file fails; the error names the path.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref();
    let data = contents.as_ref().to_vec();
    let file = File::create(path).await?;
    let BufResult(r, _) = file.write_all_at(data, 0).await;
    r.map_err(|e| context(e, "write", path))
}

/// Creates a directory (as `tokio::fs::create_dir`).
///
/// # Errors
/// The kernel's error (`AlreadyExists`, `NotFound` for a missing parent, ...), naming the
/// path.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    mkdir(&driver()?, path, 0o777)
        .await
        .map_err(|e| context(e, "create_dir", path))
}

pub(crate) async fn mkdir(driver: &Driver, path: &Path, mode: u32) -> io::Result<()> {
    unit(driver, Op::mkdirat(None, cpath(path)?, mode)).await
}

/// Creates a directory and every missing parent (as `tokio::fs::create_dir_all`).
///
/// # Errors
/// As [`create_dir`], except that an existing directory is not an error.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    mkdir_all(&driver()?, path, 0o777)
        .await
        .map_err(|e| context(e, "create_dir_all", path))
}

pub(crate) async fn mkdir_all(driver: &Driver, path: &Path, mode: u32) -> io::Result<()> {
    // Walk up to the first ancestor that exists, then create downwards (as std does).
    let mut missing = Vec::new();
    let mut p = path;
    loop {
        if p.as_os_str().is_empty() {
            break;
        }
        match mkdir(driver, p, mode).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match p.parent() {
                Some(parent) => {
                    missing.push(p);
                    p = parent;
                }
                None => return Err(e),
            },
            Err(e) => {
                if is_dir(driver, p).await {
                    break;
                }
                return Err(e);
            }
        }
    }
    while let Some(p) = missing.pop() {
        match mkdir(driver, p, mode).await {
            Ok(()) => {}
            Err(e) if is_dir(driver, p).await => drop(e),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn is_dir(driver: &Driver, path: &Path) -> bool {
    match cpath(path) {
        Ok(c) => statx(driver, None, c, 0).await.is_ok_and(|m| m.is_dir()),
        Err(_) => false,
    }
}

/// Removes a file (as `tokio::fs::remove_file`).
///
/// # Errors
/// The kernel's error, naming the path.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let op = Op::unlinkat(None, cpath(path)?, 0);
    unit(&driver()?, op)
        .await
        .map_err(|e| context(e, "remove_file", path))
}

/// Removes an empty directory (as `tokio::fs::remove_dir`).
///
/// # Errors
/// The kernel's error, naming the path.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let op = Op::unlinkat(None, cpath(path)?, sp::AT_REMOVEDIR);
    unit(&driver()?, op)
        .await
        .map_err(|e| context(e, "remove_dir", path))
}

/// Removes a directory and everything in it (as `tokio::fs::remove_dir_all`), on the
/// pool with std's implementation (which guards against symlink races).
///
/// # Errors
/// The first error, naming the path.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_path_buf();
    let p = path.clone();
    pool::run(move || std::fs::remove_dir_all(p))
        .await
        .map_err(|e| context(e, "remove_dir_all", &path))
}

/// Renames a file or directory (as `tokio::fs::rename`).
///
/// # Errors
/// The kernel's error, naming the source path.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    let op = Op::renameat(None, cpath(from)?, cpath(to)?, 0);
    unit(&driver()?, op)
        .await
        .map_err(|e| context(e, "rename", from))
}

/// Metadata of a path, following symbolic links (as `tokio::fs::metadata`).
///
/// # Errors
/// The kernel's error, naming the path.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    statx(&driver()?, None, cpath(path)?, 0)
        .await
        .map_err(|e| context(e, "metadata", path))
}

/// Metadata of a path, not following a final symbolic link (as
/// `tokio::fs::symlink_metadata`).
///
/// # Errors
/// The kernel's error, naming the path.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    statx(&driver()?, None, cpath(path)?, sp::AT_SYMLINK_NOFOLLOW)
        .await
        .map_err(|e| context(e, "symlink_metadata", path))
}

/// Makes `link` a hard link to `original` (as `tokio::fs::hard_link`).
///
/// # Errors
/// The kernel's error, naming `link`.
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let op = Op::linkat(None, cpath(original)?, cpath(link)?, 0);
    unit(&driver()?, op)
        .await
        .map_err(|e| context(e, "hard_link", link))
}

/// Makes `link` a symbolic link to `original` (as `tokio::fs::symlink`).
///
/// # Errors
/// The kernel's error, naming `link`.
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let op = Op::symlinkat(None, cpath(original)?, cpath(link)?);
    unit(&driver()?, op)
        .await
        .map_err(|e| context(e, "symlink", link))
}

/// What a symbolic link points to (as `tokio::fs::read_link`), read on the pool.
///
/// # Errors
/// The kernel's error (`InvalidInput` for a path that is not a link), naming the path.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    let p = path.clone();
    pool::run(move || std::fs::read_link(p))
        .await
        .map_err(|e| context(e, "read_link", &path))
}

/// The absolute path with every link resolved (as `tokio::fs::canonicalize`), on the
/// pool.
///
/// # Errors
/// The kernel's error, naming the path.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    let p = path.clone();
    pool::run(move || std::fs::canonicalize(p))
        .await
        .map_err(|e| context(e, "canonicalize", &path))
}

/// Sets a path's permissions (as `tokio::fs::set_permissions`), on the pool.
///
/// # Errors
/// The kernel's error, naming the path.
pub async fn set_permissions(path: impl AsRef<Path>, perm: std::fs::Permissions) -> io::Result<()> {
    let path = path.as_ref().to_path_buf();
    let p = path.clone();
    pool::run(move || std::fs::set_permissions(p, perm))
        .await
        .map_err(|e| context(e, "set_permissions", &path))
}

/// Whether a path exists (as `tokio::fs::try_exists`): `Ok(false)` only when it is
/// missing (a broken symbolic link counts as missing).
///
/// # Errors
/// Any other error (`PermissionDenied` on a directory that cannot be searched, ...).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    match metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Copies a file's contents and permissions to another, creating or truncating it (as
/// `tokio::fs::copy`); returns the bytes copied. The copy is made in the kernel with
/// `copy_file_range` (a reflink where the file system can) on aiolos's pool; where the
/// file systems refuse it, with reads and writes on the ring, two in flight.
///
/// # Errors
/// `InvalidInput` when the source is not a regular file; the kernel's error, naming the
/// path.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    let d = driver()?;
    let src = File::options().read(true).driver(&d).open(from).await?;
    let meta = src.metadata().await.map_err(|e| context(e, "copy", from))?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the source path is neither a regular file nor a symlink to a regular file",
        ));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
    let dst = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .driver(&d)
        .open(to)
        .await?;
    dst.set_permissions(meta.permissions())
        .await
        .map_err(|e| context(e, "copy", to))?;
    copy_data(&src, &dst, meta.len())
        .await
        .map_err(|e| context(e, "copy", to))
}

/// Copies `src` to `dst` from offset 0: in the kernel where it can, else through buffers.
async fn copy_data(src: &File, dst: &File, len: u64) -> io::Result<u64> {
    let (i, o) = (src.fd().clone(), dst.fd().clone());
    let offloaded = pool::run(move || {
        let mut done = 0u64;
        loop {
            let (mut off_in, mut off_out) = (done, done);
            let r =
                rustix::fs::copy_file_range(&i, Some(&mut off_in), &o, Some(&mut off_out), 1 << 30);
            match r {
                // Nothing at all: an empty file, or one whose size the kernel does not know
                // (procfs, sysfs: 0) and that it will not copy itself. Reads tell which (as
                // std's `fs::copy` does).
                Ok(0) if done == 0 => return Ok(None),
                Ok(0) => return Ok(Some(done)),
                Ok(n) => done += n as u64,
                Err(rustix::io::Errno::INTR) => {}
                // Nothing copied yet: the caller copies with reads and writes.
                Err(e) if done == 0 && in_kernel_copy_refused(e) => return Ok(None),
                Err(e) => return Err(io::Error::from(e)),
            }
        }
    })
    .await?;
    if let Some(n) = offloaded {
        return Ok(n);
    }
    pipelined_copy(src, dst, len).await
}

/// What `copy_file_range` says when the file systems (or a sandbox) cannot copy in the
/// kernel, as std's `fs::copy` reads it: then reads and writes do the copy.
fn in_kernel_copy_refused(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno as E;
    [E::NOSYS, E::OPNOTSUPP, E::INVAL, E::XDEV, E::PERM].contains(&e)
}

/// Reads and writes in 1 MiB chunks, the next read in flight while a write is.
async fn pipelined_copy(src: &File, dst: &File, _len: u64) -> io::Result<u64> {
    const CHUNK: usize = 1 << 20;
    let mut pos = 0u64;
    let BufResult(r, mut buf) = src.read_at(Vec::with_capacity(CHUNK), 0).await;
    let mut n = r?;
    while n > 0 {
        let read = src.read_at(Vec::with_capacity(CHUNK), pos + n as u64);
        let write = dst.write_all_at(buf, pos);
        let (BufResult(w, _), BufResult(r, next)) = join(write, read).await;
        w?;
        pos += n as u64;
        n = r?;
        buf = next;
    }
    Ok(pos)
}

/// Polls both futures until both are done.
pub(crate) async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => std::task::Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                std::task::Poll::Pending
            }
        }
    })
    .await
}
