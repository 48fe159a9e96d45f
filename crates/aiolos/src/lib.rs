//! aiolos: asynchronous file I/O for Linux.
//!
//! A [`Ring`] takes requests ([`Op`]) that own their buffers, submits them to the kernel
//! in batches and hands back [`Completion`]s with the buffers. It runs on one of three
//! engines ([`EngineKind`]): io_uring, kernel AIO, or a thread pool.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod align;
pub mod buf;
mod direct;
pub mod engine;
mod error;
pub mod fs;
pub mod op;
mod ring;
pub mod sys;

pub use buf::aligned::{AlignedBuf, BufPool};
pub use buf::{BufResult, IoBuf, IoBufMut, RawBuf};
pub use direct::DirectFile;
pub use engine::{AsyncBuffered, ChoiceSource, EngineChoice, EngineKind, EngineStats, Suggestion};
pub use error::Error;
pub use op::{Fd, Op, OpCode, RwFlags};
pub use ring::{Buffers, CancelOutcome, Completion, PushError, Ring, RingBuilder, Token};

/// The code blocks of `docs/async.md`, compiled and run as doctests so the guide's
/// examples keep working.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/async.md")]
pub struct AsyncGuide;
