//! The values a [`Ring`](super::Ring) hands out: tokens, completions, cancel outcomes.

use crate::error::Error;
use crate::op::Op;
use std::fmt;
use std::io;

/// Names one accepted request: the ring, an index into its in-flight table and the slot's
/// generation, so a token of a request that has already been reaped, or of another ring,
/// is rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    pub(super) ring: u32,
    pub(super) index: u32,
    pub(super) generation: u32,
}

/// Ring ids, so that a token is only ever honoured by the ring that issued it.
pub(super) static RING_IDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

impl Token {
    /// The bits an engine carries for this request (slot index and generation).
    pub(super) fn to_u64(self) -> u64 {
        super::table::user_data(self.index, self.generation)
    }
    /// The slot index (stable while the request is outstanding).
    pub fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}:{}#{})", self.ring, self.index, self.generation)
    }
}

/// The buffers a completion hands back.
#[derive(Debug)]
#[must_use = "the buffers of a request come back here; dropping them frees them"]
pub enum Buffers<B> {
    /// The operation had no buffer (fsync, poll, nop).
    None,
    /// A read or write.
    One(B),
    /// A vectored read or write.
    Many(Vec<B>),
}

impl<B> Buffers<B> {
    /// The single buffer of a read or write (`None` for other operations).
    pub fn into_one(self) -> Option<B> {
        match self {
            Buffers::One(b) => Some(b),
            _ => None,
        }
    }
    /// All buffers, in order (empty for operations without one).
    pub fn into_vec(self) -> Vec<B> {
        match self {
            Buffers::None => Vec::new(),
            Buffers::One(b) => vec![b],
            Buffers::Many(v) => v,
        }
    }
}

/// One finished request: its result and its buffers.
///
/// `T` is the ring's payload type: for the default `Ring<B, u64>` it is the
/// [`user_data`](crate::Op::user_data) given to the op; for other payload types, the value
/// given to [`Ring::push_with`](super::Ring::push_with).
#[derive(Debug)]
#[must_use = "a completion carries the request's result and its buffers"]
pub struct Completion<B, T = u64> {
    /// The request's token.
    pub token: Token,
    /// The request's payload: the op's `user_data`, or what `push_with` was given.
    pub user_data: T,
    /// Bytes transferred (or the poll mask), or the request's own error.
    pub result: io::Result<usize>,
    /// The buffers, always returned.
    pub bufs: Buffers<B>,
    /// Whether [`Ring::cancel`](super::Ring::cancel) was called for this request. The result is still the
    /// kernel's: a request that completed despite the cancel reports its real result.
    pub cancel_requested: bool,
    /// The result as the engine reported it: bytes, or a negated errno.
    pub(super) raw: i64,
}

impl<B, T> Completion<B, T> {
    /// The result exactly as the kernel (or the engine) reported it: bytes transferred or
    /// a poll mask when non-negative, a negated `errno` otherwise. [`Completion::result`]
    /// is the same as an [`io::Result`], with errors explained where aiolos can.
    pub fn raw_result(&self) -> i64 {
        self.raw
    }

    /// The result and the buffers, by value: `let (n, bufs) = c.into_parts();` then
    /// `n?` and `bufs.into_one()`, without moving out of `c` twice.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Fd, Op, Ring};
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(EngineKind::Threads).build()?;
    /// let zero = Fd::from(std::fs::File::open("/dev/zero")?);
    /// ring.push(Op::read(&zero, Vec::with_capacity(8), 0))?;
    /// for c in ring.wait(1, 8, None)? {
    ///     let (n, bufs) = c.into_parts();
    ///     assert_eq!(n?, 8);
    ///     assert_eq!(bufs.into_one(), Some(vec![0u8; 8]));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_parts(self) -> (io::Result<usize>, Buffers<B>) {
        (self.result, self.bufs)
    }

    /// The single buffer of a read or write.
    pub fn into_buf(self) -> Option<B> {
        self.bufs.into_one()
    }
    /// All buffers, in order.
    pub fn into_bufs(self) -> Vec<B> {
        self.bufs.into_vec()
    }
}

/// What [`Ring::cancel`](super::Ring::cancel) achieved. In every case the request completes exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It had not been submitted: it completes now with `ECANCELED`.
    Cancelled,
    /// The engine is cancelling it; its completion (usually `ECANCELED`) follows.
    Requested,
    /// The kernel cannot cancel it (file reads and writes on kernel AIO): it completes
    /// when the I/O does, and its buffers are released only then.
    NotCancellable,
    /// It has already completed; the completion waits to be reaped.
    AlreadyComplete,
}

/// A refused `push`: the error, and the op (whose buffers are given back) and payload.
#[derive(Debug)]
pub struct PushError<B, T = ()> {
    /// Why it was refused.
    pub error: Error,
    /// The op, unchanged.
    pub op: Op<B>,
    /// The payload given to [`Ring::push_with`](super::Ring::push_with) (`()` for
    /// [`Ring::push`](super::Ring::push), whose payload stays in the op).
    pub payload: T,
}

impl<B: fmt::Debug, T: fmt::Debug> fmt::Display for PushError<B, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<B: fmt::Debug, T: fmt::Debug> std::error::Error for PushError<B, T> {}

impl<B, T> From<PushError<B, T>> for io::Error {
    fn from(e: PushError<B, T>) -> io::Error {
        e.error.into()
    }
}
