//! async/await file I/O on a [`Ring`](crate::Ring), for any executor and for tokio: the
//! API of `tokio::fs` (change `use tokio::fs;` to `use aiolos::fs;`), with no blocking call
//! on the caller's thread.
//!
//! Every function and type of `tokio::fs` is here, with its name, signature and error kinds:
//! [`read`], [`write`](write()), [`metadata`], [`read_dir`], [`rename`], [`copy`], ... and [`File`],
//! [`OpenOptions`], [`DirBuilder`]. Each is a request on the driver's ring (an io_uring
//! opcode where the kernel has it, else the engine's thread pool) or, for the few calls no
//! engine has (`getdents64`, `readlinkat`, ...), a job on aiolos's own blocking pool. With
//! the `tokio` feature [`File`] is an `AsyncRead`/`AsyncWrite`/`AsyncSeek` stream (with
//! `futures-io`, the `futures` traits). [`DirectFile`] is async O_DIRECT at any offset and
//! length.
//!
//! The fast path stays positional: [`File::read_at`] and friends take their buffers by
//! value and give them back in a [`BufResult`](crate::BufResult) when they complete. Buffers
//! may be of any type that implements [`IoBufMut`](crate::IoBufMut) (reads) or
//! [`IoBuf`](crate::IoBuf) (writes).
//!
//! Futures complete when their [`Driver`] reaps its rings: inside a tokio runtime (feature
//! `tokio`), by default a task of that runtime per ring, watching the ring's notification
//! descriptor; elsewhere a completion thread (so any executor works, or none:
//! [`Driver::block_on`]); or the program itself ([`Driver::run_once`]). See
//! [`Driver::default_driver`].
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
mod options;
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
pub use file::File;
pub use meta::{FileType, Metadata};
pub use options::OpenOptions;
pub use path::{
    canonicalize, copy, create_dir, create_dir_all, hard_link, metadata, read, read_link,
    read_to_string, remove_dir, remove_dir_all, remove_file, rename, set_permissions, symlink,
    symlink_metadata, try_exists, write, PathError,
};
pub use request::{ReadAt, ReadvAt, WriteAt, WritevAt};
