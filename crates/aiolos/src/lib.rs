//! aiolos: asynchronous file I/O for Linux.
//!
//! A [`Ring`] takes requests ([`Op`]) that own their buffers, submits them to the kernel
//! in batches and hands back [`Completion`]s with the buffers. It runs on one of three
//! engines ([`EngineKind`]): io_uring, kernel AIO, or a thread pool. [`fs`] puts async/await
//! on top (with the `tokio` feature, on tokio's own reactor); [`DirectFile`] does O_DIRECT at
//! any offset and length; [`limits`] states the API's limits.
//!
//! # Examples
//!
//! Read the start of a file, on the engine aiolos picks for this machine:
//!
//! ```
//! use aiolos::{Op, Ring};
//!
//! fn main() -> std::io::Result<()> {
//!     let ring: Ring<Vec<u8>> = Ring::builder().entries(8).build()?;
//!     let file = std::fs::File::open("Cargo.toml")?;
//!     ring.push(Op::read(file, Vec::with_capacity(64), 0).user_data(7))?;
//!     ring.submit()?; // one system call for everything queued
//!     for c in ring.wait(1, 8, None)? {
//!         assert_eq!(c.user_data, 7);
//!         let (n, bufs) = c.into_parts(); // the result, and the buffer back
//!         let buf = bufs.into_one().expect("a read has one buffer");
//!         assert_eq!(n?, buf.len());
//!         println!("{}", String::from_utf8_lossy(&buf));
//!     }
//!     Ok(())
//! }
//! ```
//!
//! More: `README.md`, `docs/guide.md` (the questions people ask about Linux AIO) and
//! `docs/async.md` in the repository, and `examples/`.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod align;
pub mod buf;
mod direct;
pub mod engine;
mod error;
mod eventfd;
pub mod fs;
pub mod limits;
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

/// The code blocks of the README and the guides, compiled and run as doctests so that the
/// examples people copy keep working (`cargo test --doc -p aiolos`).
#[cfg(doctest)]
mod doc_examples {
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/guide.md")]
    struct Guide;
    #[doc = include_str!("../../../docs/async.md")]
    struct Async;
    #[doc = include_str!("../../../docs/cp.md")]
    struct Cp;
    #[doc = include_str!("../../../docs/benchmarks.md")]
    struct Benchmarks;
    #[doc = include_str!("../../../docs/reliability.md")]
    struct Reliability;
    #[doc = include_str!("../../../docs/architecture.md")]
    struct Architecture;
}
