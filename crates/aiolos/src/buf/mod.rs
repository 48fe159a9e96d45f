//! Owned I/O buffers: the [`IoBuf`] and [`IoBufMut`] traits, [`BufResult`], and
//! [`RawBuf`] for memory owned by C callers.
//!
//! A buffer handed to a request is owned by the ring until the kernel reports the request
//! complete; the completion hands it back. Safe code therefore cannot free or move memory
//! the kernel may still read or write: the types here promise a *stable* address (heap
//! memory that does not move when the owning value moves).
//!
//! Borrowed memory cannot be handed to a request, so a request can never outlive the
//! memory it names; this does not compile:
//!
//! ```compile_fail,E0597
//! let file = std::fs::File::open("/dev/zero").unwrap();
//! let mut on_the_stack = [0u8; 64];
//! let op = aiolos::Op::read(file, &mut on_the_stack[..], 0);
//! ```
//!
//! Neither does giving up a buffer and keeping a reference into it:
//!
//! ```compile_fail,E0505
//! let file = std::fs::File::open("/dev/zero").unwrap();
//! let buf = vec![0u8; 64];
//! let view = &buf[..];
//! let op = aiolos::Op::read(file, buf, 0);
//! println!("{}", view[0]);
//! ```
//!
//! Forgetting a ring is allowed and safe: the buffers it owns are leaked, never freed while
//! the kernel may still write into them.
//!
//! ```
//! use aiolos::{EngineKind, Op, Ring};
//! let ring: Ring = Ring::builder().entries(4).engine(EngineKind::Native).build()?;
//! let file = std::fs::File::open("/dev/zero")?;
//! ring.push(Op::read(file, vec![1u8; 64], 0))?;
//! ring.submit()?;
//! std::mem::forget(ring);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Safety
//!
//! The traits are `unsafe` to implement: an implementation vouches for the address and
//! length it reports, and every engine relies on that when it hands them to the kernel.
#![allow(unsafe_code)]

pub(crate) mod aligned;
pub(crate) mod fixed;
use std::io;

/// A buffer the kernel may read from (for writes), at an address that stays put while the
/// value moves.
///
/// # Safety
/// Implementors promise that `stable_ptr()` points to `bytes_init()` initialised bytes
/// that stay valid, and at the same address, for as long as the value exists and is not
/// mutated through other means, even when the value itself is moved (e.g. heap memory).
pub unsafe trait IoBuf: Send + 'static {
    /// Start of the buffer.
    fn stable_ptr(&self) -> *const u8;
    /// Number of initialised bytes (what a write sends).
    fn bytes_init(&self) -> usize;
}

/// A buffer the kernel may write into (for reads).
///
/// # Safety
/// As [`IoBuf`]; in addition `stable_mut_ptr()` points to `bytes_total()` writable bytes
/// with the same stability guarantee, and `set_init` must only mark bytes as initialised.
pub unsafe trait IoBufMut: IoBuf {
    /// Start of the buffer, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// Total capacity in bytes (what a read may fill).
    fn bytes_total(&self) -> usize;
    /// Records that the first `n` bytes are initialised (after a read of `n` bytes).
    ///
    /// # Safety
    /// The first `n` bytes (`n <= bytes_total()`) must really be initialised.
    unsafe fn set_init(&mut self, n: usize);
}

/// The result of an operation together with the buffer it used: the buffer always comes
/// back, on success, on error and on cancel.
#[derive(Debug)]
#[must_use = "the result may be an error, and the buffer comes back with it"]
pub struct BufResult<T, B>(pub io::Result<T>, pub B);

// SAFETY: a Vec's heap allocation does not move when the Vec moves; len() bytes are
// initialised and capacity() bytes are allocated.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; the spare capacity is writable memory of the same allocation.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len() {
            // SAFETY: the caller guarantees that n <= capacity bytes are initialised.
            unsafe { self.set_len(n) };
        }
    }
}

// SAFETY: a boxed slice's heap allocation does not move with the Box; all bytes are
// initialised.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; every byte of the slice is writable.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
    unsafe fn set_init(&mut self, _n: usize) {}
}

/// Memory owned by someone else (a C caller of the libaio drop-in), described by address
/// and length. Dropping a `RawBuf` frees nothing.
#[derive(Debug)]
pub struct RawBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: RawBuf is only an address and a length; whoever created it (an unsafe act)
// vouched that the memory may be used from the ring's threads.
unsafe impl Send for RawBuf {}

impl RawBuf {
    /// Describes `len` bytes at `ptr`.
    ///
    /// # Safety
    /// The memory must stay valid (readable for writes, writable for reads) until the
    /// request that uses this buffer has completed and the `RawBuf` came back.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> RawBuf {
        RawBuf { ptr, len }
    }
    /// The address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
    /// The length.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the length is zero.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

// SAFETY: the creator of the RawBuf guaranteed validity of ptr..ptr+len (RawBuf::new).
unsafe impl IoBuf for RawBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: as above.
unsafe impl IoBufMut for RawBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
    unsafe fn set_init(&mut self, _n: usize) {}
}
