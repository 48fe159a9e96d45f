//! A completion ring in user memory with the kernel's `aio_ring` layout: a 32-byte header
//! (`id`, `nr`, `head`, `tail`, `magic` = `AIO_RING_MAGIC`, `compat_features` = 1,
//! `incompat_features`, `header_length` = 32) followed by `nr` `io_event`s.
//!
//! The emulated engines hand its address out as `io_context_t`, so clients that read the
//! ring directly (fio's `userspace_reap`, QEMU, libaio's own fast path) work unchanged.
//! One producer (the context's completion thread) writes events at `tail` and publishes
//! them with a release store of `tail`; consumers read from `head` and advance it. A ring
//! of `nr` slots holds at most `nr - 1` events.
//!
//! # Safety
//!
//! The memory is allocated here, page-aligned and zeroed, and freed only on drop. Header
//! fields shared with other threads (and with clients reading the ring) are accessed
//! through atomics; event slots between `head` and `tail` are written only by the producer
//! before it publishes them.
#![allow(unsafe_code)]

use crate::abi::{AioRingHeader, IoEvent, AIO_RING_MAGIC};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::mem::{offset_of, size_of};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// The ring memory.
pub struct UserRing {
    base: NonNull<u8>,
    layout: Layout,
    nr: u32,
}

// SAFETY: the ring is plain memory; shared fields are accessed through atomics and the
// producer/consumer discipline documented on the module.
unsafe impl Send for UserRing {}
// SAFETY: as above.
unsafe impl Sync for UserRing {}

const PAGE: usize = 4096;

impl UserRing {
    /// A ring able to hold `events` completions (`nr = events + 1` slots). `None` if the
    /// allocation fails or the size overflows.
    pub fn new(events: u32) -> Option<UserRing> {
        let nr = events.checked_add(1)?;
        let size = size_of::<AioRingHeader>()
            .checked_add((nr as usize).checked_mul(size_of::<IoEvent>())?)?;
        let size = size.checked_next_multiple_of(PAGE)?;
        let layout = Layout::from_size_align(size, PAGE).ok()?;
        // SAFETY: layout has a non-zero size.
        let base = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        let ring = UserRing { base, layout, nr };
        // SAFETY: the header lies at the start of the fresh, exclusively owned allocation.
        unsafe {
            let h = base.as_ptr().cast::<AioRingHeader>();
            (*h).id = 0;
            (*h).nr = nr;
            (*h).compat_features = 1;
            (*h).incompat_features = 0;
            (*h).header_length = size_of::<AioRingHeader>() as u32;
        }
        ring.field(offset_of!(AioRingHeader, magic))
            .store(AIO_RING_MAGIC, Ordering::Release);
        Some(ring)
    }

    /// The ring's address, which is the `io_context_t`.
    pub fn addr(&self) -> u64 {
        self.base.as_ptr() as usize as u64
    }

    /// Number of slots.
    pub fn nr(&self) -> u32 {
        self.nr
    }

    fn field(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: offset is that of an aligned u32 header field inside the allocation,
        // which lives as long as self.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn head(&self) -> &AtomicU32 {
        self.field(offset_of!(AioRingHeader, head))
    }

    fn tail(&self) -> &AtomicU32 {
        self.field(offset_of!(AioRingHeader, tail))
    }

    fn slot(&self, i: u32) -> *mut IoEvent {
        debug_assert!(i < self.nr);
        // SAFETY: i < nr, so the slot lies inside the allocation.
        unsafe {
            self.base
                .as_ptr()
                .add(size_of::<AioRingHeader>())
                .cast::<IoEvent>()
                .add(i as usize)
        }
    }

    /// Events waiting between head and tail (clamped, in case a client wrote a bad head).
    pub fn pending(&self) -> u32 {
        let head = self.head().load(Ordering::Acquire) % self.nr;
        let tail = self.tail().load(Ordering::Acquire) % self.nr;
        (tail + self.nr - head) % self.nr
    }

    /// Appends one event and publishes it. The caller (the single producer) guarantees
    /// there is room: at most `nr - 1` events are ever outstanding or pending.
    pub fn push(&self, ev: IoEvent) {
        let tail = self.tail().load(Ordering::Relaxed) % self.nr;
        // SAFETY: the slot at tail is not between head and tail, so no consumer reads it
        // until the release store below publishes it.
        unsafe { self.slot(tail).write_volatile(ev) };
        self.tail().store((tail + 1) % self.nr, Ordering::Release);
    }

    /// Moves up to `out.len()` events out of the ring; returns how many. Consumers must be
    /// serialised by the caller (clients reading the ring directly are on their own, as
    /// with the kernel's ring).
    pub fn pop_into(&self, out: &mut [IoEvent]) -> usize {
        let mut head = self.head().load(Ordering::Relaxed) % self.nr;
        let tail = self.tail().load(Ordering::Acquire) % self.nr;
        let mut n = 0;
        while head != tail && n < out.len() {
            // SAFETY: slots between head and tail were published by the producer.
            out[n] = unsafe { self.slot(head).read_volatile() };
            head = (head + 1) % self.nr;
            n += 1;
        }
        if n > 0 {
            self.head().store(head, Ordering::Release);
        }
        n
    }

    /// Marks the ring dead (magic cleared) so ring-reading clients stop trusting it.
    pub fn retire(&self) {
        self.field(offset_of!(AioRingHeader, magic))
            .store(0, Ordering::Release);
    }
}

impl Drop for UserRing {
    fn drop(&mut self) {
        // SAFETY: base was allocated with this layout in new() and is freed once.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

#[cfg(test)]
mod tests;
