//! [`DirectFile`]: async O_DIRECT in one place. A file opened with O_DIRECT that knows its
//! alignment (`statx` DIOALIGN, else the device's logical block size, else 512), hands
//! out aligned buffers from a pool, and reads and writes at any offset and length.
//!
//! Aligned requests go to the kernel as they are. Unaligned ones are widened to whole
//! blocks: a read fetches the covering blocks and copies out the part asked for; a write
//! reads the partial head and tail blocks, patches them with the new bytes and writes the
//! whole span back (read-modify-write). Two writes whose spans share a block would lose
//! each other's bytes if their cycles interleaved, so every write holds a lock on its block
//! range until it is done (tasks wait for it without blocking a thread); writes to
//! disjoint blocks run in parallel. A write whose blocks reach past the end of the file
//! also holds the file's size lock, and trims the file back to `offset + len` afterwards.
//!
//! The blocking [`crate::DirectFile`] is a thin wrapper over this type.

use super::driver::Driver;
use super::file::File;
use super::options::OpenOptions;
use crate::align::Alignment;
use crate::buf::aligned::{AlignedBuf, BufPool};
use crate::buf::BufResult;
use std::future::{poll_fn, Future};
use std::io;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

/// Largest span one request covers; longer reads and writes are split.
const MAX_SPAN: u64 = 1 << 20;
/// The range the size lock takes (no data range reaches it: offsets are below 2^63).
const SIZE_RANGE: (u64, u64) = (u64::MAX - 1, u64::MAX);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent before anything can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Block ranges held by writes in progress, and the tasks waiting for one to free.
#[derive(Default)]
struct Ranges {
    held: Vec<(u64, u64)>,
    waiting: Vec<Waker>,
}

/// A file opened with O_DIRECT, with async reads and writes at any offset and length.
///
/// # Examples
/// ```
/// # aiolos::fs::Driver::global()?.block_on(async {
/// use aiolos::fs::DirectFile;
/// let dir = tempfile::tempdir()?;
/// let file = match DirectFile::create(dir.path().join("data")).await {
///     Ok(f) => f,
///     Err(e) => { eprintln!("SKIP: {e}"); return Ok(()) } // no O_DIRECT here
/// };
/// file.write_at(b"hello, direct I/O", 1000).await?; // unaligned: read-modify-write
/// let mut back = [0u8; 17];
/// assert_eq!(file.read_at(&mut back, 1000).await?, 17);
/// assert_eq!(&back, b"hello, direct I/O");
/// assert_eq!(file.len().await?, 1017);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DirectFile {
    file: File,
    alignment: Alignment,
    blocks: BufPool,
    ranges: Arc<Mutex<Ranges>>,
}

impl std::fmt::Debug for DirectFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectFile")
            .field("fd", &self.file.fd().as_raw())
            .field("alignment", &self.alignment)
            .finish_non_exhaustive()
    }
}

/// Holds a block range of the file; released (and the waiting tasks woken) on drop.
struct RangeGuard {
    ranges: Arc<Mutex<Ranges>>,
    range: (u64, u64),
}

impl Drop for RangeGuard {
    fn drop(&mut self) {
        let waiting = {
            let mut r = lock(&self.ranges);
            if let Some(i) = r.held.iter().position(|x| *x == self.range) {
                r.held.swap_remove(i);
            }
            std::mem::take(&mut r.waiting)
        };
        for w in waiting {
            w.wake();
        }
    }
}

impl DirectFile {
    /// Opens an existing file for reading and writing with O_DIRECT, on the
    /// [default driver](Driver::default_driver).
    ///
    /// # Errors
    /// Opening fails (naming the path); the file system does not support O_DIRECT
    /// (`InvalidInput`, naming the path and saying to use buffered I/O).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<DirectFile> {
        DirectFile::open_with(path, File::options().read(true).write(true)).await
    }

    /// Creates (or truncates) a file for reading and writing with O_DIRECT.
    ///
    /// # Errors
    /// As [`DirectFile::open`].
    pub async fn create(path: impl AsRef<Path>) -> io::Result<DirectFile> {
        let mut o = File::options();
        o.read(true).write(true).create(true).truncate(true);
        DirectFile::open_with(path, &o).await
    }

    /// Opens `path` with `options` plus O_DIRECT (on the options' driver).
    ///
    /// # Errors
    /// As [`DirectFile::open`].
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: &OpenOptions,
    ) -> io::Result<DirectFile> {
        let mut o = options.clone();
        let file = o.direct(true).open(path).await?;
        DirectFile::from_file(file).await
    }

    /// Wraps a [`File`] opened with O_DIRECT; finds its alignment (on aiolos's blocking pool).
    ///
    /// # Errors
    /// `InvalidInput` if the file was not opened with O_DIRECT.
    pub async fn from_file(file: File) -> io::Result<DirectFile> {
        let fd = file.fd().clone();
        let alignment = super::pool::run(move || {
            let flags = rustix::fs::fcntl_getfl(&fd)?;
            if !flags.contains(rustix::fs::OFlags::DIRECT) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "DirectFile needs a file opened with O_DIRECT (OpenOptions::direct(true))",
                ));
            }
            Alignment::of(&fd)
        })
        .await?;
        Ok(DirectFile {
            file,
            alignment,
            blocks: BufPool::new(alignment.offset(), alignment.mem(), 8),
            ranges: Arc::default(),
        })
    }

    /// The underlying file (its positional owned-buffer API, metadata, syncs).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The O_DIRECT alignment of this file.
    pub fn alignment(&self) -> Alignment {
        self.alignment
    }

    /// Rounds `n` up to a multiple of the offset alignment.
    pub fn align_up(&self, n: u64) -> u64 {
        self.alignment.align_up(n)
    }

    /// Rounds `n` down to a multiple of the offset alignment.
    pub fn align_down(&self, n: u64) -> u64 {
        self.alignment.align_down(n)
    }

    /// A zeroed buffer for this file: `len` rounded up to the offset alignment, at an
    /// address aligned for it (at least a page: a buffer aligned only to 512 bytes
    /// straddles one more page, and the kernel then splits large requests into odd
    /// pieces), ready for [`read_aligned`](DirectFile::read_aligned) and
    /// [`write_aligned`](DirectFile::write_aligned).
    pub fn alloc_buf(&self, len: usize) -> AlignedBuf {
        let len = self.align_up(len as u64) as usize;
        AlignedBuf::zeroed(len, self.buf_align())
    }

    /// One block from the file's pool of aligned buffers (empty, capacity one block);
    /// give it back with [`DirectFile::put_block`].
    pub fn block(&self) -> AlignedBuf {
        self.blocks.get()
    }

    /// Returns a buffer to the pool.
    pub fn put_block(&self, buf: AlignedBuf) {
        self.blocks.put(buf);
    }

    fn buf_align(&self) -> usize {
        self.alignment.max().max(rustix::param::page_size())
    }

    fn max_span(&self) -> u64 {
        self.align_up(MAX_SPAN)
    }

    /// The file's size in bytes (a `statx` request).
    ///
    /// # Errors
    /// The kernel's error.
    #[allow(clippy::len_without_is_empty)]
    pub async fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata().await?.len())
    }

    /// Flushes data and metadata (`fsync`).
    ///
    /// # Errors
    /// The kernel's error.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all().await
    }

    /// Flushes data (`fdatasync`).
    ///
    /// # Errors
    /// The kernel's error.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data().await
    }

    /// Reads at `offset` into `buf` (any offset, any length, any address). Returns the
    /// bytes read, fewer than `buf.len()` only at the end of the file.
    ///
    /// # Errors
    /// The kernel's error for a block read.
    #[doc(alias = "pread")]
    pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let want_end = pos
                .checked_add((buf.len() - done) as u64)
                .ok_or_else(overflow)?;
            let start = self.align_down(pos);
            let end = self.align_up(want_end).min(start + self.max_span());
            let span = AlignedBuf::with_capacity((end - start) as usize, self.buf_align());
            let BufResult(res, span) = self.file.read_at(span, start).await;
            let n = res? as u64;
            let skip = pos - start;
            if n <= skip {
                break;
            }
            let avail = (n.min(want_end - start) - skip) as usize;
            buf[done..done + avail].copy_from_slice(&span[skip as usize..skip as usize + avail]);
            done += avail;
            if n < end - start {
                break;
            }
        }
        Ok(done)
    }

    /// Writes all of `data` at `offset` (any offset, any length, any address). Partial
    /// head and tail blocks are read, patched and written back; concurrent writes that
    /// share a block are serialised, so neither loses the other's bytes.
    ///
    /// # Errors
    /// The kernel's error for a block read or write; `WriteZero` for a short write.
    #[doc(alias = "pwrite")]
    pub async fn write_at(&self, data: &[u8], offset: u64) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let end = offset.checked_add(data.len() as u64).ok_or_else(overflow)?;
        let (a0, a1) = (self.align_down(offset), self.align_up(end));
        let _range = self.lock_range((a0, a1)).await;
        self.with_size_lock(a1, end, async {
            let mut c0 = a0;
            while c0 < a1 {
                let c1 = (c0 + self.max_span()).min(a1);
                self.write_chunk(data, offset, c0, c1).await?;
                c0 = c1;
            }
            Ok(())
        })
        .await?;
        Ok(data.len())
    }

    /// Writes the aligned span `[c0, c1)` that holds part of `data` (which starts at
    /// `offset`), reading the partial head and tail blocks first (both at once).
    async fn write_chunk(&self, data: &[u8], offset: u64, c0: u64, c1: u64) -> io::Result<()> {
        let end = offset + data.len() as u64;
        let block = self.alignment.offset() as u64;
        let mut span = AlignedBuf::zeroed((c1 - c0) as usize, self.buf_align());
        let head = (c0 < offset).then_some(c0);
        let tail = (c1 > end && (head.is_none() || c1 - block != c0)).then_some(c1 - block);
        let read = |at: Option<u64>| async move {
            match at {
                Some(at) => Some((at, self.file.read_at(self.blocks.get(), at).await)),
                None => None,
            }
        };
        let (h, t) = super::path::join(read(head), read(tail)).await;
        for (at, BufResult(res, blk)) in [h, t].into_iter().flatten() {
            let n = res?;
            let at = (at - c0) as usize;
            // Past the end of the file the block reads short; the rest stays zero.
            span[at..at + n].copy_from_slice(&blk[..n]);
            self.blocks.put(blk);
        }
        let (d0, d1) = (offset.max(c0), end.min(c1));
        span[(d0 - c0) as usize..(d1 - c0) as usize]
            .copy_from_slice(&data[(d0 - offset) as usize..(d1 - offset) as usize]);
        let BufResult(res, _) = self.file.write_at(span, c0).await;
        let n = res? as u64;
        if n != c1 - c0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short O_DIRECT write: {n} of {} bytes at {c0}", c1 - c0),
            ));
        }
        Ok(())
    }

    /// Runs `write` (which writes blocks up to `a1` for data ending at `end`); if the blocks
    /// reach past the end of the file, holds the size lock and trims the padding after.
    async fn with_size_lock(
        &self,
        a1: u64,
        end: u64,
        write: impl Future<Output = io::Result<()>>,
    ) -> io::Result<()> {
        let guard = self.lock_range(SIZE_RANGE).await;
        let size = self.len().await?;
        if a1 <= size {
            drop(guard);
            return write.await;
        }
        let r = write.await;
        let want = size.max(end);
        if self.len().await? > want {
            self.file.set_len(want).await?;
        }
        drop(guard);
        r
    }

    /// Waits (without blocking the thread) until no held range overlaps `range`, then
    /// holds it.
    async fn lock_range(&self, range: (u64, u64)) -> RangeGuard {
        let (a0, a1) = range;
        poll_fn(|cx| {
            let mut r = lock(&self.ranges);
            if r.held.iter().any(|&(s, e)| s < a1 && a0 < e) {
                r.waiting.push(cx.waker().clone());
                return Poll::Pending;
            }
            r.held.push(range);
            Poll::Ready(())
        })
        .await;
        RangeGuard {
            ranges: Arc::clone(&self.ranges),
            range,
        }
    }

    /// Reads into an aligned buffer without copying: fills up to `buf.capacity()` bytes
    /// at `offset`. The buffer comes back in every case.
    ///
    /// # Errors
    /// An [`AlignmentError`](crate::align::AlignmentError) (as `InvalidInput`) naming the
    /// required alignment when the address, offset or capacity is misaligned; the
    /// kernel's error otherwise.
    pub async fn read_aligned(&self, buf: AlignedBuf, offset: u64) -> BufResult<usize, AlignedBuf> {
        if let Err(e) = self
            .alignment
            .check(buf.as_ptr() as usize, buf.capacity(), offset)
        {
            return BufResult(Err(e.into()), buf);
        }
        self.file.read_at(buf, offset).await
    }

    /// Writes an aligned buffer without copying: its `len()` bytes at `offset`. The buffer
    /// comes back in every case.
    ///
    /// # Errors
    /// As [`read_aligned`](DirectFile::read_aligned), for the address, offset and length.
    pub async fn write_aligned(
        &self,
        buf: AlignedBuf,
        offset: u64,
    ) -> BufResult<usize, AlignedBuf> {
        if let Err(e) = self
            .alignment
            .check(buf.as_ptr() as usize, buf.len(), offset)
        {
            return BufResult(Err(e.into()), buf);
        }
        let end = offset + buf.len() as u64;
        let _range = self.lock_range((offset, end)).await;
        let mut out = None;
        let r = self
            .with_size_lock(end, end, async {
                let r = self.file.write_at(buf, offset).await;
                let failed =
                    r.0.as_ref()
                        .err()
                        .map(|e| io::Error::new(e.kind(), e.to_string()));
                out = Some(r);
                match failed {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            })
            .await;
        match (r, out) {
            (_, Some(r)) if r.0.is_err() => r,
            (Ok(()), Some(r)) => r,
            (Err(e), Some(BufResult(_, b))) => BufResult(Err(e), b),
            (Err(e), None) => BufResult(Err(e), AlignedBuf::zeroed(0, 1)),
            (Ok(()), None) => BufResult(
                Err(io::Error::other("write produced no result")),
                AlignedBuf::zeroed(0, 1),
            ),
        }
    }
}

fn overflow() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset + len overflows")
}

/// Runs `f` to completion on the calling thread with `driver` (for the blocking wrapper).
pub(crate) fn block_on<F: Future>(driver: &Driver, f: F) -> F::Output {
    driver.block_on(pin!(f))
}
