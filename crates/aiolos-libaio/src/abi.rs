//! The C types of libaio's ABI, as `include/libaio.h` declares them.
//!
//! `struct iocb` and `struct io_event` are the kernel's own layouts (64 and 32 bytes on
//! every ABI); they are re-exported from `aiolos::sys::aio`, which asserts their sizes and
//! field offsets at compile time.

use std::ffi::{c_long, c_void};

pub use aiolos::sys::aio::{AioRingHeader, IoEvent, Iocb, AIO_RING_MAGIC};

/// `io_context_t`: an opaque pointer. On the `native` engine it is the kernel's
/// `aio_context_t`, the address of the context's completion ring.
pub type IoContext = *mut c_void;

/// `io_callback_t`: what `io_queue_run` calls for each completion, found in the event's
/// `data` field (set by `io_set_callback`). NULL means no callback.
pub type IoCallback = Option<unsafe extern "C" fn(IoContext, *mut Iocb, c_long, c_long)>;

/// `struct timespec`.
pub type Timespec = libc::timespec;

/// `sigset_t`.
pub type Sigset = libc::sigset_t;

/// The context id the kernel knows for `ctx` (its address as an integer).
pub fn ctx_id(ctx: IoContext) -> u64 {
    ctx as usize as u64
}

/// Whether `p` could point to a `T` in user space: not NULL, not in the first page, aligned
/// for `T`, and below the highest user-space address any 64-bit Linux ABI uses.
///
/// This cannot prove that memory is mapped; it only rejects pointers that are certainly
/// wrong, before this library reads through them itself. Pointers handed to the kernel are
/// validated by the kernel (`EFAULT`).
pub fn plausible<T>(p: *const T) -> bool {
    let a = p as usize;
    let below_top = if usize::BITS == 64 {
        (a as u64) < (1u64 << 56)
    } else {
        true
    };
    a >= 4096 && a & (std::mem::align_of::<T>() - 1) == 0 && below_top
}
