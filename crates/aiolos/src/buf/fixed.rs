//! [`FixedBufs`]: a pool of same-sized buffers carved out of one aligned allocation, which
//! an io_uring ring can register (`IORING_REGISTER_BUFFERS`,
//! [`RingBuilder::register_buffers`](crate::RingBuilder::register_buffers)). Reads and
//! writes into a registered buffer go as `READ_FIXED`/`WRITE_FIXED`: the kernel pinned
//! the pages once, at registration, instead of pinning and unpinning them per request.
//!
//! # Safety
//!
//! The allocation lives in an [`Arc`] shared by the pool, every [`FixedBuf`] handed out
//! and every ring that registered it, so it is freed only when the last of them is gone:
//! never while a ring may still do I/O into it. Each buffer index is held by at most one
//! [`FixedBuf`] at a time (the free list hands an index out once and takes it back on
//! drop), so no two handles alias.
#![allow(unsafe_code)]

use super::{IoBuf, IoBufMut};
use std::alloc::Layout;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// The most buffers one pool holds (the kernel's limit on registered buffers).
pub const MAX_FIXED_BUFS: usize = 16384;

pub(crate) struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
    buf_size: usize,
    count: usize,
    free: Mutex<Vec<u32>>,
}

// SAFETY: the region is plain memory; the free list is behind a mutex, and each buffer is
// reachable through at most one `FixedBuf` (see the module's Safety section).
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `FixedBufs::new` with this layout; the last reference is gone.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl Region {
    /// The address and length of every buffer, in index order (what a ring registers).
    pub(crate) fn iovecs(&self) -> Vec<crate::sys::IoVec> {
        (0..self.count)
            .map(|i| crate::sys::IoVec {
                base: self.ptr.as_ptr() as usize + i * self.buf_size,
                len: self.buf_size,
            })
            .collect()
    }

    /// The registered index of the buffer holding `[addr, addr + len)`, if one does.
    pub(crate) fn index_of(&self, addr: u64, len: u64) -> Option<u16> {
        let base = self.ptr.as_ptr() as u64;
        let off = addr.checked_sub(base)?;
        let i = off / self.buf_size as u64;
        let end = (i + 1) * self.buf_size as u64;
        (i < self.count as u64 && off + len <= end).then_some(i as u16)
    }
}

/// A pool of `count` buffers of `buf_size` bytes each, aligned to `align`, in one
/// allocation that rings can register. Cloning the pool shares it.
///
/// # Examples
/// ```
/// use aiolos::{EngineKind, FixedBufs, Fd, Op, Ring};
/// let pool = FixedBufs::new(4, 4096, 4096)?;
/// let ring: Ring<aiolos::FixedBuf> =
///     Ring::builder().engine(EngineKind::Uring).register_buffers(&pool).build()?;
/// let zero = Fd::from(std::fs::File::open("/dev/zero")?);
/// let buf = pool.get().expect("a free buffer");
/// ring.push(Op::read(&zero, buf, 0))?;
/// let c = ring.wait(1, 1, None)?.remove(0);
/// assert_eq!(c.result?, 4096);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FixedBufs {
    region: Arc<Region>,
}

impl fmt::Debug for FixedBufs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufs")
            .field("count", &self.region.count)
            .field("buf_size", &self.region.buf_size)
            .finish()
    }
}

impl FixedBufs {
    /// Allocates `count` zeroed buffers of `buf_size` bytes, each aligned to `align` (a
    /// power of two; `buf_size` is rounded up to a multiple of it).
    ///
    /// # Errors
    /// `InvalidInput` for 0 buffers, more than [`MAX_FIXED_BUFS`], a size of 0 or a bad
    /// alignment; `OutOfMemory` when the allocation fails.
    pub fn new(count: usize, buf_size: usize, align: usize) -> std::io::Result<FixedBufs> {
        let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
        if count == 0 || count > MAX_FIXED_BUFS || buf_size == 0 {
            return Err(invalid(format!(
                "a fixed-buffer pool needs 1 to {MAX_FIXED_BUFS} buffers of at least 1 byte, \
                 not {count} of {buf_size}"
            )));
        }
        let stride = Layout::from_size_align(buf_size, align)
            .map_err(|e| invalid(format!("buffer size {buf_size}, alignment {align}: {e}")))?
            .pad_to_align()
            .size();
        let layout = stride
            .checked_mul(count)
            .and_then(|n| Layout::from_size_align(n, align).ok())
            .ok_or_else(|| invalid(format!("{count} buffers of {stride} bytes overflow")))?;
        // SAFETY: the layout's size is at least one buffer of at least one byte.
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
        Ok(FixedBufs {
            region: Arc::new(Region {
                ptr,
                layout,
                buf_size: stride,
                count,
                free: Mutex::new((0..count as u32).rev().collect()),
            }),
        })
    }

    /// A free buffer (length 0, capacity [`FixedBufs::buf_size`]), or `None` when all are
    /// in use. It goes back to the pool when dropped.
    pub fn get(&self) -> Option<FixedBuf> {
        let index = self
            .region
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()?;
        Some(FixedBuf {
            region: Arc::clone(&self.region),
            index,
            len: 0,
        })
    }

    /// The size of each buffer.
    pub fn buf_size(&self) -> usize {
        self.region.buf_size
    }

    /// How many buffers the pool has.
    pub fn count(&self) -> usize {
        self.region.count
    }

    pub(crate) fn region(&self) -> &Arc<Region> {
        &self.region
    }
}

/// One buffer of a [`FixedBufs`] pool; back to the pool when dropped. Its memory stays
/// valid for as long as the pool, any buffer of it, or a ring that registered it lives.
pub struct FixedBuf {
    region: Arc<Region>,
    index: u32,
    len: usize,
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .finish()
    }
}

impl FixedBuf {
    fn ptr(&self) -> *mut u8 {
        // SAFETY: index < count, so the offset stays inside the allocation.
        unsafe {
            self.region
                .ptr
                .as_ptr()
                .add(self.index as usize * self.region.buf_size)
        }
    }

    /// The buffer's index in its pool (and in a ring that registered the pool).
    pub fn index(&self) -> u16 {
        self.index as u16
    }

    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.region.buf_size
    }

    /// Sets the bytes in use to `new_len` (at most the capacity); bytes beyond the
    /// previous length are zeroed.
    pub fn resize(&mut self, new_len: usize) {
        let new_len = new_len.min(self.capacity());
        if new_len > self.len {
            // SAFETY: [len, new_len) lies within this buffer, which only this handle reaches.
            unsafe { std::ptr::write_bytes(self.ptr().add(self.len), 0, new_len - self.len) };
        }
        self.len = new_len;
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.region
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.index);
    }
}

impl Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of this buffer are initialised (zeroed at
        // allocation, then written) and reachable only through this handle.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }
}

// SAFETY: the pointer is stable for the handle's life (the region is shared and never
// moves); `bytes_init` never exceeds the capacity.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: as above; `set_init` only raises the length within the capacity.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len {
            self.len = n.min(self.capacity());
        }
    }
}
