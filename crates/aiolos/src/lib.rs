//! aiolos: asynchronous file I/O for Linux.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod buf;
pub mod sys;

pub use buf::{BufResult, IoBuf, IoBufMut, RawBuf};
