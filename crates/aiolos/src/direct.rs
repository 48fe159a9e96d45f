//! [`DirectFile`]: a file opened with O_DIRECT that knows its alignment and reads and
//! writes at any offset and length.
//!
//! Aligned requests go to the kernel as they are. Unaligned ones are widened to whole
//! blocks: a read fetches the covering blocks and copies out the part asked for; a write
//! reads the partial head and tail blocks, patches them with the new bytes and writes the
//! whole span back (read-modify-write). Two writes whose spans share a block would lose
//! each other's bytes if their read-modify-write cycles interleaved, so every write holds
//! a lock on its block range until it is done; writes to disjoint blocks run in parallel.
//! A write whose blocks reach past the end of the file also holds the file's size lock,
//! and trims the file back to `offset + len` afterwards.
//!
//! Requests run on a [`Ring`] owned by the file; the calling thread blocks until its own
//! requests complete ([`Ring::wait_for`]). Several threads may use one `DirectFile` at
//! once.

use crate::align::Alignment;
use crate::buf::aligned::{AlignedBuf, BufPool};
use crate::buf::BufResult;
use crate::error::Error;
use crate::op::{Fd, Op};
use crate::ring::{Ring, RingBuilder};
use crate::sys;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Largest span one request covers; longer reads and writes are split.
const MAX_SPAN: u64 = 1 << 20;
/// Requests the file's ring can hold at once.
const RING_ENTRIES: u32 = 64;

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
    // Declared first so it drops first: the ring waits for requests still in flight.
    ring: Ring<AlignedBuf>,
    file: File,
    fd: Fd,
    alignment: Alignment,
    blocks: BufPool,
    ranges: Mutex<Vec<(u64, u64)>>,
    range_freed: Condvar,
    size_lock: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent before anything can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds a block range of the file for one write; released on drop.
struct RangeGuard<'a> {
    file: &'a DirectFile,
    range: (u64, u64),
}

impl Drop for RangeGuard<'_> {
    fn drop(&mut self) {
        let mut ranges = lock(&self.file.ranges);
        if let Some(i) = ranges.iter().position(|r| *r == self.range) {
            ranges.swap_remove(i);
        }
        self.file.range_freed.notify_all();
    }
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

    /// Wraps a file that is already open with O_DIRECT, on a ring with default settings.
    ///
    /// # Errors
    /// `InvalidInput` if the file was not opened with O_DIRECT; ring creation errors.
    pub fn from_file(file: File) -> io::Result<DirectFile> {
        DirectFile::with_ring(file, Ring::builder().entries(RING_ENTRIES))
    }

    /// Wraps a file that is already open with O_DIRECT, on a ring built by `builder`.
    ///
    /// # Errors
    /// As [`DirectFile::from_file`].
    pub fn with_ring(file: File, builder: RingBuilder) -> io::Result<DirectFile> {
        let flags = rustix::fs::fcntl_getfl(&file)?;
        if !flags.contains(rustix::fs::OFlags::DIRECT) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "DirectFile needs a file opened with O_DIRECT (OpenOptionsExt::custom_flags)",
            ));
        }
        let alignment = Alignment::of(&file)?;
        let ring = builder.build::<AlignedBuf>()?;
        let fd = Fd::from(file.try_clone()?);
        Ok(DirectFile {
            ring,
            file,
            fd,
            alignment,
            blocks: BufPool::new(alignment.offset(), alignment.mem(), 8),
            ranges: Mutex::new(Vec::new()),
            range_freed: Condvar::new(),
            size_lock: Mutex::new(()),
        })
    }

    fn max_span(&self) -> u64 {
        self.align_up(MAX_SPAN)
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
    /// address aligned for it, ready for [`read_aligned`](DirectFile::read_aligned) and
    /// [`write_aligned`](DirectFile::write_aligned). The address is page-aligned even when
    /// the file needs less: a buffer aligned only to 512 bytes straddles one more page than
    /// it needs, and the kernel then splits large requests into odd pieces (measured 3-4x
    /// slower for 1 MiB copies).
    pub fn alloc_buf(&self, len: usize) -> AlignedBuf {
        let len = self.align_up(len as u64) as usize;
        AlignedBuf::zeroed(len, self.alignment.max().max(rustix::param::page_size()))
    }

    /// Address alignment for the internal copy buffers: the file's, but at least a page.
    fn buf_align(&self) -> usize {
        self.alignment.mem().max(rustix::param::page_size())
    }

    /// The underlying file (for metadata, `sync_all`, ...).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's size in bytes.
    ///
    /// # Errors
    /// When `fstat` fails.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Runs `ops` concurrently and returns each one's result and buffer, in order. Other
    /// threads' requests share the ring; each thread waits for its own by token.
    fn run(&self, ops: Vec<Op<AlignedBuf>>) -> io::Result<Vec<BufResult<usize, AlignedBuf>>> {
        let mut tokens = Vec::with_capacity(ops.len());
        let mut failed = None;
        'ops: for mut op in ops {
            loop {
                match self.ring.push(op) {
                    Ok(t) => break tokens.push(t),
                    Err(e) if matches!(e.error, Error::QueueFull { .. }) => {
                        // Every slot is taken (by this and other threads): wait until one
                        // frees, then retry.
                        op = e.op;
                        if let Err(e) = self.ring.wait_for_space(None) {
                            failed = Some(e);
                            break 'ops;
                        }
                    }
                    Err(e) => {
                        failed = Some(e.error);
                        break 'ops;
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(tokens.len());
        let mut tokens = tokens.into_iter();
        if failed.is_none() {
            for t in tokens.by_ref() {
                match self.ring.wait_for(t) {
                    Ok(c) => {
                        let (result, bufs) = c.into_parts();
                        let buf = bufs.into_one().unwrap_or_else(|| AlignedBuf::zeroed(0, 1));
                        out.push(BufResult(result, buf));
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        if let Some(e) = failed {
            // What is still outstanding stays with the ring, which frees its buffers only
            // when the kernel is done with them.
            for t in tokens {
                self.ring.detach(t);
            }
            return Err(e.into());
        }
        Ok(out)
    }

    fn run_one(&self, op: Op<AlignedBuf>) -> io::Result<BufResult<usize, AlignedBuf>> {
        self.run(vec![op])?
            .pop()
            .ok_or_else(|| io::Error::other("a request produced no completion"))
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
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let want_end = pos.checked_add((buf.len() - done) as u64).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "offset + len overflows")
            })?;
            let start = self.align_down(pos);
            let end = self.align_up(want_end).min(start + self.max_span());
            let span = AlignedBuf::with_capacity((end - start) as usize, self.buf_align());
            let BufResult(res, span) = self.run_one(Op::read(&self.fd, span, start))?;
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
        if data.is_empty() {
            return Ok(0);
        }
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset + len overflows"))?;
        let (a0, a1) = (self.align_down(offset), self.align_up(end));
        let _range = self.lock_range(a0, a1);
        self.with_size_lock(a1, end, || {
            let mut c0 = a0;
            while c0 < a1 {
                let c1 = (c0 + self.max_span()).min(a1);
                self.write_chunk(data, offset, c0, c1)?;
                c0 = c1;
            }
            Ok(())
        })?;
        Ok(data.len())
    }

    /// Writes the aligned span `[c0, c1)` that holds part of `data` (which starts at
    /// `offset`), reading the partial head and tail blocks first.
    fn write_chunk(&self, data: &[u8], offset: u64, c0: u64, c1: u64) -> io::Result<()> {
        let end = offset + data.len() as u64;
        let block = self.alignment.offset() as u64;
        let mut span = AlignedBuf::zeroed((c1 - c0) as usize, self.buf_align());
        let mut fills = Vec::new();
        if c0 < offset {
            fills.push(c0);
        }
        if c1 > end && (fills.is_empty() || c1 - block != c0) {
            fills.push(c1 - block);
        }
        let ops = fills
            .iter()
            .map(|&at| Op::read(&self.fd, self.blocks.get(), at))
            .collect();
        for (at, BufResult(res, blk)) in fills.iter().zip(self.run(ops)?) {
            let n = res?;
            let at = (at - c0) as usize;
            // Past the end of the file the block reads short; the rest stays zero.
            span[at..at + n].copy_from_slice(&blk[..n]);
            self.blocks.put(blk);
        }
        let (d0, d1) = (offset.max(c0), end.min(c1));
        span[(d0 - c0) as usize..(d1 - c0) as usize]
            .copy_from_slice(&data[(d0 - offset) as usize..(d1 - offset) as usize]);
        let BufResult(res, _) = self.run_one(Op::write(&self.fd, span, c0))?;
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
    fn with_size_lock(
        &self,
        a1: u64,
        end: u64,
        write: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        let guard = lock(&self.size_lock);
        let size = self.len()?;
        if a1 <= size {
            drop(guard);
            return write();
        }
        let r = write();
        let want = size.max(end);
        if self.len()? > want {
            self.file.set_len(want)?;
        }
        drop(guard);
        r
    }

    fn lock_range(&self, a0: u64, a1: u64) -> RangeGuard<'_> {
        let mut ranges = lock(&self.ranges);
        while ranges.iter().any(|&(s, e)| s < a1 && a0 < e) {
            ranges = self
                .range_freed
                .wait(ranges)
                .unwrap_or_else(|e| e.into_inner());
        }
        ranges.push((a0, a1));
        RangeGuard {
            file: self,
            range: (a0, a1),
        }
    }

    /// Reads into an aligned buffer without copying: fills up to `buf.capacity()` bytes
    /// at `offset`. The buffer comes back in every case.
    ///
    /// # Errors
    /// An [`AlignmentError`](crate::align::AlignmentError) (as `InvalidInput`) naming the
    /// required alignment when the address, offset or capacity is misaligned; the
    /// kernel's error otherwise.
    pub fn read_aligned(&self, buf: AlignedBuf, offset: u64) -> BufResult<usize, AlignedBuf> {
        if let Err(e) = self
            .alignment
            .check(buf.as_ptr() as usize, buf.capacity(), offset)
        {
            return BufResult(Err(e.into()), buf);
        }
        match self.run_one(Op::read(&self.fd, buf, offset)) {
            Ok(r) => r,
            Err(e) => BufResult(Err(e), AlignedBuf::zeroed(0, 1)),
        }
    }

    /// Writes an aligned buffer without copying: its `len()` bytes at `offset`. The buffer
    /// comes back in every case.
    ///
    /// # Errors
    /// As [`read_aligned`](DirectFile::read_aligned), for the address, offset and length.
    pub fn write_aligned(&self, buf: AlignedBuf, offset: u64) -> BufResult<usize, AlignedBuf> {
        if let Err(e) = self
            .alignment
            .check(buf.as_ptr() as usize, buf.len(), offset)
        {
            return BufResult(Err(e.into()), buf);
        }
        let end = offset + buf.len() as u64;
        let _range = self.lock_range(offset, end);
        let mut out = None;
        let r = self.with_size_lock(end, end, || {
            let r = self.run_one(Op::write(&self.fd, buf, offset))?;
            out = Some(r);
            Ok(())
        });
        match (r, out) {
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

impl fmt::Debug for DirectFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectFile")
            .field("fd", &self.file.as_raw_fd())
            .field("alignment", &self.alignment)
            .field("engine", &self.ring.engine_kind())
            .finish()
    }
}
