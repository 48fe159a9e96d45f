//! [`AlignedBuf`], an owned buffer at an address with a chosen alignment (what O_DIRECT
//! needs), and [`BufPool`], a bounded, thread-safe pool that reuses them.
//!
//! # Safety
//!
//! `AlignedBuf` owns one allocation made with `std::alloc` for a fixed [`Layout`]; it frees
//! it with the same layout exactly once, in `Drop`. It keeps `len <= capacity` and the
//! first `len` bytes initialised (zeroed at allocation, or written by a read that then
//! called `set_init`), so the slice views and the [`IoBuf`]/[`IoBufMut`] promises hold.
#![allow(unsafe_code)]

use crate::buf::{IoBuf, IoBufMut};
use std::alloc::{self, Layout, LayoutError};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Mutex;

/// An owned byte buffer whose address is a multiple of a given alignment.
///
/// Length semantics follow `Vec<u8>` with a fixed capacity: [`AlignedBuf::zeroed`] gives a
/// buffer of `len` zero bytes (like `Box<[u8]>`: reads fill it, writes send all of it);
/// [`AlignedBuf::with_capacity`] gives an empty buffer whose memory is not initialised,
/// and a read sets its length to the bytes it got. The capacity never changes, so the
/// address is stable, which is what lets the kernel use it while the value moves.
///
/// # Examples
/// ```
/// use aiolos::AlignedBuf;
/// let mut buf = AlignedBuf::zeroed(8192, 4096);
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// buf[..5].copy_from_slice(b"hello");
/// assert_eq!(&buf[..5], b"hello");
/// assert_eq!(buf.len(), 8192);
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    layout: Layout,
}

// SAFETY: AlignedBuf uniquely owns its allocation (like Box<[u8]>); no interior sharing.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only give out `&[u8]`, as Box<[u8]> does.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    fn alloc(capacity: usize, align: usize, zeroed: bool) -> Result<AlignedBuf, LayoutError> {
        let layout = Layout::from_size_align(capacity, align)?;
        let ptr = if capacity == 0 {
            // No allocation for an empty buffer: a dangling pointer with the alignment.
            // The address `align` is non-zero and a multiple of itself.
            NonNull::new(std::ptr::without_provenance_mut(align)).unwrap_or(NonNull::dangling())
        } else {
            // SAFETY: the layout has a non-zero size (checked above).
            let p = unsafe {
                if zeroed {
                    alloc::alloc_zeroed(layout)
                } else {
                    alloc::alloc(layout)
                }
            };
            match NonNull::new(p) {
                Some(p) => p,
                None => alloc::handle_alloc_error(layout),
            }
        };
        Ok(AlignedBuf {
            ptr,
            len: if zeroed { capacity } else { 0 },
            layout,
        })
    }

    /// `len` zero bytes at an address that is a multiple of `align`.
    ///
    /// # Panics
    /// If `align` is not a power of two or `len` rounded up to `align` overflows `isize`
    /// (see [`AlignedBuf::try_zeroed`]).
    ///
    /// # Examples
    /// ```
    /// use aiolos::AlignedBuf;
    /// let buf = AlignedBuf::zeroed(4096, 512);
    /// assert_eq!(buf.as_ptr() as usize % 512, 0);
    /// assert_eq!((buf.len(), buf[4095]), (4096, 0));
    /// ```
    pub fn zeroed(len: usize, align: usize) -> AlignedBuf {
        match AlignedBuf::try_zeroed(len, align) {
            Ok(b) => b,
            Err(e) => panic!("AlignedBuf::zeroed({len}, {align}): {e}"),
        }
    }

    /// An empty buffer with room for `capacity` bytes at an address that is a multiple of
    /// `align`; its memory is not initialised (and not readable until written).
    ///
    /// # Panics
    /// As [`AlignedBuf::zeroed`].
    pub fn with_capacity(capacity: usize, align: usize) -> AlignedBuf {
        match AlignedBuf::try_with_capacity(capacity, align) {
            Ok(b) => b,
            Err(e) => panic!("AlignedBuf::with_capacity({capacity}, {align}): {e}"),
        }
    }

    /// [`AlignedBuf::zeroed`] without the panic.
    ///
    /// # Errors
    /// When `align` is not a power of two or the size overflows.
    pub fn try_zeroed(len: usize, align: usize) -> Result<AlignedBuf, LayoutError> {
        AlignedBuf::alloc(len, align, true)
    }

    /// [`AlignedBuf::with_capacity`] without the panic.
    ///
    /// # Errors
    /// When `align` is not a power of two or the size overflows.
    pub fn try_with_capacity(capacity: usize, align: usize) -> Result<AlignedBuf, LayoutError> {
        AlignedBuf::alloc(capacity, align, false)
    }

    /// A copy of `data` in a new buffer aligned to `align`.
    ///
    /// # Panics
    /// As [`AlignedBuf::zeroed`].
    pub fn from_slice(data: &[u8], align: usize) -> AlignedBuf {
        let mut b = AlignedBuf::with_capacity(data.len(), align);
        b.extend_from_slice(data);
        b
    }

    /// Number of initialised bytes (what a write sends, what the slice shows).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is initialised.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total room in bytes (what a read may fill).
    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// The alignment the buffer was made with.
    pub fn alignment(&self) -> usize {
        self.layout.align()
    }

    /// Start of the buffer.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Start of the buffer, for writing.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Shortens the buffer to `len` bytes (no effect if it is already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Empties the buffer; the memory is kept.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Sets the length to `new_len`, filling new bytes with zeros.
    ///
    /// # Panics
    /// If `new_len` exceeds the capacity.
    pub fn resize(&mut self, new_len: usize) {
        assert!(
            new_len <= self.capacity(),
            "AlignedBuf::resize({new_len}) beyond capacity {}",
            self.capacity()
        );
        if new_len > self.len {
            // SAFETY: len..new_len lies inside the allocation (new_len <= capacity).
            unsafe {
                self.ptr
                    .as_ptr()
                    .add(self.len)
                    .write_bytes(0, new_len - self.len)
            };
        }
        self.len = new_len;
    }

    /// Appends `data`.
    ///
    /// # Panics
    /// If the result would exceed the capacity.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        let new_len = self.len + data.len();
        assert!(
            new_len <= self.capacity(),
            "AlignedBuf::extend_from_slice: {new_len} bytes exceed capacity {}",
            self.capacity()
        );
        // SAFETY: the destination len..new_len lies inside our allocation, which cannot
        // overlap `data` (we hold `&mut self`, so data does not borrow from us).
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                data.len(),
            )
        };
        self.len = new_len;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: ptr was allocated in `alloc` with exactly this layout and is freed
            // only here, once.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first len bytes are initialised and inside the allocation (or len is
        // 0 with a non-null, aligned dangling pointer).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; &mut self makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("alignment", &self.alignment())
            .finish()
    }
}

// SAFETY: the allocation does not move when the AlignedBuf moves, and the first len bytes
// are initialised.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: capacity bytes of the allocation are writable; set_init only grows len to
// bytes the caller vouches are initialised, never beyond capacity.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
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

/// A bounded, thread-safe pool of same-sized [`AlignedBuf`]s, to avoid an allocation per
/// request on a hot path.
///
/// # Examples
/// ```
/// use aiolos::BufPool;
/// let pool = BufPool::new(64 * 1024, 4096, 8);
/// let buf = pool.get();
/// assert_eq!((buf.len(), buf.capacity()), (0, 64 * 1024));
/// let addr = buf.as_ptr();
/// pool.put(buf);
/// assert_eq!(pool.get().as_ptr(), addr, "the buffer is reused");
/// ```
#[derive(Debug)]
pub struct BufPool {
    buf_size: usize,
    align: usize,
    max_pooled: usize,
    free: Mutex<Vec<AlignedBuf>>,
}

impl BufPool {
    /// A pool of buffers of `buf_size` bytes aligned to `align`, keeping at most
    /// `max_pooled` idle buffers.
    ///
    /// # Panics
    /// If `align` is not a power of two (checked here rather than at the first `get`).
    pub fn new(buf_size: usize, align: usize, max_pooled: usize) -> BufPool {
        assert!(
            Layout::from_size_align(buf_size, align).is_ok(),
            "BufPool::new: invalid size {buf_size} or alignment {align}"
        );
        BufPool {
            buf_size,
            align,
            max_pooled,
            free: Mutex::new(Vec::with_capacity(max_pooled)),
        }
    }

    /// The size of the pool's buffers.
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// The alignment of the pool's buffers.
    pub fn alignment(&self) -> usize {
        self.align
    }

    /// Idle buffers held now.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AlignedBuf>> {
        // The vector is always consistent (push/pop only), so a poisoned lock is usable.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An empty buffer of capacity [`buf_size`](BufPool::buf_size): a reused one if the
    /// pool has one, else a new allocation. Its old contents are not visible (length 0).
    pub fn get(&self) -> AlignedBuf {
        let reused = self.lock().pop();
        match reused {
            Some(mut b) => {
                b.clear();
                b
            }
            None => AlignedBuf::with_capacity(self.buf_size, self.align),
        }
    }

    /// A buffer of [`buf_size`](BufPool::buf_size) zero bytes.
    pub fn get_zeroed(&self) -> AlignedBuf {
        let mut b = self.get();
        b.resize(self.buf_size);
        b
    }

    /// Returns a buffer for reuse. Buffers of another size or a smaller alignment, and
    /// any beyond the pool's bound, are freed instead.
    pub fn put(&self, buf: AlignedBuf) {
        if buf.capacity() != self.buf_size || buf.alignment() < self.align {
            return;
        }
        let mut free = self.lock();
        if free.len() < self.max_pooled {
            free.push(buf);
        }
    }
}
