//! Directories: [`read_dir`] with [`ReadDir`] and [`DirEntry`], and [`DirBuilder`] (as
//! tokio's). Listing a directory has no io_uring operation, so entries are read in
//! batches on aiolos's blocking pool (`pool.rs`), never on the caller's thread; an entry's
//! metadata is a `statx` request on the ring.

use super::driver::Driver;
use super::meta::{FileType, Metadata};
use super::path::{context, cpath, mkdir, mkdir_all, statx};
use super::pool;
use crate::sys::path::AT_SYMLINK_NOFOLLOW;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Entries read per trip to the pool (as tokio).
const CHUNK: usize = 32;

type Batch = (Option<std::fs::ReadDir>, VecDeque<io::Result<DirEntry>>);
type Pending = Pin<Box<dyn Future<Output = io::Result<Batch>> + Send>>;

/// The entries of a directory (as `tokio::fs::ReadDir`).
#[must_use = "a ReadDir does nothing unless its entries are asked for"]
pub struct ReadDir {
    driver: Driver,
    dir: Option<std::fs::ReadDir>,
    ready: VecDeque<io::Result<DirEntry>>,
    pending: Option<Pending>,
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir").finish_non_exhaustive()
    }
}

/// Lists a directory (as `tokio::fs::read_dir`).
///
/// # Errors
/// The kernel's error (`NotFound`, `NotADirectory`, `PermissionDenied`), naming the path.
///
/// # Examples
/// ```
/// # aiolos::fs::Driver::global()?.block_on(async {
/// let mut entries = aiolos::fs::read_dir("/").await?;
/// let mut n = 0;
/// while let Some(e) = entries.next_entry().await? {
///     assert!(e.path().starts_with("/"));
///     n += 1;
/// }
/// assert!(n > 0);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_path_buf();
    let driver = Driver::default_driver()?;
    let p = path.clone();
    let d = driver.clone();
    let (dir, ready) = pool::run(move || {
        let dir = std::fs::read_dir(p)?;
        Ok(next_batch(dir, &d))
    })
    .await
    .map_err(|e| context(e, "read_dir", &path))?;
    Ok(ReadDir {
        driver,
        dir,
        ready,
        pending: None,
    })
}

/// Reads up to [`CHUNK`] entries (on a pool thread); `None` for the directory at its end.
fn next_batch(mut dir: std::fs::ReadDir, driver: &Driver) -> Batch {
    let mut out = VecDeque::with_capacity(CHUNK);
    for _ in 0..CHUNK {
        match dir.next() {
            Some(Ok(e)) => {
                // d_type where the file system gives it, else an lstat: here, on the pool.
                let file_type = e.file_type().map(FileType::from);
                out.push_back(Ok(DirEntry {
                    inner: Arc::new(Inner {
                        path: e.path(),
                        name: e.file_name(),
                        ino: std::os::unix::fs::DirEntryExt::ino(&e),
                        file_type,
                    }),
                    driver: driver.clone(),
                }));
            }
            Some(Err(e)) => out.push_back(Err(e)),
            None => return (None, out),
        }
    }
    (Some(dir), out)
}

impl ReadDir {
    /// The next entry, or `None` at the end (as `tokio::fs::ReadDir::next_entry`).
    ///
    /// # Errors
    /// An error reading the directory.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry (as `tokio::fs::ReadDir::poll_next_entry`).
    ///
    /// # Errors
    /// An error reading the directory.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Poll::Ready(e.map(Some));
            }
            if let Some(p) = self.pending.as_mut() {
                let r = match p.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                };
                self.pending = None;
                let (dir, ready) = r?;
                self.dir = dir;
                self.ready = ready;
                continue;
            }
            let Some(dir) = self.dir.take() else {
                return Poll::Ready(Ok(None));
            };
            let d = self.driver.clone();
            self.pending = Some(Box::pin(async move {
                pool::run(move || Ok(next_batch(dir, &d))).await
            }));
        }
    }
}

struct Inner {
    path: PathBuf,
    name: OsString,
    ino: u64,
    file_type: io::Result<FileType>,
}

/// An entry of a directory (as `tokio::fs::DirEntry`).
#[derive(Clone)]
pub struct DirEntry {
    inner: Arc<Inner>,
    driver: Driver,
}

impl std::fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DirEntry").field(&self.inner.path).finish()
    }
}

impl DirEntry {
    /// The directory's path joined with the entry's name.
    pub fn path(&self) -> PathBuf {
        self.inner.path.clone()
    }

    /// The entry's name.
    pub fn file_name(&self) -> OsString {
        self.inner.name.clone()
    }

    /// The entry's inode number (from the directory, no system call).
    pub fn ino(&self) -> u64 {
        self.inner.ino
    }

    /// The entry's type, not following symbolic links (read with the entry).
    ///
    /// # Errors
    /// When the type could not be read.
    pub async fn file_type(&self) -> io::Result<FileType> {
        match &self.inner.file_type {
            Ok(t) => Ok(*t),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }

    /// The entry's metadata, not following symbolic links (as std's and tokio's).
    ///
    /// # Errors
    /// The kernel's error (`NotFound` if the entry was removed since), naming the path.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let path = &self.inner.path;
        statx(&self.driver, None, cpath(path)?, AT_SYMLINK_NOFOLLOW)
            .await
            .map_err(|e| context(e, "metadata", path))
    }
}

/// Creates directories (as `tokio::fs::DirBuilder`).
#[derive(Clone, Debug)]
pub struct DirBuilder {
    recursive: bool,
    mode: u32,
}

impl Default for DirBuilder {
    fn default() -> DirBuilder {
        DirBuilder::new()
    }
}

impl DirBuilder {
    /// Not recursive, mode `0o777`.
    pub fn new() -> DirBuilder {
        DirBuilder {
            recursive: false,
            mode: 0o777,
        }
    }

    /// Creates missing parents too, and accepts an existing directory.
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// The permission bits of the directories created (before the umask).
    pub fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = mode;
        self
    }

    /// Creates the directory.
    ///
    /// # Errors
    /// As [`create_dir`](super::create_dir) or [`create_dir_all`](super::create_dir_all).
    pub async fn create(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let driver = Driver::default_driver()?;
        let r = if self.recursive {
            mkdir_all(&driver, path, self.mode).await
        } else {
            mkdir(&driver, path, self.mode).await
        };
        r.map_err(|e| context(e, "create_dir", path))
    }
}
