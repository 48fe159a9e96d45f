//! A zeroed heap buffer at a chosen alignment, for O_DIRECT requests.
//!
//! Stop-gap until the library's own `aiolos::AlignedBuf` lands; then this module goes.
//!
//! # Safety
//!
//! The buffer owns one allocation made with `std::alloc::alloc_zeroed` and a `Layout` of
//! `capacity` bytes at `align`; it frees it with the same layout. The allocation never
//! moves, so the address handed to the kernel stays valid while the value lives, which is
//! what the `IoBuf`/`IoBufMut` contracts ask for. Every byte is initialised (zeroed).
#![allow(unsafe_code)]

use aiolos::{IoBuf, IoBufMut};
use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// `capacity` zeroed bytes at `align`; requests use the first `len` of them.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
    len: usize,
}

// SAFETY: the buffer is uniquely owned heap memory with no thread affinity.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// Allocates `capacity` zeroed bytes aligned to `align` (a power of two).
    pub fn zeroed(capacity: usize, align: usize) -> anyhow::Result<AlignedBuf> {
        let layout = Layout::from_size_align(capacity.max(1), align).map_err(|e| {
            anyhow::anyhow!("cannot lay out a {capacity}-byte buffer at alignment {align}: {e}")
        })?;
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        Ok(AlignedBuf {
            ptr,
            layout,
            len: capacity,
        })
    }

    /// Sets how many bytes the next request reads or writes (at most the capacity).
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(self.layout.size());
    }

    /// The bytes in use.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr points to layout.size() >= len initialised bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes in use, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in as_slice, and &mut self makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr came from alloc_zeroed with exactly this layout and is freed once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

// SAFETY: ptr is a heap allocation that does not move with the value; the first len bytes
// are initialised (the whole allocation was zeroed).
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: as above; the first len bytes are writable memory of the same allocation.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
    unsafe fn set_init(&mut self, _n: usize) {
        // Every byte is initialised from the start.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_start_at_the_requested_alignment_and_are_zeroed() {
        for align in [512, 4096, 65536] {
            let b = AlignedBuf::zeroed(8192, align).unwrap();
            assert_eq!(b.stable_ptr() as usize % align, 0);
            assert!(b.as_slice().iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn set_len_limits_what_a_request_uses_but_not_past_the_capacity() {
        let mut b = AlignedBuf::zeroed(4096, 4096).unwrap();
        b.set_len(512);
        assert_eq!((b.bytes_init(), b.bytes_total()), (512, 512));
        b.set_len(1 << 20);
        assert_eq!(b.bytes_total(), 4096);
    }
}
