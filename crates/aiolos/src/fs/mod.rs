//! async/await file I/O on a [`Ring`](crate::Ring), for any executor and for tokio.
//!
//! [`File`] has positional reads and writes that take their buffers by value and give
//! them back in a [`BufResult`](crate::BufResult) when they complete. Buffers may be of any type that
//! implements [`IoBufMut`](crate::IoBufMut) (reads) or [`IoBuf`](crate::IoBuf) (writes).
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
//!     fs::write(&path, b"0123456789").await?;
//!     let file = fs::File::open(&path).await?;
//!     let BufResult(n, buf) = file.read_at(Vec::with_capacity(4), 6).await;
//!     assert_eq!((n?, &buf[..]), (4, &b"6789"[..]));
//!     assert_eq!(fs::read(&path).await?, b"0123456789");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod dir;
pub(crate) mod direct;
mod driver;
mod erased;
mod file;
#[cfg(feature = "futures-io")]
mod futures_io;
mod handshake;
#[cfg(all(test, aiolos_loom))]
mod loom_model;
mod meta;
mod path;
mod pool;
mod request;
mod shared;
// Without a stream feature only the cursor and pending-write parts are used.
#[cfg_attr(not(any(feature = "tokio", feature = "futures-io")), allow(dead_code))]
mod stream;
#[cfg(feature = "tokio")]
mod tokio;
#[cfg(feature = "tokio")]
mod tokio_io;

pub use dir::{read_dir, DirBuilder, DirEntry, ReadDir};
pub use direct::DirectFile;
pub use driver::{Driver, DriverBuilder};
pub use file::{File, OpenOptions};
pub use meta::{FileType, Metadata};
pub use path::{
    canonicalize, copy, create_dir, create_dir_all, hard_link, metadata, read, read_link,
    read_to_string, remove_dir, remove_dir_all, remove_file, rename, set_permissions, symlink,
    symlink_metadata, try_exists, write, PathError,
};
pub use request::{ReadAt, ReadvAt, WriteAt, WritevAt};
