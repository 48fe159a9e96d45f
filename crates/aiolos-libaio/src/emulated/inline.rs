//! Buffered reads and writes done inside `io_submit`, as kernel AIO does them.
//!
//! Kernel AIO is synchronous for buffered files: `io_submit` copies a write into the page
//! cache and serves a read from it before returning, so the event is in the ring at once
//! (`io_getevents` with `min_nr = 0` finds it) and a written buffer may be reused as soon
//! as `io_submit` returns (sysbench refills its buffer right away). The emulation does the
//! same where it costs nothing: it tries each buffered read and write with `RWF_NOWAIT`
//! (`preadv2`/`pwritev2`), which completes at once when the page cache can serve it, the
//! same system call and copy kernel AIO makes.
//!
//! Only what would block differs:
//! - a read that misses the page cache is handed to the engine (io_uring's workers or the
//!   pool), so the submitting thread does not wait for the disk: the point of the `uring`
//!   engine. Part of a read that was cached is kept, and the rest is read by the engine.
//! - a write that would block (a page to read in, blocks to allocate, dirty-page
//!   throttling, `RWF_DSYNC`) is finished inside `io_submit` without `RWF_NOWAIT`, as
//!   kernel AIO finishes it: the buffer is free when `io_submit` returns, and writes land
//!   in submission order. No copy of the data is made.
//!
//! A request that asked for `RWF_NOWAIT` itself gets exactly what `preadv2`/`pwritev2`
//! give it, as with kernel AIO (`-EAGAIN` in its event rather than a wait).
//!
//! # Safety
//!
//! The iovecs name the caller's buffers; the kernel validates them (an `EFAULT` goes into
//! the request's event, as kernel AIO reports it).
#![allow(unsafe_code)]

use super::fdinfo;
use super::load::{Rw, RWF_NOWAIT};
use crate::sys;
use aiolos::sys::{Errno, IoVec};
use std::os::fd::RawFd;

/// What became of a request tried inside `io_submit`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Complete: bytes transferred or a negated errno, for the event.
    Done(i64),
    /// Refused at submission (`io_submit` returns this error for it).
    Refused(Errno),
    /// A read that would block: the first `done` bytes are in; the engine reads the rest.
    Rest { done: usize },
}

/// Whether a request is done here: buffered, and on something the page cache, a stream or
/// a character device serves; or a read of an anonymous file (an eventfd, a timerfd, a
/// signalfd), which is done here if it can be done without blocking (an `O_NONBLOCK` one
/// always can: kernel AIO answers its reads at once, `EAGAIN` where there is nothing).
pub(super) fn applies(rw: &Rw) -> bool {
    !rw.kind.direct()
        && (rw.kind.cached_storage()
            || rw.kind.stream()
            || rw.kind.char_device()
            || (rw.kind.anonymous() && !rw.write))
        && !cfg!(miri)
}

fn io(rw: &Rw, iov: &[IoVec], offset: i64, flags: i32) -> Result<usize, Errno> {
    let off = if rw.kind.stream() || rw.kind.anonymous() {
        -1
    } else {
        offset
    };
    loop {
        // SAFETY: iov is a live array of iovecs naming the caller's buffers, which the
        // kernel checks.
        let r = unsafe {
            if rw.write {
                sys::pwritev2(rw.fd, iov, off, flags)
            } else {
                sys::preadv2(rw.fd, iov, off, flags)
            }
        };
        match r {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// A poll as kernel AIO starts it inside `io_submit`: the events of `events` (with
/// `POLLERR` and `POLLHUP`, which are always reported) that `fd` has now, or 0.
///
/// # Errors
/// `EBADF` for a descriptor that is not open.
#[cfg(not(miri))]
pub(super) fn poll_now(fd: RawFd, events: u16) -> Result<u16, Errno> {
    use rustix::event::{PollFd, PollFlags};
    let wanted = PollFlags::from_bits_retain(events) | PollFlags::ERR | PollFlags::HUP;
    let mut pfd = [PollFd::from_borrowed_fd(crate::fds::borrow(fd)?, wanted)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        match rustix::event::poll(&mut pfd, Some(&zero)) {
            Ok(_) => return Ok((pfd[0].revents() & wanted).bits()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Miri cannot poll: every poll goes to the engine.
#[cfg(miri)]
pub(super) fn poll_now(_fd: RawFd, _events: u16) -> Result<u16, Errno> {
    Ok(0)
}

/// The iovecs past the first `skip` bytes.
pub(super) fn skip(iov: &[IoVec], mut skip: usize) -> Vec<IoVec> {
    let mut out = Vec::with_capacity(iov.len());
    for v in iov {
        if skip >= v.len {
            skip -= v.len;
            continue;
        }
        out.push(IoVec {
            base: v.base + skip,
            len: v.len - skip,
        });
        skip = 0;
    }
    out
}

/// The errors a read or write reports at submission rather than in its event.
fn refusal(rw: &Rw, e: Errno) -> Option<Errno> {
    match e.0 {
        e if e == Errno::BADF.0 => {
            fdinfo::forget(rw.fd);
            Some(Errno::BADF)
        }
        // No read or write method (a directory that replaced a remembered file).
        e if e == Errno::ISDIR.0 => {
            fdinfo::forget(rw.fd);
            Some(Errno::INVAL)
        }
        _ => None,
    }
}

/// Does `rw` inside `io_submit` as far as it goes without blocking (reads) or at all
/// (writes).
pub(super) fn run(rw: &Rw) -> Outcome {
    let total = rw.len();
    let asked_nowait = rw.flags & RWF_NOWAIT != 0;
    match io(rw, &rw.iov, rw.offset, rw.flags | RWF_NOWAIT) {
        // A stream gives what it has, as a blocking read of it would.
        Ok(n)
            if n == total
                || n == 0
                || asked_nowait
                || ((rw.kind.stream() || rw.kind.anonymous()) && !rw.write) =>
        {
            Outcome::Done(n as i64)
        }
        Ok(n) if !rw.write => read_on(rw, n),
        Ok(n) => finish_write(rw, n),
        Err(Errno::AGAIN) if asked_nowait => Outcome::Done(-i64::from(Errno::AGAIN.0)),
        // A buffered write the file system cannot promise not to block: kernel AIO takes
        // the request and its write method fails it, so the error is in the event. (A file
        // with no RWF_NOWAIT support at all is refused at submission, as on the kernel.)
        Err(Errno::OPNOTSUPP) if asked_nowait && rw.write && rw.kind.cached_storage() => {
            Outcome::Done(-i64::from(Errno::OPNOTSUPP.0))
        }
        Err(Errno::OPNOTSUPP) if asked_nowait => Outcome::Refused(Errno::OPNOTSUPP),
        // The file cannot say (no FMODE_NOWAIT), as a directory cannot: if a remembered
        // kind was stale (the number closed and reused for a directory), the kernel refuses
        // the request at submission, as a directory has no read method.
        Err(Errno::OPNOTSUPP) if !rw.kind.directory() && now_a_directory(rw.fd) => {
            Outcome::Refused(Errno::INVAL)
        }
        // A file that is itself O_NONBLOCK (a socket, a pipe, an eventfd, a timerfd) cannot
        // block a read: kernel AIO's, done inside io_submit, answers at once (EAGAIN where
        // there is nothing), so this one is done here too, without RWF_NOWAIT, which such
        // a file may not support. (O_NONBLOCK means nothing to the page cache's reads.)
        // Its flags are asked afresh: the program may have changed them since this thread
        // remembered them.
        Err(Errno::AGAIN | Errno::OPNOTSUPP)
            if !rw.write && !rw.kind.cached_storage() && nonblocking_now(rw.fd) =>
        {
            match io(rw, &rw.iov, rw.offset, rw.flags) {
                Ok(n) => Outcome::Done(n as i64),
                Err(e) => match refusal(rw, e) {
                    Some(r) => Outcome::Refused(r),
                    None => Outcome::Done(-i64::from(e.0)),
                },
            }
        }
        // Would block, or the file cannot say.
        Err(Errno::AGAIN | Errno::OPNOTSUPP) if !rw.write => Outcome::Rest { done: 0 },
        Err(Errno::AGAIN | Errno::OPNOTSUPP) => finish_write(rw, 0),
        Err(e) if e == Errno::SPIPE && !rw.kind.stream() => {
            // Not seekable after all (a remembered kind was stale): as a stream.
            fdinfo::forget(rw.fd);
            let mut stream = Rw {
                iov: rw.iov.clone(),
                ..*rw
            };
            stream.kind.fmt = rustix::fs::FileType::Fifo;
            run(&stream)
        }
        Err(e) => match refusal(rw, e) {
            Some(r) => Outcome::Refused(r),
            None => Outcome::Done(-i64::from(e.0)),
        },
    }
}

/// Whether `fd` is `O_NONBLOCK` now (asking the kernel afresh, which also renews what this
/// thread remembers of it).
fn nonblocking_now(fd: i32) -> bool {
    fdinfo::kind(fd, true).is_ok_and(|k| k.flags.contains(rustix::fs::OFlags::NONBLOCK))
}

/// Whether `fd` is a directory now (asking the kernel afresh, as above).
fn now_a_directory(fd: i32) -> bool {
    fdinfo::kind(fd, true).is_ok_and(|k| k.directory())
}

/// The rest of a read of a cached file that stopped short after `done` bytes: at the end
/// of the file, at a buffer page that cannot be written, or at a page the cache does not
/// have. Asked again without blocking, the kernel says which: 0 at the end, or an error
/// (`EFAULT`) where a blocking read would have stopped too, and the read is complete with
/// the `done` bytes, as kernel AIO completes it inside `io_submit`; `EAGAIN` at a missing
/// page, and the engine reads from there.
fn read_on(rw: &Rw, mut done: usize) -> Outcome {
    let total = rw.len();
    while done < total {
        let rest = skip(&rw.iov, done);
        match io(rw, &rest, rw.offset + done as i64, rw.flags | RWF_NOWAIT) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::AGAIN) => return Outcome::Rest { done },
            Err(_) => break,
        }
    }
    Outcome::Done(done as i64)
}

/// The rest of a write that would have blocked, written as kernel AIO writes it: in
/// `io_submit`, waiting if it must.
fn finish_write(rw: &Rw, done: usize) -> Outcome {
    let rest = skip(&rw.iov, done);
    match io(rw, &rest, rw.offset + done as i64, rw.flags) {
        Ok(n) => Outcome::Done((done + n) as i64),
        Err(_) if done > 0 => Outcome::Done(done as i64),
        Err(e) => match refusal(rw, e) {
            Some(r) => Outcome::Refused(r),
            None => Outcome::Done(-i64::from(e.0)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn rw(fd: i32, write: bool, buf: &mut [u8], offset: i64, flags: i32) -> Rw {
        Rw {
            write,
            fd,
            kind: fdinfo::kind(fd, true).unwrap(),
            iov: vec![IoVec {
                base: buf.as_mut_ptr() as usize,
                len: buf.len(),
            }],
            offset,
            flags,
            ioprio: None,
        }
    }

    #[test]
    fn skipping_bytes_drops_whole_iovecs_and_trims_the_next() {
        let mut a = [0u8; 4];
        let mut b = [0u8; 6];
        let iov = [
            IoVec {
                base: a.as_mut_ptr() as usize,
                len: 4,
            },
            IoVec {
                base: b.as_mut_ptr() as usize,
                len: 6,
            },
        ];
        let rest = skip(&iov, 5);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].len, 5);
        assert_eq!(rest[0].base, b.as_ptr() as usize + 1);
        assert_eq!(skip(&iov, 4).len(), 1);
        assert!(skip(&iov, 10).is_empty());
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no preadv2")]
    fn a_cached_write_and_read_complete_inside_the_call() {
        let file = tempfile::tempfile().unwrap();
        let fd = file.as_raw_fd();
        let mut data = *b"hello, page cache";
        let w = rw(fd, true, &mut data, 100, 0);
        assert!(applies(&w));
        assert_eq!(run(&w), Outcome::Done(17));
        data.fill(0);
        let r = rw(fd, false, &mut data, 100, 0);
        assert_eq!(run(&r), Outcome::Done(17));
        assert_eq!(&data, b"hello, page cache");
        // At the end of the file: 0, also done here.
        let r = rw(fd, false, &mut data, 4096, 0);
        assert_eq!(run(&r), Outcome::Done(0));
        // Cut short by the end of the file: done here with what there is.
        let mut big = [0u8; 64];
        let r = rw(fd, false, &mut big, 110, 0);
        assert_eq!(run(&r), Outcome::Done(7));
        assert_eq!(&big[..7], b"e cache");
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no preadv2")]
    fn an_empty_pipe_read_is_left_to_the_engine_unless_it_asked_for_nowait() {
        let (r, mut w) = std::io::pipe().unwrap();
        let mut buf = [0u8; 8];
        let read = rw(r.as_raw_fd(), false, &mut buf, 0, 0);
        assert!(read.kind.stream() && applies(&read));
        assert_eq!(run(&read), Outcome::Rest { done: 0 });
        let nowait = rw(r.as_raw_fd(), false, &mut buf, 0, RWF_NOWAIT);
        assert_eq!(run(&nowait), Outcome::Done(-i64::from(Errno::AGAIN.0)));
        std::io::Write::write_all(&mut w, b"abc").unwrap();
        // A stream ignores the offset, as kernel AIO does.
        let read = rw(r.as_raw_fd(), false, &mut buf, 77, 0);
        assert_eq!(run(&read), Outcome::Done(3));
        assert_eq!(&buf[..3], b"abc");
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no preadv2")]
    fn a_closed_descriptor_is_refused_and_a_bad_buffer_fails_in_the_event() {
        let file = tempfile::tempfile().unwrap();
        let mut buf = [0u8; 8];
        let mut r = rw(file.as_raw_fd(), false, &mut buf, 0, 0);
        r.fd = 1 << 20;
        assert_eq!(run(&r), Outcome::Refused(Errno::BADF));
        let mut w = rw(file.as_raw_fd(), true, &mut buf, 0, 0);
        w.iov[0].base = 8;
        assert_eq!(run(&w), Outcome::Done(-i64::from(Errno::FAULT.0)));
    }
}
