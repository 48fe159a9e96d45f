//! A type-erased owned buffer, so one [`Ring`](crate::Ring) can carry the buffers of every
//! request of the async layer, whatever their type: each buffer is boxed once per request
//! and downcast back to its own type when the completion comes back.
//!
//! A window (`begin`) lets `read_exact_at` and `write_all_at` continue a short transfer in
//! the same buffer without exposing a slice type.
//!
//! # Safety
//!
//! [`ErasedBuf`] implements the unsafe buffer traits by delegating to the boxed buffer's
//! own [`IoBuf`]/[`IoBufMut`] implementation, offset by `begin`, which is kept within the
//! buffer's bounds. A write-only buffer (one that is only [`IoBuf`]) reports zero writable
//! bytes, so no request can ever write into it.
#![allow(unsafe_code)]

use crate::buf::{IoBuf, IoBufMut};
use std::any::Any;

/// The object-safe face of a buffer of any type.
trait AnyBuf: Send + 'static {
    fn ptr(&self) -> *const u8;
    fn init(&self) -> usize;
    fn mut_ptr(&mut self) -> *mut u8;
    fn total(&self) -> usize;
    /// # Safety
    /// As [`IoBufMut::set_init`].
    unsafe fn mark_init(&mut self, n: usize);
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A buffer the kernel may write into.
struct Writable<B>(B);

/// A buffer the kernel only reads from.
struct ReadOnly<B>(B);

impl<B: IoBufMut> AnyBuf for Writable<B> {
    fn ptr(&self) -> *const u8 {
        self.0.stable_ptr()
    }
    fn init(&self) -> usize {
        self.0.bytes_init()
    }
    fn mut_ptr(&mut self) -> *mut u8 {
        self.0.stable_mut_ptr()
    }
    fn total(&self) -> usize {
        self.0.bytes_total()
    }
    unsafe fn mark_init(&mut self, n: usize) {
        // SAFETY: forwarded contract: the caller vouches that n bytes are initialised.
        unsafe { self.0.set_init(n) }
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl<B: IoBuf> AnyBuf for ReadOnly<B> {
    fn ptr(&self) -> *const u8 {
        self.0.stable_ptr()
    }
    fn init(&self) -> usize {
        self.0.bytes_init()
    }
    fn mut_ptr(&mut self) -> *mut u8 {
        // Never written through: total() is 0.
        self.0.stable_ptr().cast_mut()
    }
    fn total(&self) -> usize {
        0
    }
    unsafe fn mark_init(&mut self, _n: usize) {}
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A boxed buffer of any type, with a window starting at `begin`.
pub(crate) struct ErasedBuf {
    buf: Box<dyn AnyBuf>,
    begin: usize,
}

impl std::fmt::Debug for ErasedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasedBuf")
            .field("begin", &self.begin)
            .field("init", &self.buf.init())
            .field("total", &self.buf.total())
            .finish()
    }
}

impl ErasedBuf {
    /// A buffer for reads (or writes), starting `begin` bytes in.
    pub(crate) fn writable<B: IoBufMut>(buf: B, begin: usize) -> ErasedBuf {
        ErasedBuf {
            buf: Box::new(Writable(buf)),
            begin,
        }
    }

    /// A buffer for writes only, starting `begin` bytes in.
    pub(crate) fn read_only<B: IoBuf>(buf: B, begin: usize) -> ErasedBuf {
        ErasedBuf {
            buf: Box::new(ReadOnly(buf)),
            begin,
        }
    }

    /// Gives back the buffer made by [`ErasedBuf::writable`] with the same `B`.
    pub(crate) fn into_writable<B: IoBufMut>(self) -> B {
        match self.buf.into_any().downcast::<Writable<B>>() {
            Ok(b) => b.0,
            Err(_) => unreachable!("an fs request gets back the buffer type it put in"),
        }
    }

    /// Gives back the buffer made by [`ErasedBuf::read_only`] with the same `B`.
    pub(crate) fn into_read_only<B: IoBuf>(self) -> B {
        match self.buf.into_any().downcast::<ReadOnly<B>>() {
            Ok(b) => b.0,
            Err(_) => unreachable!("an fs request gets back the buffer type it put in"),
        }
    }
}

// SAFETY: delegates to the boxed buffer's IoBuf, whose address is stable however the box
// (or this value) moves; begin is clamped to bytes_init, so the window stays inside the
// initialised bytes.
unsafe impl IoBuf for ErasedBuf {
    fn stable_ptr(&self) -> *const u8 {
        let begin = self.begin.min(self.buf.init());
        self.buf.ptr().wrapping_add(begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf.init().saturating_sub(self.begin)
    }
}

// SAFETY: delegates to the boxed buffer's IoBufMut (or reports 0 writable bytes for a
// read-only one); begin is clamped to bytes_total, so the window stays inside the
// allocation, and set_init marks the same bytes, shifted by begin, in the real buffer.
unsafe impl IoBufMut for ErasedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        let begin = self.begin.min(self.buf.total());
        self.buf.mut_ptr().wrapping_add(begin)
    }
    fn bytes_total(&self) -> usize {
        self.buf.total().saturating_sub(self.begin)
    }
    unsafe fn set_init(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        // SAFETY: the caller vouches that the window's first n bytes are initialised;
        // those are bytes begin..begin+n of the real buffer, and everything before begin
        // was initialised by the transfers that moved the window forward.
        unsafe { self.buf.mark_init(self.begin + n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_as_its_own_type() {
        let e = ErasedBuf::writable(vec![1u8, 2, 3], 0);
        assert_eq!(e.into_writable::<Vec<u8>>(), vec![1, 2, 3]);
        let e = ErasedBuf::read_only(vec![4u8].into_boxed_slice(), 0);
        assert_eq!(&*e.into_read_only::<Box<[u8]>>(), &[4]);
    }

    #[test]
    fn a_window_shifts_the_address_and_shrinks_the_lengths() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&[0u8; 4]);
        let base = v.as_ptr();
        let mut e = ErasedBuf::writable(v, 4);
        assert_eq!(e.stable_mut_ptr() as usize, base as usize + 4);
        assert_eq!(e.bytes_total(), 12);
        assert_eq!(e.bytes_init(), 0);
        // SAFETY: the bytes are written right here before being marked.
        unsafe {
            e.stable_mut_ptr().write_bytes(7, 2);
            e.set_init(2);
        }
        assert_eq!(e.into_writable::<Vec<u8>>(), vec![0, 0, 0, 0, 7, 7]);
    }

    #[test]
    fn a_read_only_buffer_offers_no_writable_bytes() {
        let e = ErasedBuf::read_only(vec![9u8; 8], 2);
        assert_eq!(e.bytes_total(), 0);
        assert_eq!(e.bytes_init(), 6);
    }
}
