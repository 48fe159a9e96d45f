//! A completion ring with the kernel's `aio_ring` layout: a 32-byte header (`id`, `nr`,
//! `head`, `tail`, `magic` = `AIO_RING_MAGIC`, `compat_features` = 1,
//! `incompat_features` = 0, `header_length` = 32) followed by `nr` `io_event`s, in memory
//! the library writes through a view of its own (see `emulated::arena`).
//!
//! The emulated engines hand out the address of the program's view of the same memory as
//! `io_context_t`, so clients that read the ring directly (fio's `userspace_reap`, QEMU,
//! libaio's own fast path) work unchanged. Producers (serialised by the owner) write an
//! event at `tail` and publish it with a release store of `tail`; consumers read from
//! `head` and advance it, the library's consumers after the events were stored where the
//! caller wanted them (as the kernel advances `head` only after `copy_to_user`). A ring of
//! `nr` slots holds at most `nr - 1` events.
//!
//! # Safety
//!
//! A `UserRing` is made over memory that stays mapped and writable for as long as the
//! ring is used (an arena span, which is never unmapped). Header fields shared with other
//! threads and with the program are accessed through atomics; event slots between `head`
//! and `tail` are written only by the producer before it publishes them.
#![allow(unsafe_code)]

use crate::abi::{AioRingHeader, IoEvent, AIO_RING_MAGIC};
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, Ordering};

/// A ring at a fixed address.
pub struct UserRing {
    base: *mut u8,
    nr: u32,
}

// SAFETY: the ring is plain shared memory; shared fields are accessed through atomics and
// the producer/consumer discipline documented on the module.
unsafe impl Send for UserRing {}
// SAFETY: as above.
unsafe impl Sync for UserRing {}

impl UserRing {
    /// Bytes a ring of `nr` slots takes.
    pub fn bytes(nr: u32) -> usize {
        size_of::<AioRingHeader>() + nr as usize * size_of::<IoEvent>()
    }

    /// Writes a fresh header (`id`, `nr` slots, empty) at `addr` and returns the ring.
    ///
    /// # Safety
    /// `addr` is page-aligned and names at least [`UserRing::bytes`]`(nr)` bytes of zeroed
    /// memory that stays mapped and writable while the ring is used, and which nothing
    /// else in this process writes (other than consumers moving `head`).
    pub unsafe fn init(addr: usize, nr: u32, id: u32) -> UserRing {
        let ring = UserRing {
            base: std::ptr::with_exposed_provenance_mut(addr),
            nr: nr.max(2),
        };
        ring.field(offset_of!(AioRingHeader, id))
            .store(id, Ordering::Relaxed);
        ring.field(offset_of!(AioRingHeader, nr))
            .store(ring.nr, Ordering::Relaxed);
        ring.field(offset_of!(AioRingHeader, compat_features))
            .store(1, Ordering::Relaxed);
        ring.field(offset_of!(AioRingHeader, incompat_features))
            .store(0, Ordering::Relaxed);
        ring.field(offset_of!(AioRingHeader, header_length))
            .store(size_of::<AioRingHeader>() as u32, Ordering::Relaxed);
        ring.field(offset_of!(AioRingHeader, magic))
            .store(AIO_RING_MAGIC, Ordering::Release);
        ring
    }

    /// The library's address of the ring.
    pub fn addr(&self) -> usize {
        self.base as usize
    }

    /// Number of slots.
    pub fn nr(&self) -> u32 {
        self.nr
    }

    /// The header's `id`.
    pub fn id(&self) -> u32 {
        self.field(offset_of!(AioRingHeader, id))
            .load(Ordering::Relaxed)
    }

    fn field(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: offset is that of an aligned u32 header field inside the ring's memory,
        // which stays mapped while self is used.
        unsafe { &*self.base.add(offset).cast::<AtomicU32>() }
    }

    fn head(&self) -> &AtomicU32 {
        self.field(offset_of!(AioRingHeader, head))
    }

    fn tail(&self) -> &AtomicU32 {
        self.field(offset_of!(AioRingHeader, tail))
    }

    fn slot(&self, i: u32) -> *mut IoEvent {
        debug_assert!(i < self.nr);
        // SAFETY: i < nr, so the slot lies inside the ring's memory.
        unsafe {
            self.base
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

    /// Appends one event and publishes it. Producers are serialised by the caller, who
    /// also guarantees there is room: at most `nr - 1` events are ever outstanding.
    pub fn push(&self, ev: IoEvent) {
        let tail = self.tail().load(Ordering::Relaxed) % self.nr;
        // SAFETY: the slot at tail is not between head and tail, so no consumer reads it
        // until the release store below publishes it.
        unsafe { self.slot(tail).write_volatile(ev) };
        self.tail().store((tail + 1) % self.nr, Ordering::Release);
    }

    /// Copies up to `out.len()` events from `head` without taking them; returns how many
    /// and the `head` that taking them gives ([`UserRing::advance`]). Consumers inside the
    /// library are serialised by the caller (clients reading the ring directly are on their
    /// own, as with the kernel's ring).
    pub fn peek(&self, out: &mut [IoEvent]) -> (usize, u32) {
        let mut head = self.head().load(Ordering::Acquire) % self.nr;
        let tail = self.tail().load(Ordering::Acquire) % self.nr;
        let mut n = 0;
        while head != tail && n < out.len() {
            // SAFETY: slots between head and tail were published by the producer.
            out[n] = unsafe { self.slot(head).read_volatile() };
            head = (head + 1) % self.nr;
            n += 1;
        }
        (n, head)
    }

    /// Takes the events [`UserRing::peek`] copied: `head` becomes `new_head`.
    pub fn advance(&self, new_head: u32) {
        self.head().store(new_head % self.nr, Ordering::Release);
    }

    /// Moves up to `out.len()` events out of the ring; returns how many.
    pub fn pop_into(&self, out: &mut [IoEvent]) -> usize {
        let (n, head) = self.peek(out);
        if n > 0 {
            self.advance(head);
        }
        n
    }

    /// Marks the ring dead (magic cleared) so ring-reading clients stop trusting it.
    pub fn retire(&self) {
        self.field(offset_of!(AioRingHeader, magic))
            .store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;
