//! Operations: what a request asks the kernel to do, with the buffers it owns.
//!
//! Each constructor takes the required fields (descriptor, buffers, offset); options such
//! as [`Op::user_data`], [`Op::rw_flags`], [`Op::ioprio`] and [`Op::eventfd`] follow as
//! builder methods with defaults. An op owns its buffers and a handle on its descriptor,
//! so neither can be freed or reused while the request is in flight.
//!
//! # Examples
//! ```
//! use aiolos::{Fd, Op, OpCode, RwFlags};
//! let file = Fd::from(std::fs::File::open("/dev/zero")?);
//! let read = Op::read(&file, Vec::with_capacity(4096), 0).user_data(1);
//! let write = Op::write(&file, vec![0u8; 512], 4096).rw_flags(RwFlags::NOWAIT);
//! let gather = Op::readv(&file, vec![Vec::with_capacity(512); 2], 8192);
//! let sync = Op::<Vec<u8>>::fdatasync(&file);
//! assert_eq!(read.opcode(), OpCode::Read);
//! assert_eq!(gather.into_bufs().len(), 2);
//! # let _ = (write, sync);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Safety
//!
//! [`Fd::from_raw`] is the one unsafe entry: its caller promises to keep the descriptor
//! open while requests use it, as `BorrowedFd::borrow_raw` requires.
#![allow(unsafe_code)]

use crate::buf::IoBufMut;
use rustix::io::ReadWriteFlags;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// A file descriptor held by a request: either shared ownership of an open file (the
/// descriptor stays open until every request using it has completed) or, for callers that
/// manage descriptors themselves, a raw number.
#[derive(Clone, Debug)]
pub struct Fd(FdInner);

#[derive(Clone, Debug)]
enum FdInner {
    Shared(Arc<OwnedFd>),
    Raw(RawFd),
}

impl Fd {
    /// A request handle on a descriptor that the caller keeps open.
    ///
    /// # Safety
    /// `fd` must stay open, and refer to the same file, until every request using this
    /// handle has completed; otherwise a request may act on whatever file reuses the number.
    /// (Every engine takes hold of the file when a request is submitted, so closing the
    /// number after [`Ring::submit`](crate::Ring::submit) only risks requests still queued.)
    pub unsafe fn from_raw(fd: RawFd) -> Fd {
        Fd(FdInner::Raw(fd))
    }

    /// The descriptor number.
    pub fn as_raw(&self) -> RawFd {
        match &self.0 {
            FdInner::Shared(f) => f.as_raw_fd(),
            FdInner::Raw(fd) => *fd,
        }
    }

    /// The descriptor itself, if no other handle (a request in flight, a clone) holds it.
    pub(crate) fn try_into_owned(self) -> Result<OwnedFd, Fd> {
        match self.0 {
            FdInner::Shared(a) => Arc::try_unwrap(a).map_err(|a| Fd(FdInner::Shared(a))),
            raw => Err(Fd(raw)),
        }
    }

    /// Whether this handle merely names a descriptor the caller keeps open
    /// ([`Fd::from_raw`]) rather than holding the file open itself.
    pub(crate) fn is_borrowed(&self) -> bool {
        matches!(self.0, FdInner::Raw(_))
    }
}

impl AsFd for Fd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.0 {
            FdInner::Shared(f) => f.as_fd(),
            // SAFETY: Fd::from_raw's contract keeps the descriptor open while this handle
            // (and so the borrow) lives.
            FdInner::Raw(fd) => unsafe { BorrowedFd::borrow_raw(*fd) },
        }
    }
}

impl From<OwnedFd> for Fd {
    fn from(fd: OwnedFd) -> Fd {
        Fd(FdInner::Shared(Arc::new(fd)))
    }
}

impl From<File> for Fd {
    fn from(f: File) -> Fd {
        Fd::from(OwnedFd::from(f))
    }
}

impl From<Arc<OwnedFd>> for Fd {
    fn from(fd: Arc<OwnedFd>) -> Fd {
        Fd(FdInner::Shared(fd))
    }
}

impl From<&Fd> for Fd {
    fn from(fd: &Fd) -> Fd {
        fd.clone()
    }
}

/// Poll readiness bits, as in `poll(2)`: what [`Op::poll`] waits for, and what its
/// completion reports.
pub mod events {
    use rustix::event::PollFlags;

    /// Readable.
    pub const POLLIN: i16 = PollFlags::IN.bits() as i16;
    /// Writable.
    pub const POLLOUT: i16 = PollFlags::OUT.bits() as i16;
    /// Urgent data.
    pub const POLLPRI: i16 = PollFlags::PRI.bits() as i16;
    /// Error condition.
    pub const POLLERR: i16 = PollFlags::ERR.bits() as i16;
    /// Hang-up.
    pub const POLLHUP: i16 = PollFlags::HUP.bits() as i16;
    /// Invalid descriptor.
    pub const POLLNVAL: i16 = PollFlags::NVAL.bits() as i16;
}

/// Per-request `RWF_*` flags for reads and writes (`preadv2(2)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RwFlags(pub i32);

impl RwFlags {
    /// No flags.
    pub const NONE: RwFlags = RwFlags(0);
    /// `RWF_NOWAIT`: fail with `EAGAIN` rather than block (page cache miss, lock).
    pub const NOWAIT: RwFlags = RwFlags(ReadWriteFlags::NOWAIT.bits() as i32);
    /// `RWF_DSYNC`: this write is durable (data) when it completes.
    pub const DSYNC: RwFlags = RwFlags(ReadWriteFlags::DSYNC.bits() as i32);
    /// `RWF_SYNC`: this write is durable (data and metadata) when it completes.
    pub const SYNC: RwFlags = RwFlags(ReadWriteFlags::SYNC.bits() as i32);
    /// `RWF_HIPRI`: polled completion on devices that support it.
    pub const HIPRI: RwFlags = RwFlags(ReadWriteFlags::HIPRI.bits() as i32);
}

impl std::ops::BitOr for RwFlags {
    type Output = RwFlags;
    fn bitor(self, rhs: RwFlags) -> RwFlags {
        RwFlags(self.0 | rhs.0)
    }
}

/// The kind of an operation, for engines to answer "do you support this?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// Positional read into one buffer.
    Read,
    /// Positional write from one buffer.
    Write,
    /// Positional read into several buffers.
    Readv,
    /// Positional write from several buffers.
    Writev,
    /// `fsync`.
    Fsync,
    /// `fdatasync`.
    Fdatasync,
    /// Wait for poll readiness.
    Poll,
    /// Do nothing (completes with 0).
    Nop,
    /// Open a file relative to a directory (`openat(2)`); the result is the new descriptor.
    OpenAt,
    /// File metadata into a buffer (`statx(2)`).
    Statx,
    /// Remove a name (`unlinkat(2)`).
    UnlinkAt,
    /// Rename (`renameat2(2)`).
    RenameAt,
    /// Make a directory (`mkdirat(2)`).
    MkdirAt,
    /// Make a hard link (`linkat(2)`).
    LinkAt,
    /// Make a symbolic link (`symlinkat(2)`).
    SymlinkAt,
    /// Allocate or deallocate file space (`fallocate(2)`).
    Fallocate,
    /// Set the file's length (`ftruncate(2)`).
    Ftruncate,
}

/// What a request does and the buffers it owns.
#[derive(Debug)]
pub(crate) enum Kind<B> {
    Read {
        buf: B,
        offset: u64,
    },
    Write {
        buf: B,
        offset: u64,
    },
    Readv {
        bufs: Vec<B>,
        offset: u64,
    },
    Writev {
        bufs: Vec<B>,
        offset: u64,
    },
    Fsync,
    Fdatasync,
    Poll {
        events: i16,
    },
    Nop,
    OpenAt {
        path: CString,
        flags: i32,
        mode: u32,
        orphan: Option<OwnedFd>,
    },
    Statx {
        path: CString,
        flags: i32,
        mask: u32,
        buf: B,
    },
    UnlinkAt {
        path: CString,
        flags: i32,
    },
    RenameAt {
        from: CString,
        to: CString,
        flags: u32,
    },
    MkdirAt {
        path: CString,
        mode: u32,
    },
    LinkAt {
        from: CString,
        to: CString,
        flags: i32,
    },
    SymlinkAt {
        target: CString,
        link: CString,
    },
    Fallocate {
        offset: u64,
        len: u64,
        mode: i32,
    },
    Ftruncate {
        len: u64,
    },
}

/// One request: an operation on a descriptor, its buffers and its options.
#[derive(Debug)]
#[must_use = "an Op does nothing until it is pushed to a Ring"]
pub struct Op<B> {
    pub(crate) fd: Option<Fd>,
    pub(crate) kind: Kind<B>,
    pub(crate) user_data: u64,
    pub(crate) rw_flags: RwFlags,
    pub(crate) ioprio: Option<u16>,
    pub(crate) eventfd: Option<Fd>,
}

impl<B: IoBufMut> Op<B> {
    fn new(fd: Option<Fd>, kind: Kind<B>) -> Op<B> {
        Op {
            fd,
            kind,
            user_data: 0,
            rw_flags: RwFlags::NONE,
            ioprio: None,
            eventfd: None,
        }
    }

    /// Reads up to `buf.bytes_total()` bytes at `offset` into `buf`.
    #[doc(alias = "IOCB_CMD_PREAD")]
    #[doc(alias = "IORING_OP_READ")]
    pub fn read(fd: impl Into<Fd>, buf: B, offset: u64) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Read { buf, offset })
    }

    /// Writes `buf.bytes_init()` bytes from `buf` at `offset`.
    #[doc(alias = "IOCB_CMD_PWRITE")]
    #[doc(alias = "IORING_OP_WRITE")]
    pub fn write(fd: impl Into<Fd>, buf: B, offset: u64) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Write { buf, offset })
    }

    /// Reads into several buffers, in order, starting at `offset`.
    #[doc(alias = "IOCB_CMD_PREADV")]
    pub fn readv(fd: impl Into<Fd>, bufs: Vec<B>, offset: u64) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Readv { bufs, offset })
    }

    /// Writes several buffers, in order, starting at `offset`.
    #[doc(alias = "IOCB_CMD_PWRITEV")]
    pub fn writev(fd: impl Into<Fd>, bufs: Vec<B>, offset: u64) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Writev { bufs, offset })
    }

    /// Flushes the file's data and metadata (`fsync(2)`). Covers writes that completed
    /// before it was submitted.
    #[doc(alias = "IOCB_CMD_FSYNC")]
    pub fn fsync(fd: impl Into<Fd>) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Fsync)
    }

    /// Flushes the file's data (`fdatasync(2)`).
    #[doc(alias = "IOCB_CMD_FDSYNC")]
    pub fn fdatasync(fd: impl Into<Fd>) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Fdatasync)
    }

    /// Completes when the descriptor has any of `events` ([`events::POLLIN`], ...); the
    /// result is the ready mask.
    #[doc(alias = "IOCB_CMD_POLL")]
    pub fn poll(fd: impl Into<Fd>, events: i16) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Poll { events })
    }

    /// Does nothing; completes with 0. Useful to wake a waiter or measure overhead.
    pub fn nop() -> Op<B> {
        Op::new(None, Kind::Nop)
    }

    /// Opens `path` relative to the directory `dir` (the current directory with `None`)
    /// with `O_*` `flags` and the creation `mode`. The result is the new descriptor's
    /// number, which the taker of the completion owns (wrap it in an `OwnedFd`); a
    /// descriptor opened by a request whose completion nobody takes (an async future
    /// dropped early, or detached) is closed by the ring.
    #[doc(alias = "IORING_OP_OPENAT")]
    pub fn openat(dir: Option<Fd>, path: CString, flags: i32, mode: u32) -> Op<B> {
        let kind = Kind::OpenAt {
            path,
            flags,
            mode,
            orphan: None,
        };
        Op::new(dir, kind)
    }

    /// Metadata of `path` relative to `dir` (the current directory with `None`; with
    /// `AT_EMPTY_PATH` and an empty path, of `dir` itself) into `buf`, which must have room
    /// for a `struct statx` ([`sys::path::STATX_SIZE`](crate::sys::path::STATX_SIZE) bytes):
    /// on success they are marked initialised, and
    /// [`sys::path::parse_statx`](crate::sys::path::parse_statx) reads them.
    #[doc(alias = "IORING_OP_STATX")]
    pub fn statx(dir: Option<Fd>, path: CString, flags: i32, mask: u32, buf: B) -> Op<B> {
        Op::new(
            dir,
            Kind::Statx {
                path,
                flags,
                mask,
                buf,
            },
        )
    }

    /// Removes a name (`AT_REMOVEDIR` in `flags`: an empty directory).
    #[doc(alias = "IORING_OP_UNLINKAT")]
    pub fn unlinkat(dir: Option<Fd>, path: CString, flags: i32) -> Op<B> {
        Op::new(dir, Kind::UnlinkAt { path, flags })
    }

    /// Renames `from` to `to`, both relative to `dir` (`renameat2(2)` flags).
    #[doc(alias = "IORING_OP_RENAMEAT")]
    pub fn renameat(dir: Option<Fd>, from: CString, to: CString, flags: u32) -> Op<B> {
        Op::new(dir, Kind::RenameAt { from, to, flags })
    }

    /// Makes a directory.
    #[doc(alias = "IORING_OP_MKDIRAT")]
    pub fn mkdirat(dir: Option<Fd>, path: CString, mode: u32) -> Op<B> {
        Op::new(dir, Kind::MkdirAt { path, mode })
    }

    /// Makes `to` a hard link to `from`, both relative to `dir`.
    #[doc(alias = "IORING_OP_LINKAT")]
    pub fn linkat(dir: Option<Fd>, from: CString, to: CString, flags: i32) -> Op<B> {
        Op::new(dir, Kind::LinkAt { from, to, flags })
    }

    /// Makes `link` (relative to `dir`) a symbolic link to `target`.
    #[doc(alias = "IORING_OP_SYMLINKAT")]
    pub fn symlinkat(dir: Option<Fd>, target: CString, link: CString) -> Op<B> {
        Op::new(dir, Kind::SymlinkAt { target, link })
    }

    /// Allocates (or, with `FALLOC_FL_*` `mode` bits, deallocates) `len` bytes at `offset`.
    #[doc(alias = "IORING_OP_FALLOCATE")]
    pub fn fallocate(fd: impl Into<Fd>, offset: u64, len: u64, mode: i32) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Fallocate { offset, len, mode })
    }

    /// Sets the file's length.
    #[doc(alias = "IORING_OP_FTRUNCATE")]
    pub fn ftruncate(fd: impl Into<Fd>, len: u64) -> Op<B> {
        Op::new(Some(fd.into()), Kind::Ftruncate { len })
    }

    /// Called when nobody will take this request's completion (`res`): a descriptor it
    /// opened is adopted, to be closed with the op.
    pub(crate) fn adopt_orphan(&mut self, res: i64) {
        if let Kind::OpenAt { orphan, .. } = &mut self.kind {
            if res >= 0 {
                // SAFETY: an openat request's non-negative result is a descriptor the
                // kernel (or the pool's openat) just opened for this request; nobody else
                // has it, since the completion is never handed out.
                *orphan = Some(unsafe { OwnedFd::from_raw_fd(res as RawFd) });
            }
        }
    }

    /// A value returned unchanged in the completion.
    pub fn user_data(mut self, data: u64) -> Op<B> {
        self.user_data = data;
        self
    }

    /// Per-request `RWF_*` flags (reads and writes only).
    pub fn rw_flags(mut self, flags: RwFlags) -> Op<B> {
        self.rw_flags = flags;
        self
    }

    /// The request's I/O priority, in `ioprio_set(2)` format (class << 13 | level).
    pub fn ioprio(mut self, prio: u16) -> Op<B> {
        self.ioprio = Some(prio);
        self
    }

    /// An eventfd to signal (add 1) when this request completes, in addition to the
    /// ring's own notification descriptor.
    pub fn eventfd(mut self, efd: impl Into<Fd>) -> Op<B> {
        self.eventfd = Some(efd.into());
        self
    }

    /// The kind of operation.
    pub fn opcode(&self) -> OpCode {
        match self.kind {
            Kind::Read { .. } => OpCode::Read,
            Kind::Write { .. } => OpCode::Write,
            Kind::Readv { .. } => OpCode::Readv,
            Kind::Writev { .. } => OpCode::Writev,
            Kind::Fsync => OpCode::Fsync,
            Kind::Fdatasync => OpCode::Fdatasync,
            Kind::Poll { .. } => OpCode::Poll,
            Kind::Nop => OpCode::Nop,
            Kind::OpenAt { .. } => OpCode::OpenAt,
            Kind::Statx { .. } => OpCode::Statx,
            Kind::UnlinkAt { .. } => OpCode::UnlinkAt,
            Kind::RenameAt { .. } => OpCode::RenameAt,
            Kind::MkdirAt { .. } => OpCode::MkdirAt,
            Kind::LinkAt { .. } => OpCode::LinkAt,
            Kind::SymlinkAt { .. } => OpCode::SymlinkAt,
            Kind::Fallocate { .. } => OpCode::Fallocate,
            Kind::Ftruncate { .. } => OpCode::Ftruncate,
        }
    }

    /// Gives the buffers back (when a request is refused before it was accepted).
    pub fn into_bufs(self) -> Vec<B> {
        match self.kind {
            Kind::Read { buf, .. } | Kind::Write { buf, .. } | Kind::Statx { buf, .. } => {
                vec![buf]
            }
            Kind::Readv { bufs, .. } | Kind::Writev { bufs, .. } => bufs,
            _ => Vec::new(),
        }
    }
}
