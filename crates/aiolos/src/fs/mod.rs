//! async/await file I/O on a [`Ring`](crate::Ring), for any executor and for tokio.
//!
//! [`File`] has positional reads and writes that take their buffers by value and give
//! them back in a [`BufResult`] when they complete. Buffers may be of any type that
//! implements [`IoBufMut`](crate::IoBufMut) (reads) or [`IoBuf`] (writes).
//!
//! Futures complete when their [`Driver`] reaps the ring: by default a completion thread
//! (so any executor works, or none: [`Driver::block_on`]); with the `tokio` feature, a task
//! on the tokio runtime that watches the ring's notification descriptor
//! (`Driver::tokio`); or the program itself ([`Driver::run_once`]).
//!
//! # Cancellation and drop safety
//!
//! From its first poll on, a request's buffer is owned by the ring, not by the future.
//! Dropping the future asks the ring to cancel the request; the buffer is freed only after
//! the kernel reports the request complete. Forgetting the future (`mem::forget`) leaks
//! the buffer; it never lets the kernel write into freed memory. Wrapping a future in a
//! timeout is therefore safe on every engine, including those that cannot cancel file I/O
//! (kernel AIO): there the I/O finishes in the background before its buffer is freed.
//!
//! # Examples
//! ```
//! use aiolos::{fs, BufResult};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("data");
//! let driver = fs::Driver::global()?;
//! driver.block_on(async {
//!     fs::write(&path, b"0123456789".to_vec()).await?;
//!     let file = fs::File::open(&path)?;
//!     let BufResult(n, buf) = file.read_at(Vec::with_capacity(4), 6).await;
//!     assert_eq!((n?, &buf[..]), (4, &b"6789"[..]));
//!     assert_eq!(fs::read(&path).await?, b"0123456789");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod driver;
mod erased;
mod file;
mod handshake;
#[cfg(all(test, aiolos_loom))]
mod loom_model;
mod request;
mod shared;
#[cfg(feature = "tokio")]
mod tokio;

pub use driver::{Driver, DriverBuilder};
pub use file::{File, OpenOptions};
pub use request::{ReadAt, ReadvAt, Sync, WriteAt, WritevAt};

use crate::buf::{BufResult, IoBuf};
use std::io;
use std::path::Path;

/// Reads a whole file into a `Vec` (on the [global driver](Driver::global)).
///
/// # Errors
/// Opening or reading the file fails.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    // A size of 0 may be a lie (procfs): read until a read returns 0.
    let hint = file.len().unwrap_or(0) as usize;
    let mut buf = Vec::with_capacity(hint.max(8192) + 1);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let pos = buf.len();
        let BufResult(r, b) = file.read_window(buf, pos, pos as u64).await;
        buf = b;
        match r {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Creates (or truncates) a file and writes all of `contents` to it (on the
/// [global driver](Driver::global)).
///
/// # Errors
/// Creating or writing the file fails.
pub async fn write<B: IoBuf>(path: impl AsRef<Path>, contents: B) -> io::Result<()> {
    let file = File::create(path)?;
    file.write_all_at(contents, 0).await.0
}
