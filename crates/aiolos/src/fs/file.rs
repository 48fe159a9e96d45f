//! [`File`] and [`OpenOptions`].

use super::driver::Driver;
use super::erased::ErasedBuf;
use super::meta::Metadata;
use super::options::OpenOptions;
use super::path as fspath;
use super::request::{ReadAt, ReadvAt, Request, WriteAt, WritevAt};
use super::stream::Stream;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{Fd, Op};
use crate::sys::path::AT_EMPTY_PATH;
use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// An open file whose reads and writes are asynchronous requests on a [`Driver`]'s ring.
///
/// Two ways to use it:
///
/// - **Positional, owned buffers** (the fast path): every operation takes its buffer by
///   value and its future resolves to a [`BufResult`]: the result and the buffer, which
///   always comes back (on success, error or cancel). These take `&self` and use no
///   cursor, so one `File` may serve many tasks at once (it is `Send` and `Sync`; clone it
///   or share it in an `Arc`).
/// - **A stream**, as `tokio::fs::File`: with the `tokio` feature `File` implements
///   `AsyncRead`, `AsyncBufRead`, `AsyncWrite` and `AsyncSeek` (with `futures-io`, the
///   `futures` traits), over a cursor and owned internal buffers: sequential reads are
///   read ahead, writes are written behind, and `flush` (or `shutdown`) waits for them and
///   reports their errors.
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
/// let driver = aiolos::fs::Driver::default_driver()?;
/// driver.block_on(async {
///     let file = File::options().read(true).write(true).create(true).open(&path).await?;
///     let BufResult(n, _) = file.write_at(b"hello, file".to_vec(), 0).await;
///     assert_eq!(n?, 11);
///     let BufResult(n, buf) = file.read_at(Vec::with_capacity(64), 0).await;
///     assert_eq!((n?, &buf[..]), (11, &b"hello, file"[..]));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    fd: Fd,
    driver: Driver,
    /// The path it was opened by, which its requests' errors name.
    path: Option<Arc<Path>>,
    /// The cursor and buffers of the stream interface.
    pub(crate) stream: Mutex<Box<Stream>>,
}

impl Clone for File {
    /// Another handle on the same open file (the descriptor is shared, not duplicated),
    /// with a cursor of its own starting where this one is. Pending stream writes stay
    /// with this handle (flush first to make them visible).
    fn clone(&self) -> File {
        let pos = self.lock_stream().position();
        File {
            fd: self.fd.clone(),
            driver: self.driver.clone(),
            path: self.path.clone(),
            stream: Mutex::new(Box::new(Stream::at(pos))),
        }
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw())
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

impl File {
    /// Opens a file for reading (as `tokio::fs::File::open`), on the
    /// [default driver](Driver::default_driver).
    ///
    /// # Errors
    /// As [`std::fs::File::open`], naming the path, or when the default driver cannot
    /// start.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Creates (or truncates) a file for writing (as `tokio::fs::File::create`).
    ///
    /// # Errors
    /// As [`std::fs::File::create`], naming the path.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates a file for writing, failing if it exists (as
    /// `tokio::fs::File::create_new`).
    ///
    /// # Errors
    /// `AlreadyExists`, or as [`File::create`].
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// Options for opening a file (access mode, creation, `O_DIRECT`, driver).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open standard file (as `tokio::fs::File::from_std`), on the
    /// [default driver](Driver::default_driver).
    ///
    /// # Panics
    /// If the default driver cannot start (no ring and no thread can be created); use
    /// [`File::from_std_on`] to handle that.
    ///
    /// # Examples
    /// ```
    /// let file = aiolos::fs::File::from_std(std::fs::File::open("/dev/null")?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        match Driver::default_driver() {
            Ok(d) => File::from_std_on(file, &d),
            Err(e) => panic!("aiolos::fs::File::from_std: the default driver cannot start: {e}"),
        }
    }

    /// Wraps an open standard file; its requests go to `driver`.
    ///
    /// # Examples
    /// ```
    /// let driver = aiolos::fs::Driver::global()?;
    /// let file = aiolos::fs::File::from_std_on(std::fs::File::open("/dev/null")?, &driver);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std_on(file: std::fs::File, driver: &Driver) -> File {
        File::from_fd(OwnedFd::from(file), driver)
    }

    pub(crate) fn from_fd(fd: OwnedFd, driver: &Driver) -> File {
        File {
            fd: Fd::from(fd),
            driver: driver.clone(),
            path: None,
            stream: Mutex::new(Box::new(Stream::at(0))),
        }
    }

    /// The file opened at `path`, which its requests' errors name.
    pub(crate) fn opened_at(fd: OwnedFd, driver: &Driver, path: &Path) -> File {
        let mut f = File::from_fd(fd, driver);
        f.path = Some(Arc::from(path));
        f
    }

    /// The descriptor, the driver and the stream state, for the stream traits.
    #[cfg_attr(not(any(feature = "tokio", feature = "futures-io")), allow(dead_code))]
    pub(crate) fn parts(&mut self) -> (&Fd, &Driver, &mut Stream) {
        let s = self.stream.get_mut().unwrap_or_else(|e| e.into_inner());
        (&self.fd, &self.driver, s)
    }

    pub(crate) fn lock_stream(&self) -> MutexGuard<'_, Box<Stream>> {
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the stream's written-behind data and reports its error, if any.
    async fn flush_stream(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            let mut s = self.lock_stream();
            s.poll_flush(&self.fd, &self.driver, cx)
        })
        .await
    }

    /// Converts into a standard file (as `tokio::fs::File::into_std`), after the stream's
    /// pending writes are done. If requests made through clones of this `File` still hold
    /// the descriptor, the standard file gets a duplicate of it.
    ///
    /// # Errors
    /// Only from duplicating the descriptor (`EMFILE`); pending-write errors are dropped,
    /// as tokio does.
    pub async fn into_std(self) -> std::fs::File {
        let _ = self.flush_stream().await;
        match self.fd.try_into_owned() {
            Ok(fd) => std::fs::File::from(fd),
            Err(fd) => match rustix::io::fcntl_dupfd_cloexec(&fd, 0) {
                Ok(d) => std::fs::File::from(d),
                Err(e) => {
                    panic!("aiolos::fs::File::into_std: duplicating the descriptor failed: {e}")
                }
            },
        }
    }

    /// Converts into a standard file at once, or gives the file back if a stream write is
    /// pending or requests still hold the descriptor (as `tokio::fs::File::try_into_std`).
    ///
    /// # Errors
    /// The file itself, when it cannot be converted now.
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        if !self.lock_stream().is_idle() {
            return Err(self);
        }
        let File {
            fd,
            driver,
            path,
            stream,
        } = self;
        match fd.try_into_owned() {
            Ok(fd) => Ok(std::fs::File::from(fd)),
            Err(fd) => Err(File {
                fd,
                driver,
                path,
                stream,
            }),
        }
    }

    /// Another `File` on a duplicate of the descriptor (as `tokio::fs::File::try_clone`).
    ///
    /// # Errors
    /// `EMFILE` when the process is out of descriptors.
    pub async fn try_clone(&self) -> io::Result<File> {
        let fd = rustix::io::fcntl_dupfd_cloexec(&self.fd, 0)?;
        let mut f = File::from_fd(fd, &self.driver);
        f.path = self.path.clone();
        **f.lock_stream() = Stream::at(self.lock_stream().position());
        Ok(f)
    }

    /// The file's metadata (`statx` on the descriptor, as a request).
    ///
    /// # Errors
    /// The kernel's error.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        fspath::statx(
            &self.driver,
            Some(self.fd.clone()),
            CString::default(),
            AT_EMPTY_PATH,
        )
        .await
    }

    /// Truncates or extends the file to `size` bytes (as `tokio::fs::File::set_len`),
    /// after the stream's pending writes; the stream's cursor does not move.
    ///
    /// # Errors
    /// The kernel's error (`InvalidInput` for a file not open for writing).
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        self.flush_stream().await?;
        self.lock_stream().forget_read_buffer();
        fspath::unit(&self.driver, Op::ftruncate(&self.fd, size)).await
    }

    /// Sets the file's permissions (`fchmod`, on aiolos's blocking pool).
    ///
    /// # Errors
    /// The kernel's error.
    pub async fn set_permissions(&self, perm: std::fs::Permissions) -> io::Result<()> {
        let fd = self.fd.clone();
        let mode = std::os::unix::fs::PermissionsExt::mode(&perm);
        super::pool::run(move || {
            rustix::fs::fchmod(&fd, rustix::fs::Mode::from_bits_retain(mode))
                .map_err(io::Error::from)
        })
        .await
    }

    /// Allocates `len` bytes at `offset` (`fallocate(2)` with mode 0): later writes there
    /// cannot fail for lack of space.
    ///
    /// # Errors
    /// The kernel's error (`Unsupported` where the file system cannot).
    #[doc(alias = "fallocate")]
    pub async fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        fspath::unit(&self.driver, Op::fallocate(&self.fd, offset, len, 0)).await
    }

    /// The largest buffer the stream interface uses for one read or write (default 2 MiB,
    /// as tokio).
    pub fn max_buf_size(&self) -> usize {
        self.lock_stream().max_buf_size()
    }

    /// Sets the largest buffer of the stream interface.
    pub fn set_max_buf_size(&mut self, max_buf_size: usize) {
        self.lock_stream().set_max_buf_size(max_buf_size);
    }

    /// Reads from `pos` to the end of the file.
    pub(crate) async fn read_to_end_at(&self, pos: u64) -> io::Result<Vec<u8>> {
        // A size of 0 may be a lie (procfs): read until a read returns 0.
        let hint = self.metadata().await.map_or(0, |m| m.len()) as usize;
        let mut buf = Vec::with_capacity(hint.saturating_sub(pos as usize).max(8192) + 1);
        loop {
            if buf.len() == buf.capacity() {
                buf.reserve(buf.capacity());
            }
            let at = buf.len();
            let BufResult(r, b) = self.read_window(buf, at, pos + at as u64).await;
            buf = b;
            match r {
                Ok(0) => return Ok(buf),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
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
        Request::new(self.driver.shared(), op).named(self.path.as_ref())
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
    /// let driver = aiolos::fs::Driver::default_driver()?;
    /// let file = driver.block_on(File::open(dir.path().join("f")))?;
    /// let BufResult(n, buf) = driver.block_on(file.read_at(Vec::with_capacity(16), 1));
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

    /// Flushes data and metadata to the device (`fsync(2)`), after the stream's pending
    /// writes. Covers writes that completed before it was called.
    ///
    /// # Errors
    /// A pending write's error, or the kernel's (`EIO`, `ENOSPC`, ...).
    #[doc(alias = "fsync")]
    pub async fn sync_all(&self) -> io::Result<()> {
        self.flush_stream().await?;
        fspath::unit(&self.driver, Op::fsync(&self.fd)).await
    }

    /// Flushes data (and the metadata needed to read it back) to the device
    /// (`fdatasync(2)`), after the stream's pending writes.
    ///
    /// # Errors
    /// A pending write's error, or the kernel's (`EIO`, `ENOSPC`, ...).
    #[doc(alias = "fdatasync")]
    pub async fn sync_data(&self) -> io::Result<()> {
        self.flush_stream().await?;
        fspath::unit(&self.driver, Op::fdatasync(&self.fd)).await
    }
}
