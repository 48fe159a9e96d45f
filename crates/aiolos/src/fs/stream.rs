//! The stream side of [`File`](super::File): a cursor and owned buffers over the
//! positional requests, for `AsyncRead`/`AsyncBufRead`/`AsyncWrite`/`AsyncSeek` (tokio's,
//! with the `tokio` feature; futures', with `futures-io`).
//!
//! - **Reads** go through one owned buffer. A read that filled the whole buffer means the
//!   reader is going through the file: the read of the next window is sent at once
//!   (read-ahead), so the kernel works while the caller consumes. A seek or a write drops
//!   the buffer and the read ahead (which the ring cancels and frees when the kernel is
//!   done).
//! - **Writes** are written behind: `poll_write` copies into an owned buffer and returns;
//!   one write is in flight at a time, and what comes meanwhile gathers in the next buffer
//!   (up to `max_buf_size`). A failed write is reported by the next `poll_write`,
//!   `poll_flush` or `poll_shutdown`. A write-behind request is not cancelled if the file
//!   is dropped: it completes, as tokio's would; data still gathering (not yet sent) is
//!   lost, so flush before dropping, as with tokio.

use super::driver::Driver;
use super::erased::ErasedBuf;
use super::meta::Metadata;
use super::request::{ReadAt, Request, WriteAt};
use crate::buf::BufResult;
use crate::op::{Fd, Op};
use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// tokio's default: the largest buffer of one stream read or write.
const DEFAULT_MAX_BUF: usize = 2 * 1024 * 1024;
/// The smallest read the stream sends (small reads, e.g. 8 KiB from a `BufReader`, are
/// served from one larger request).
const MIN_READ: usize = 64 * 1024;

type SizeFuture = Pin<Box<dyn Future<Output = io::Result<Metadata>> + Send>>;

enum Seek {
    /// Asked for, not started.
    Asked(SeekFrom),
    /// Waiting for the file's size, to seek `i64` from the end.
    Size(i64, SizeFuture),
}

/// A read sent ahead: in flight, or already done (a request refused at its first poll).
enum Ahead {
    Flight(ReadAt<Vec<u8>>),
    Done(BufResult<usize, Vec<u8>>),
}

impl Ahead {
    /// Polls a read just made once, so that it is pushed now rather than when needed.
    fn send(mut fut: ReadAt<Vec<u8>>, cx: &mut Context<'_>) -> Ahead {
        match Pin::new(&mut fut).poll(cx) {
            Poll::Ready(r) => Ahead::Done(r),
            Poll::Pending => Ahead::Flight(fut),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<BufResult<usize, Vec<u8>>> {
        match self {
            Ahead::Flight(f) => Pin::new(f).poll(cx),
            Ahead::Done(r) => {
                let r = std::mem::replace(r, BufResult(Ok(0), Vec::new()));
                Poll::Ready(r)
            }
        }
    }
}

struct Writing {
    fut: WriteAt<Vec<u8>>,
    /// File offset of the buffer's first byte.
    at: u64,
    /// Bytes of the buffer already written (short writes continue from here).
    done: usize,
}

/// The cursor and buffers of one `File`'s stream interface.
pub(crate) struct Stream {
    pos: u64,
    max_buf: usize,
    /// The size the next read asks for (the caller's last request, at least `MIN_READ`).
    want: usize,
    /// Data read, from file offset `rbuf_at`; `rconsumed` bytes of it were handed out.
    rbuf: Vec<u8>,
    rbuf_at: u64,
    rconsumed: usize,
    /// A read in flight: (offset, size asked, future or its result).
    ahead: Option<(u64, usize, Ahead)>,
    /// Bytes gathering to be written at `wnext_at` once the write in flight is done.
    wnext: Vec<u8>,
    wnext_at: u64,
    writing: Option<Writing>,
    /// A write-behind error not yet reported.
    werr: Option<io::Error>,
    seek: Option<Seek>,
}

impl Stream {
    /// A stream whose cursor is at `pos`.
    pub(crate) fn at(pos: u64) -> Stream {
        Stream {
            pos,
            max_buf: DEFAULT_MAX_BUF,
            want: MIN_READ,
            rbuf: Vec::new(),
            rbuf_at: 0,
            rconsumed: 0,
            ahead: None,
            wnext: Vec::new(),
            wnext_at: 0,
            writing: None,
            werr: None,
            seek: None,
        }
    }

    /// The cursor, as the caller sees it.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn max_buf_size(&self) -> usize {
        self.max_buf
    }

    pub(crate) fn set_max_buf_size(&mut self, n: usize) {
        self.max_buf = n.max(1);
    }

    /// A seek was started and has not completed.
    #[cfg_attr(not(feature = "futures-io"), allow(dead_code))]
    pub(crate) fn is_seeking(&self) -> bool {
        self.seek.is_some()
    }

    /// No write is pending or gathering, and no seek is under way.
    pub(crate) fn is_idle(&self) -> bool {
        self.writing.is_none() && self.wnext.is_empty() && self.seek.is_none()
    }

    /// Drops the read buffer and the read ahead (its request is cancelled).
    pub(crate) fn forget_read_buffer(&mut self) {
        self.rbuf.clear();
        self.rconsumed = 0;
        self.ahead = None;
    }

    /// Sets the size the next read asks for from the caller's buffer size.
    pub(crate) fn hint(&mut self, n: usize) {
        self.want = n.clamp(MIN_READ.min(self.max_buf), self.max_buf.max(1));
    }

    fn start_read(&mut self, fd: &Fd, driver: &Driver, at: u64, cx: &mut Context<'_>) {
        let size = self.want;
        let mut buf = std::mem::take(&mut self.rbuf);
        buf.clear();
        buf.reserve_exact(size);
        let op = Op::read(fd, ErasedBuf::writable(buf, 0), at);
        let fut = ReadAt::new(Request::new(driver.shared(), op));
        self.ahead = Some((at, size, Ahead::send(fut, cx)));
    }

    /// Data at the cursor: a non-empty slice, or an empty one at the end of the file.
    pub(crate) fn poll_fill(
        &mut self,
        fd: &Fd,
        driver: &Driver,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&[u8]>> {
        loop {
            if self.rconsumed < self.rbuf.len() {
                return Poll::Ready(Ok(&self.rbuf[self.rconsumed..]));
            }
            // Written-behind data must be in the file before it is read back.
            ready!(self.poll_flush(fd, driver, cx))?;
            let Some((at, asked, fut)) = self.ahead.as_mut() else {
                let pos = self.pos;
                self.start_read(fd, driver, pos, cx);
                continue;
            };
            if *at != self.pos {
                self.ahead = None;
                continue;
            }
            let (at, asked) = (*at, *asked);
            let BufResult(r, buf) = ready!(fut.poll(cx));
            self.ahead = None;
            self.rbuf = buf;
            self.rbuf_at = at;
            self.rconsumed = 0;
            let n = match r {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.rbuf.clear();
                    return Poll::Ready(Err(e));
                }
            };
            if n == 0 {
                return Poll::Ready(Ok(&[]));
            }
            if n == asked {
                // The whole window came back: read the next one ahead, in a buffer of its
                // own (the ring owns it until the request completes).
                let next = at + n as u64;
                let size = self.want;
                let op = Op::read(
                    fd,
                    ErasedBuf::writable(Vec::<u8>::with_capacity(size), 0),
                    next,
                );
                let fut = ReadAt::new(Request::new(driver.shared(), op));
                self.ahead = Some((next, size, Ahead::send(fut, cx)));
            }
        }
    }

    /// Marks `n` bytes of what [`Stream::poll_fill`] returned as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.rbuf.len() - self.rconsumed);
        self.rconsumed += n;
        self.pos += n as u64;
    }

    /// Advances the write in flight, and sends the gathered bytes when it is done. Returns
    /// whether a write is (still) in flight. A failure is kept in `werr`.
    fn progress(&mut self, fd: &Fd, driver: &Driver, cx: &mut Context<'_>) -> bool {
        loop {
            if let Some(w) = self.writing.as_mut() {
                let BufResult(r, buf) = match Pin::new(&mut w.fut).poll(cx) {
                    Poll::Pending => return true,
                    Poll::Ready(v) => v,
                };
                let (at, done) = (w.at, w.done);
                self.writing = None;
                match r {
                    Ok(0) if done < buf.len() => {
                        self.werr = Some(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "failed to write whole buffer",
                        ));
                    }
                    Ok(n) if done + n < buf.len() => {
                        self.send_write(fd, driver, buf, at, done + n);
                        continue;
                    }
                    Ok(_) => {
                        if self.wnext.capacity() == 0 {
                            let mut buf = buf;
                            buf.clear();
                            self.wnext = buf;
                        }
                    }
                    Err(e) => self.werr = Some(e),
                }
            }
            if self.werr.is_some() || self.wnext.is_empty() {
                return false;
            }
            let buf = std::mem::take(&mut self.wnext);
            let at = self.wnext_at;
            self.send_write(fd, driver, buf, at, 0);
        }
    }

    fn send_write(&mut self, fd: &Fd, driver: &Driver, buf: Vec<u8>, at: u64, done: usize) {
        let op = Op::write(fd, ErasedBuf::read_only(buf, done), at + done as u64);
        let mut req = Request::new(driver.shared(), op);
        // A write behind completes even if the file is dropped, as tokio's does.
        req.keep_on_drop();
        self.writing = Some(Writing {
            fut: WriteAt::new(req),
            at,
            done,
        });
    }

    /// `poll_write`: gathers `src` to be written at the cursor.
    pub(crate) fn poll_write(
        &mut self,
        fd: &Fd,
        driver: &Driver,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !self.rbuf.is_empty() || self.ahead.is_some() {
            self.forget_read_buffer();
        }
        let in_flight = self.progress(fd, driver, cx);
        if let Some(e) = self.werr.take() {
            self.wnext.clear();
            return Poll::Ready(Err(e));
        }
        let room = self.max_buf.saturating_sub(self.wnext.len());
        if room == 0 {
            // Full, and a write is in flight (else progress would have sent it).
            return Poll::Pending;
        }
        if self.wnext.is_empty() {
            self.wnext_at = self.pos;
        }
        let n = room.min(src.len());
        self.wnext.extend_from_slice(&src[..n]);
        self.pos += n as u64;
        if !in_flight {
            self.progress(fd, driver, cx);
        }
        Poll::Ready(Ok(n))
    }

    /// `poll_flush`: waits until every byte written is in the file (or reports why not).
    pub(crate) fn poll_flush(
        &mut self,
        fd: &Fd,
        driver: &Driver,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.writing.is_none() && self.wnext.is_empty() && self.werr.is_none() {
            return Poll::Ready(Ok(()));
        }
        let in_flight = self.progress(fd, driver, cx);
        if let Some(e) = self.werr.take() {
            self.wnext.clear();
            return Poll::Ready(Err(e));
        }
        if in_flight {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// `start_seek`.
    pub(crate) fn start_seek(&mut self, to: SeekFrom) -> io::Result<()> {
        if self.seek.is_some() {
            return Err(io::Error::other(
                "other file operation is pending, call poll_complete before start_seek",
            ));
        }
        self.seek = Some(Seek::Asked(to));
        Ok(())
    }

    /// `poll_complete`: finishes a seek (after the pending writes), or returns the cursor.
    pub(crate) fn poll_complete(
        &mut self,
        fd: &Fd,
        driver: &Driver,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u64>> {
        if let Err(e) = ready!(self.poll_flush(fd, driver, cx)) {
            self.seek = None;
            return Poll::Ready(Err(e));
        }
        let target = match self.seek.take() {
            None => return Poll::Ready(Ok(self.pos)),
            Some(Seek::Asked(SeekFrom::Start(n))) => Some(n),
            Some(Seek::Asked(SeekFrom::Current(d))) => self.pos.checked_add_signed(d),
            Some(Seek::Asked(SeekFrom::End(d))) => {
                let (f, dr) = (fd.clone(), driver.clone());
                let fut: SizeFuture = Box::pin(async move {
                    super::path::statx(
                        &dr,
                        Some(f),
                        std::ffi::CString::default(),
                        crate::sys::path::AT_EMPTY_PATH,
                    )
                    .await
                });
                self.seek = Some(Seek::Size(d, fut));
                return self.poll_complete(fd, driver, cx);
            }
            Some(Seek::Size(d, mut fut)) => match fut.as_mut().poll(cx) {
                Poll::Pending => {
                    self.seek = Some(Seek::Size(d, fut));
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(m)) => m.len().checked_add_signed(d),
            },
        };
        let Some(to) = target else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )));
        };
        self.move_to(to);
        Poll::Ready(Ok(to))
    }

    /// Moves the cursor, keeping the read buffer if `to` falls inside it.
    fn move_to(&mut self, to: u64) {
        let end = self.rbuf_at + self.rbuf.len() as u64;
        if !self.rbuf.is_empty() && to >= self.rbuf_at && to <= end {
            self.rconsumed = (to - self.rbuf_at) as usize;
        } else {
            self.forget_read_buffer();
        }
        self.pos = to;
    }
}
