//! The limits of the API, stated once. [`RingBuilder`](crate::RingBuilder) refuses values
//! outside them with [`Error::InvalidRequest`](crate::Error::InvalidRequest), and the
//! `aiolos` command takes the ranges of its options (`--qd`) from here, so a number that one
//! accepts the other accepts too.
//!
//! The kernel may allow less than these on a given machine, and then says so when the ring
//! is built: kernel AIO counts every context's entries against the system-wide
//! `fs.aio-max-nr` (65536 by default), and io_uring clamps its queues to what the kernel
//! supports.
//!
//! # Examples
//! ```
//! use aiolos::{limits, EngineKind, Error, Ring};
//! let too_many = Ring::builder()
//!     .entries(limits::MAX_ENTRIES + 1)
//!     .engine(EngineKind::Threads)
//!     .build::<Vec<u8>>();
//! assert!(matches!(too_many, Err(Error::InvalidRequest(_))));
//! ```

/// The most requests one [`Ring`](crate::Ring) holds at once (queued, in flight or waiting
/// to be reaped): [`RingBuilder::entries`](crate::RingBuilder::entries) takes 1 to
/// `MAX_ENTRIES` (2^20). A queue depth of N needs N entries.
pub const MAX_ENTRIES: u32 = 1 << 20;

/// The most threads the [`EngineKind::Threads`](crate::EngineKind::Threads) pool runs:
/// [`RingBuilder::threads`](crate::RingBuilder::threads) takes 1 to `MAX_POOL_THREADS`.
pub const MAX_POOL_THREADS: usize = 1024;
