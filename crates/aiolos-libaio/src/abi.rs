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

/// A zero timeout the library itself passes (`io_queue_run`); recognised by address, so
/// reading it costs no system call.
pub static ZERO_TIMEOUT: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_rejects_null_the_first_page_misalignment_and_kernel_addresses() {
        let v = 0u64;
        assert!(plausible(&v));
        assert!(!plausible(std::ptr::null::<u64>()));
        assert!(!plausible(std::ptr::without_provenance::<u8>(4095)));
        assert!(plausible(std::ptr::without_provenance::<u8>(4096)));
        assert!(!plausible(std::ptr::without_provenance::<u64>(4100)));
        assert!(plausible(std::ptr::without_provenance::<u64>(4104)));
        assert!(!plausible(std::ptr::without_provenance::<u8>(1 << 56)));
        assert!(plausible(std::ptr::without_provenance::<u8>((1 << 56) - 1)));
        assert!(!plausible(std::ptr::without_provenance::<u8>(usize::MAX)));
    }

    #[test]
    fn ctx_id_is_the_contexts_address() {
        assert_eq!(ctx_id(std::ptr::null_mut()), 0);
        let ctx: IoContext = std::ptr::without_provenance_mut(0x7f00_dead_b000);
        assert_eq!(ctx_id(ctx), 0x7f00_dead_b000);
    }
}
