//! [`File`] and [`OpenOptions`].

use super::driver::Driver;
use super::erased::ErasedBuf;
use super::request::{ReadAt, ReadvAt, Request, Sync, WriteAt, WritevAt};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{Fd, Op};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// An open file whose reads and writes are asynchronous requests on a [`Driver`]'s ring.
///
/// Every operation takes its buffer by value and its future resolves to a [`BufResult`]:
/// the result and the buffer, which always comes back (on success, error or cancel).
/// Operations are positional; there is no cursor, so one `File` may be used by many tasks
/// at once (it is `Clone`, `Send` and `Sync`).
///
/// Reads fill up to the buffer's [`bytes_total`](IoBufMut::bytes_total) (a `Vec`'s
/// capacity) and mark the bytes read as initialised (a `Vec`'s length); writes send its
/// [`bytes_init`](IoBuf::bytes_init) (a `Vec`'s length).
///
/// # Examples
/// ```
/// use aiolos::{fs::File, BufResult};
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("greeting");
/// let file = File::create(&path)?;
/// let driver = file.driver().clone();
/// driver.block_on(async {
///     let BufResult(n, _) = file.write_at(b"hello, file".to_vec(), 0).await;
///     assert_eq!(n?, 11);
///     let BufResult(n, buf) = file.read_at(Vec::with_capacity(64), 0).await;
///     assert_eq!((n?, &buf[..]), (11, &b"hello, file"[..]));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct File {
    fd: Fd,
    driver: Driver,
}

impl File {
    /// Opens a file for reading on the [global driver](Driver::global).
    ///
    /// Opening happens on the calling thread (as `open(2)` does: a short metadata
    /// operation); only reads, writes and syncs are asynchronous.
    ///
    /// # Errors
    /// As [`std::fs::File::open`], or when the global driver cannot start.
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates (or truncates) a file for writing and reading on the
    /// [global driver](Driver::global).
    ///
    /// # Errors
    /// As [`std::fs::File::create`], or when the global driver cannot start.
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Options for opening a file (access mode, creation, `O_DIRECT`, driver).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open standard file; its requests go to `driver`.
    ///
    /// # Examples
    /// ```
    /// let driver = aiolos::fs::Driver::global()?;
    /// let file = aiolos::fs::File::from_std(std::fs::File::open("/dev/null")?, &driver);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(file: std::fs::File, driver: &Driver) -> File {
        File {
            fd: Fd::from(file),
            driver: driver.clone(),
        }
    }

    /// The driver this file's requests go to.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The descriptor, shared with the requests in flight (it stays open until the last
    /// of them completes, even if the `File` is dropped first).
    pub fn fd(&self) -> &Fd {
        &self.fd
    }

    fn request(&self, op: Op<ErasedBuf>) -> Request {
        Request::new(self.driver.shared(), op)
    }

    /// A read into `buf` from `begin` bytes in.
    pub(crate) fn read_window<B: IoBufMut>(&self, buf: B, begin: usize, pos: u64) -> ReadAt<B> {
        let op = Op::read(&self.fd, ErasedBuf::writable(buf, begin), pos);
        ReadAt::new(self.request(op))
    }

    /// Reads up to `buf.bytes_total()` bytes at `pos`. Fewer bytes than asked means the
    /// end of the file (or, rarely, a short transfer: see [`File::read_exact_at`]).
    ///
    /// The returned future resolves to a [`BufResult`]: the result and the buffer, which
    /// the request owned while in flight. Errors are the kernel's for the read.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{fs::File, BufResult};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("f"), b"hello")?;
    /// let file = File::open(dir.path().join("f"))?;
    /// let BufResult(n, buf) = file.driver().block_on(file.read_at(Vec::with_capacity(16), 1));
    /// assert_eq!((n?, &buf[..]), (4, &b"ello"[..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "pread")]
    pub fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> ReadAt<B> {
        ReadAt::new(self.request(Op::read(&self.fd, ErasedBuf::writable(buf, 0), pos)))
    }

    /// Writes `buf.bytes_init()` bytes at `pos`; may write fewer (see
    /// [`File::write_all_at`]).
    #[doc(alias = "pwrite")]
    pub fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> WriteAt<B> {
        WriteAt::new(self.request(Op::write(&self.fd, ErasedBuf::read_only(buf, 0), pos)))
    }

    /// Reads into several buffers, in order, starting at `pos`.
    #[doc(alias = "preadv")]
    pub fn readv_at<B: IoBufMut>(&self, bufs: Vec<B>, pos: u64) -> ReadvAt<B> {
        let bufs = bufs
            .into_iter()
            .map(|b| ErasedBuf::writable(b, 0))
            .collect();
        ReadvAt::new(self.request(Op::readv(&self.fd, bufs, pos)))
    }

    /// Writes several buffers, in order, starting at `pos`.
    #[doc(alias = "pwritev")]
    pub fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, pos: u64) -> WritevAt<B> {
        let bufs = bufs
            .into_iter()
            .map(|b| ErasedBuf::read_only(b, 0))
            .collect();
        WritevAt::new(self.request(Op::writev(&self.fd, bufs, pos)))
    }

    /// Fills the whole buffer (`bytes_total()` bytes) from `pos`, continuing after short
    /// reads.
    ///
    /// # Errors
    /// [`io::ErrorKind::UnexpectedEof`] if the file ends first (the bytes read so far are
    /// in the buffer), or the first failed read's error.
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut done = 0;
        let mut buf = buf;
        while done < total {
            let BufResult(r, b) = self.read_window(buf, done, pos + done as u64).await;
            buf = b;
            match r {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("end of file after {done} of {total} bytes from offset {pos}"),
                    );
                    return BufResult(Err(e), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return BufResult(Err(e), buf),
            }
        }
        BufResult(Ok(()), buf)
    }

    /// Writes the whole buffer (`bytes_init()` bytes) at `pos`, continuing after short
    /// writes.
    ///
    /// # Errors
    /// [`io::ErrorKind::WriteZero`] if a write makes no progress, or the first failed
    /// write's error.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        let mut buf = buf;
        while done < total {
            let op = Op::write(&self.fd, ErasedBuf::read_only(buf, done), pos + done as u64);
            let BufResult(r, b) = WriteAt::<B>::new(self.request(op)).await;
            buf = b;
            match r {
                Ok(0) => {
                    let e = io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("write made no progress after {done} of {total} bytes"),
                    );
                    return BufResult(Err(e), buf);
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return BufResult(Err(e), buf),
            }
        }
        BufResult(Ok(()), buf)
    }

    /// Flushes data and metadata to the device (`fsync(2)`). Covers writes that completed
    /// before it was called.
    ///
    /// # Errors
    /// The kernel's error (`EIO`, `ENOSPC`, ...).
    #[doc(alias = "fsync")]
    pub fn sync_all(&self) -> Sync {
        Sync::new(self.request(Op::fsync(&self.fd)))
    }

    /// Flushes data (and the metadata needed to read it back) to the device
    /// (`fdatasync(2)`).
    ///
    /// # Errors
    /// The kernel's error (`EIO`, `ENOSPC`, ...).
    #[doc(alias = "fdatasync")]
    pub fn sync_data(&self) -> Sync {
        Sync::new(self.request(Op::fdatasync(&self.fd)))
    }

    /// The file's size in bytes (`fstat(2)`, on the calling thread).
    ///
    /// # Errors
    /// The kernel's error.
    pub fn len(&self) -> io::Result<u64> {
        Ok(rustix::fs::fstat(&self.fd)?.st_size as u64)
    }

    /// Whether the file is empty.
    ///
    /// # Errors
    /// The kernel's error.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// Options for opening a [`File`]: those of [`std::fs::OpenOptions`], plus `O_DIRECT` and
/// the driver to use.
///
/// # Examples
/// ```
/// use aiolos::fs::{Driver, File};
///
/// let dir = tempfile::tempdir()?;
/// let driver = Driver::new()?;
/// let file = File::options()
///     .read(true)
///     .write(true)
///     .create(true)
///     .direct(false) // true asks for O_DIRECT: buffers and offsets must then be aligned
///     .driver(&driver)
///     .open(dir.path().join("data"))?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    std: std::fs::OpenOptions,
    custom_flags: i32,
    direct: bool,
    driver: Option<Driver>,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// No access, no creation, buffered, on the global driver.
    pub fn new() -> OpenOptions {
        OpenOptions {
            std: std::fs::OpenOptions::new(),
            custom_flags: 0,
            direct: false,
            driver: None,
        }
    }

    /// Opens for reading.
    pub fn read(&mut self, yes: bool) -> &mut OpenOptions {
        self.std.read(yes);
        self
    }

    /// Opens for writing.
    pub fn write(&mut self, yes: bool) -> &mut OpenOptions {
        self.std.write(yes);
        self
    }

    /// Opens for appending (`O_APPEND`). On Linux, positional writes then ignore their
    /// offset and append (see `pwrite(2)`, BUGS).
    pub fn append(&mut self, yes: bool) -> &mut OpenOptions {
        self.std.append(yes);
        self
    }

    /// Truncates to 0 bytes when opening.
    pub fn truncate(&mut self, yes: bool) -> &mut OpenOptions {
        self.std.truncate(yes);
        self
    }

    /// Creates the file if it does not exist.
    pub fn create(&mut self, yes: bool) -> &mut OpenOptions {
        self.std.create(yes);
        self
    }

    /// Creates the file, failing if it exists.
    pub fn create_new(&mut self, yes: bool) -> &mut OpenOptions {
        self.std.create_new(yes);
        self
    }

    /// The permission bits of a created file (before the umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.std.mode(mode);
        self
    }

    /// Opens with `O_DIRECT`: transfers bypass the page cache, and buffer addresses,
    /// lengths and file offsets must be multiples of the device's alignment (the request
    /// fails with `EINVAL` otherwise).
    #[doc(alias = "O_DIRECT")]
    pub fn direct(&mut self, yes: bool) -> &mut OpenOptions {
        self.direct = yes;
        self
    }

    /// Extra `open(2)` flags (`O_NOATIME`, `O_DSYNC`, ...), or'ed with the others.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// The driver whose ring the file's requests go to (default: [`Driver::global`]).
    pub fn driver(&mut self, driver: &Driver) -> &mut OpenOptions {
        self.driver = Some(driver.clone());
        self
    }

    /// Opens the file.
    ///
    /// # Errors
    /// As [`std::fs::OpenOptions::open`] (`EINVAL` for `O_DIRECT` on a file system that
    /// does not support it), or when the global driver cannot start.
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let mut std = self.std.clone();
        let direct = if self.direct { crate::sys::O_DIRECT } else { 0 };
        std.custom_flags(self.custom_flags | direct);
        let file = std.open(path)?;
        let driver = match &self.driver {
            Some(d) => d.clone(),
            None => Driver::global()?,
        };
        Ok(File::from_std(file, &driver))
    }
}
