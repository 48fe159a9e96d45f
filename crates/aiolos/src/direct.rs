//! [`DirectFile`]: a file opened with O_DIRECT that knows its alignment and reads and
//! writes at any offset and length, for code without an async runtime.
//!
//! A thin blocking wrapper over the async [`fs::DirectFile`](crate::fs::DirectFile),
//! which holds the whole logic (alignment discovery, aligned buffer pool, block-range
//! locks, read-modify-write of partial blocks, trimming after writes past the end): each
//! call runs the async one to completion on the calling thread with
//! [`Driver::block_on`](crate::fs::Driver::block_on). Requests run on the process's
//! [global driver](crate::fs::Driver::global) (or on a driver of the file's own with
//! [`DirectFile::with_ring`]). Several threads may use one `DirectFile` at once.

use crate::align::Alignment;
use crate::buf::aligned::AlignedBuf;
use crate::buf::BufResult;
use crate::fs::{self, Driver};
use crate::ring::RingBuilder;
use crate::sys;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A file opened with O_DIRECT: its alignment, aligned buffers for it, and `read_at` /
/// `write_at` for any offset and length.
///
/// # Examples
/// ```
/// use aiolos::DirectFile;
/// let dir = tempfile::tempdir()?;
/// let file = match DirectFile::create(dir.path().join("data")) {
///     Ok(f) => f,
///     Err(e) => { eprintln!("SKIP: {e}"); return Ok(()) } // no O_DIRECT here
/// };
/// file.write_at(b"hello, direct I/O", 1000)?; // unaligned: read-modify-write
/// let mut back = [0u8; 17];
/// assert_eq!(file.read_at(&mut back, 1000)?, 17);
/// assert_eq!(&back, b"hello, direct I/O");
/// assert_eq!(file.len()?, 1017);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DirectFile {
    inner: fs::DirectFile,
    driver: Driver,
    file: File,
}

impl DirectFile {
    /// Opens an existing file for reading and writing with O_DIRECT.
    ///
    /// # Errors
    /// Opening fails (missing file, permissions), the file system does not support
    /// O_DIRECT (`InvalidInput`, naming the path), or the ring cannot be created.
    ///
    /// # Examples
    /// ```
    /// use aiolos::DirectFile;
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("data"), b"0123456789")?;
    /// match DirectFile::open(dir.path().join("data")) {
    ///     Ok(file) => assert_eq!(file.len()?, 10),
    ///     Err(e) => eprintln!("SKIP: {e}"), // no O_DIRECT on this file system
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> io::Result<DirectFile> {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        DirectFile::open_with(path.as_ref(), &mut o)
    }

    /// Creates (or truncates) a file for reading and writing with O_DIRECT.
    ///
    /// # Errors
    /// As [`DirectFile::open`].
    pub fn create(path: impl AsRef<Path>) -> io::Result<DirectFile> {
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).truncate(true);
        DirectFile::open_with(path.as_ref(), &mut o)
    }

    /// Opens `path` with the given options plus O_DIRECT.
    ///
    /// # Errors
    /// As [`DirectFile::open`].
    pub fn open_with(path: &Path, options: &mut OpenOptions) -> io::Result<DirectFile> {
        let file = options
            .custom_flags(sys::O_DIRECT)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(sys::Errno::INVAL.0) {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{}: the file system does not support O_DIRECT; use buffered I/O",
                            path.display()
                        ),
                    )
                } else {
                    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                }
            })?;
        DirectFile::from_file(file)
    }

    /// Wraps a file that is already open with O_DIRECT, on the global driver.
    ///
    /// # Errors
    /// `InvalidInput` if the file was not opened with O_DIRECT; driver creation errors.
    pub fn from_file(file: File) -> io::Result<DirectFile> {
        DirectFile::on(file, Driver::global()?)
    }

    /// Wraps a file that is already open with O_DIRECT, on a driver of its own whose ring
    /// `builder` makes (engine, entries, ...), with a completion thread.
    ///
    /// # Errors
    /// As [`DirectFile::from_file`].
    pub fn with_ring(file: File, builder: RingBuilder) -> io::Result<DirectFile> {
        DirectFile::on(file, Driver::on_ring(builder.build_with_payload()?)?)
    }

    fn on(file: File, driver: Driver) -> io::Result<DirectFile> {
        let flags = rustix::fs::fcntl_getfl(&file)?;
        if !flags.contains(rustix::fs::OFlags::DIRECT) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "DirectFile needs a file opened with O_DIRECT (OpenOptionsExt::custom_flags)",
            ));
        }
        let async_file = fs::File::from_std_on(file.try_clone()?, &driver);
        let inner = fs::direct::block_on(&driver, fs::DirectFile::from_file(async_file))?;
        Ok(DirectFile {
            inner,
            driver,
            file,
        })
    }

    fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        fs::direct::block_on(&self.driver, f)
    }

    /// The O_DIRECT alignment of this file.
    pub fn alignment(&self) -> Alignment {
        self.inner.alignment()
    }

    /// Rounds `n` up to a multiple of the offset alignment.
    pub fn align_up(&self, n: u64) -> u64 {
        self.inner.align_up(n)
    }

    /// Rounds `n` down to a multiple of the offset alignment.
    pub fn align_down(&self, n: u64) -> u64 {
        self.inner.align_down(n)
    }

    /// A zeroed buffer for this file (see [`fs::DirectFile::alloc_buf`]).
    pub fn alloc_buf(&self, len: usize) -> AlignedBuf {
        self.inner.alloc_buf(len)
    }

    /// The async file under this one.
    pub fn as_async(&self) -> &fs::DirectFile {
        &self.inner
    }

    /// The underlying file (for metadata, `sync_all`, ...).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's size in bytes.
    ///
    /// # Errors
    /// When `statx` fails.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> io::Result<u64> {
        self.run(self.inner.len())
    }

    /// Reads at `offset` into `buf` (any offset, any length, any address). Returns the
    /// bytes read, fewer than `buf.len()` only at the end of the file.
    ///
    /// # Errors
    /// The kernel's error for a block read.
    ///
    /// # Examples
    /// ```
    /// use aiolos::DirectFile;
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("data"), b"0123456789")?;
    /// let Ok(file) = DirectFile::open(dir.path().join("data")) else { return Ok(()) };
    /// let mut buf = [0u8; 16]; // any address, any length
    /// assert_eq!(file.read_at(&mut buf, 3)?, 7); // stops at the end of the file
    /// assert_eq!(&buf[..7], b"3456789");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "pread")]
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.run(self.inner.read_at(buf, offset))
    }

    /// Writes all of `data` at `offset` (any offset, any length, any address). Partial
    /// head and tail blocks are read, patched and written back; concurrent writes that
    /// share a block are serialised, so neither loses the other's bytes.
    ///
    /// # Errors
    /// The kernel's error for a block read or write; `WriteZero` for a short write.
    ///
    /// # Examples
    /// ```
    /// use aiolos::DirectFile;
    /// let dir = tempfile::tempdir()?;
    /// let Ok(file) = DirectFile::create(dir.path().join("data")) else { return Ok(()) };
    /// file.write_at(&[b'x'; 5000], 0)?;
    /// file.write_at(b"middle", 4093)?; // spans a block boundary: read-modify-write
    /// let mut back = vec![0u8; 5000];
    /// file.read_at(&mut back, 0)?;
    /// assert_eq!(&back[4092..4100], b"xmiddlex");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "pwrite")]
    pub fn write_at(&self, data: &[u8], offset: u64) -> io::Result<usize> {
        self.run(self.inner.write_at(data, offset))
    }

    /// Reads into an aligned buffer without copying: fills up to `buf.capacity()` bytes
    /// at `offset`. The buffer comes back in every case.
    ///
    /// # Errors
    /// An [`AlignmentError`](crate::align::AlignmentError) (as `InvalidInput`) naming the
    /// required alignment when the address, offset or capacity is misaligned; the
    /// kernel's error otherwise.
    pub fn read_aligned(&self, buf: AlignedBuf, offset: u64) -> BufResult<usize, AlignedBuf> {
        self.run(self.inner.read_aligned(buf, offset))
    }

    /// Writes an aligned buffer without copying: its `len()` bytes at `offset`. The buffer
    /// comes back in every case.
    ///
    /// # Errors
    /// As [`read_aligned`](DirectFile::read_aligned), for the address, offset and length.
    pub fn write_aligned(&self, buf: AlignedBuf, offset: u64) -> BufResult<usize, AlignedBuf> {
        self.run(self.inner.write_aligned(buf, offset))
    }
}

impl fmt::Debug for DirectFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectFile")
            .field("fd", &self.file.as_raw_fd())
            .field("alignment", &self.inner.alignment())
            .field("engine", &self.driver.engine_kind())
            .finish()
    }
}
