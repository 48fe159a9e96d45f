//! The futures of [`File`](super::File)'s operations.
//!
//! Each future owns a not-yet-pushed [`Op`] until its first poll, then only a key and a
//! token: from the push on, the ring owns the buffer. Dropping the future (or forgetting
//! it) therefore never frees memory the kernel may still use: a drop asks the ring to
//! cancel and leaves the buffer to be freed when the completion arrives; a forgotten
//! future leaves it with the ring (a leak, never a use-after-free).

use super::erased::ErasedBuf;
use super::shared::Shared;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::error::Error;
use crate::op::{Fd, Op, OpCode};
use crate::ring::{Completion, PushError, Token};
use crate::sys::Errno;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

enum Stage {
    /// Not pushed yet (first poll, or waiting for a free slot).
    Unsent(Op<ErasedBuf>),
    /// Accepted by the ring, which keeps this task's waker in the request's slot.
    Sent(Token),
    /// The output has been returned.
    Finished,
}

/// What a request ends with: its result and its buffers.
pub(crate) type Outcome = (io::Result<usize>, Vec<ErasedBuf>);

/// What a file request's error names: the operation, the file (its path where the
/// `File` was opened by path, else its descriptor).
struct Subject {
    op: &'static str,
    write: bool,
    fd: Fd,
    path: Option<Arc<Path>>,
}

/// The type-independent part of every operation future.
pub(crate) struct Request {
    shared: Arc<Shared>,
    stage: Stage,
    /// Dropping the future asks the ring to cancel the request (not for writes behind).
    cancel_on_drop: bool,
    /// For a read, write or sync of a file: what its error names.
    subject: Option<Box<Subject>>,
}

impl Request {
    pub(crate) fn new(shared: &Arc<Shared>, op: Op<ErasedBuf>) -> Request {
        let name = match op.opcode() {
            OpCode::Read | OpCode::Readv => Some(("read", false)),
            OpCode::Write | OpCode::Writev => Some(("write", true)),
            OpCode::Fsync => Some(("fsync", false)),
            OpCode::Fdatasync => Some(("fdatasync", false)),
            _ => None,
        };
        let subject = name.and_then(|(op_name, write)| {
            let fd = op.fd.clone()?;
            Some(Box::new(Subject {
                op: op_name,
                write,
                fd,
                path: None,
            }))
        });
        Request {
            shared: Arc::clone(shared),
            stage: Stage::Unsent(op),
            cancel_on_drop: true,
            subject,
        }
    }

    /// Names the file by its path in this request's error.
    pub(crate) fn named(mut self, path: Option<&Arc<Path>>) -> Request {
        if let (Some(s), Some(p)) = (self.subject.as_mut(), path) {
            s.path = Some(Arc::clone(p));
        }
        self
    }

    /// The request's error, naming the operation and the file; a read or write refused
    /// because the file is not open for it is `PermissionDenied` and says so.
    fn explain(&self, e: io::Error) -> io::Error {
        let Some(s) = self.subject.as_deref() else {
            return e;
        };
        if e.get_ref().is_some() {
            // Already explained (an O_DIRECT alignment refusal).
            return e;
        }
        let mut kind = e.kind();
        let mut hint = None;
        if e.raw_os_error() == Some(Errno::BADF.0) && s.op != "fsync" && s.op != "fdatasync" {
            if let Ok(fl) = rustix::fs::fcntl_getfl(&s.fd) {
                let mode = fl & rustix::fs::OFlags::RWMODE;
                if s.write && mode == rustix::fs::OFlags::RDONLY {
                    kind = io::ErrorKind::PermissionDenied;
                    hint = Some("the file is not open for writing");
                } else if !s.write && mode == rustix::fs::OFlags::WRONLY {
                    kind = io::ErrorKind::PermissionDenied;
                    hint = Some("the file is not open for reading");
                }
            }
        }
        io::Error::new(
            kind,
            super::path::PathError::of_file(s.op, s.path.as_deref(), s.fd.as_raw(), hint, e),
        )
    }

    /// Dropping this request's future lets the request finish instead of cancelling it.
    pub(crate) fn keep_on_drop(&mut self) {
        self.cancel_on_drop = false;
    }

    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Outcome> {
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Unsent(op) => match self.shared.ring.poll_push(op, (), cx) {
                Ok(token) => {
                    // No system call here: the reaper submits everything queued in one
                    // call per pass, and this wakes it if it sleeps (on the thread pool
                    // the push is submitted here, to the pool's queue). The completion
                    // wakes this task through the waker the slot was given.
                    self.shared.pushed();
                    self.stage = Stage::Sent(token);
                    Poll::Pending
                }
                Err(PushError {
                    error: Error::QueueFull { .. },
                    op,
                    ..
                }) => {
                    // The ring wakes this task once a slot frees.
                    self.stage = Stage::Unsent(op);
                    Poll::Pending
                }
                Err(PushError { error, op, .. }) => {
                    Poll::Ready((Err(error.into()), op.into_bufs()))
                }
            },
            Stage::Sent(token) => match self.shared.ring.poll_token(token, cx) {
                Poll::Ready(Ok(c)) => {
                    let (r, bufs) = outcome_of(c);
                    Poll::Ready((r.map_err(|e| self.explain(e)), bufs))
                }
                Poll::Ready(Err(e)) => {
                    unreachable!("only this future takes its request's completion: {e}")
                }
                Poll::Pending => {
                    self.stage = Stage::Sent(token);
                    Poll::Pending
                }
            },
            Stage::Finished => panic!("an aiolos::fs future was polled after it completed"),
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if let Stage::Sent(token) = std::mem::replace(&mut self.stage, Stage::Finished) {
            // The ring keeps the buffer until the kernel is done, whatever the outcome of
            // the cancel, and frees it then (at once if the request is already complete).
            self.shared.ring.detach(token);
            if self.cancel_on_drop {
                let _ = self.shared.ring.cancel(token);
            }
        }
    }
}

fn outcome_of(c: Completion<ErasedBuf, ()>) -> Outcome {
    let (result, bufs) = c.into_parts();
    (result, bufs.into_vec())
}

fn one(mut bufs: Vec<ErasedBuf>) -> ErasedBuf {
    match bufs.pop() {
        Some(b) if bufs.is_empty() => b,
        _ => unreachable!("a read or write request has exactly one buffer"),
    }
}

macro_rules! buf_future {
    ($(#[$doc:meta])* $name:ident, $bound:ident, $output:ty, |$res:ident, $bufs:ident| $convert:expr) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<B> {
            req: Request,
            _buf: PhantomData<fn() -> B>,
        }

        impl<B: $bound> $name<B> {
            pub(crate) fn new(req: Request) -> $name<B> {
                $name {
                    req,
                    _buf: PhantomData,
                }
            }
        }

        impl<B: $bound> Future for $name<B> {
            type Output = $output;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$output> {
                let this = self.get_mut();
                this.req.poll_outcome(cx).map(|($res, $bufs)| $convert)
            }
        }

        impl<B> std::fmt::Debug for $name<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

buf_future!(
    /// The future of [`File::read_at`](super::File::read_at): bytes read and the buffer.
    ReadAt,
    IoBufMut,
    BufResult<usize, B>,
    |res, bufs| BufResult(res, one(bufs).into_writable())
);

buf_future!(
    /// The future of [`File::write_at`](super::File::write_at): bytes written and the
    /// buffer.
    WriteAt,
    IoBuf,
    BufResult<usize, B>,
    |res, bufs| BufResult(res, one(bufs).into_read_only())
);

buf_future!(
    /// The future of [`File::readv_at`](super::File::readv_at): bytes read and the
    /// buffers, in order.
    ReadvAt,
    IoBufMut,
    BufResult<usize, Vec<B>>,
    |res, bufs| BufResult(res, bufs.into_iter().map(ErasedBuf::into_writable).collect())
);

buf_future!(
    /// The future of [`File::writev_at`](super::File::writev_at): bytes written and the
    /// buffers, in order.
    WritevAt,
    IoBuf,
    BufResult<usize, Vec<B>>,
    |res, bufs| BufResult(res, bufs.into_iter().map(ErasedBuf::into_read_only).collect())
);

/// The future of any request as the fs layer itself uses it: the raw result and the
/// buffers.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Raw(Request);

impl Raw {
    pub(crate) fn new(req: Request) -> Raw {
        Raw(req)
    }
}

impl Future for Raw {
    type Output = Outcome;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.get_mut().0.poll_outcome(cx)
    }
}
