//! Caller memory: reads and writes of memory that a C caller's pointer names (the iocb
//! pointer array, iocbs, iovec arrays, `*timeout`, `*ctxp`, the event array).
//!
//! In the library these go through the kernel (`process_vm_readv`/`writev` on this
//! process, in `aiolos::sys::aio_raw`), so an unmapped or read-only address is `EFAULT`,
//! never a crash.
//!
//! Miri cannot run those system calls. Under Miri only (`cfg(miri)`, which no build of the
//! library has), the same functions copy directly, after the checks that do not need the
//! kernel: an address in the first page is `EFAULT`, as the kernel answers for it. Tests
//! under Miri pass only valid memory or such addresses; any other bad access is then
//! reported by Miri as undefined behaviour, which is stricter than `EFAULT`.
//!
//! # Safety
//!
//! Outside Miri: none (the kernel validates every address). Under Miri: the direct copies
//! rely on the test's pointers naming readable (or writable) memory of the given length,
//! which Miri itself checks.
#![cfg_attr(miri, allow(unsafe_code))]

use aiolos::sys::Errno;

/// Reads `dst.len()` bytes from `src`; returns how many were readable from the start.
///
/// # Errors
/// `EFAULT` when not even the first byte is readable; `EPERM`/`ENOSYS` where a seccomp
/// filter denies the system call.
pub fn load(src: *const u8, dst: &mut [u8]) -> Result<usize, Errno> {
    #[cfg(not(miri))]
    {
        aiolos::sys::aio_raw::load_checked(src, dst)
    }
    #[cfg(miri)]
    {
        if dst.is_empty() {
            return Ok(0);
        }
        if in_first_page(src as usize) {
            return Err(Errno::FAULT);
        }
        // SAFETY: under Miri only; Miri checks that src names dst.len() readable bytes.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(dst.len())
    }
}

/// Reads several ranges (`(address, length)`, at most 1024) into `dst`, one after the
/// other; returns how many bytes were read (reading stops at the first unreadable range).
///
/// # Errors
/// `EFAULT` when not even the first byte is readable; `EINVAL` for more than 1024 ranges or
/// a `dst` shorter than their total; `EPERM`/`ENOSYS` under a seccomp filter.
pub fn load_vectored(srcs: &[(usize, usize)], dst: &mut [u8]) -> Result<usize, Errno> {
    #[cfg(not(miri))]
    {
        aiolos::sys::aio_raw::load_vectored_checked(srcs, dst)
    }
    #[cfg(miri)]
    {
        let total = srcs
            .iter()
            .try_fold(0usize, |t, &(_, len)| t.checked_add(len));
        if srcs.len() > 1024 || total.is_none_or(|t| t > dst.len()) {
            return Err(Errno::INVAL);
        }
        let mut done = 0;
        for &(addr, len) in srcs {
            if len == 0 {
                continue;
            }
            if in_first_page(addr) {
                return if done == 0 {
                    Err(Errno::FAULT)
                } else {
                    Ok(done)
                };
            }
            let src = std::ptr::with_exposed_provenance::<u8>(addr);
            // SAFETY: under Miri only; Miri checks that addr names len readable bytes
            // (callers' pointers are exposed, as C's are); done + len <= total <= dst.len().
            unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr().add(done), len) };
            done += len;
        }
        Ok(done)
    }
}

/// Writes `src` at `dst`.
///
/// # Errors
/// `EFAULT` when the whole range is not writable; `EPERM`/`ENOSYS` under a seccomp filter.
pub fn store(dst: *mut u8, src: &[u8]) -> Result<(), Errno> {
    #[cfg(not(miri))]
    {
        aiolos::sys::aio_raw::store_checked(dst, src)
    }
    #[cfg(miri)]
    {
        if src.is_empty() {
            return Ok(());
        }
        if in_first_page(dst as usize) {
            return Err(Errno::FAULT);
        }
        // SAFETY: under Miri only; Miri checks that dst names src.len() writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }
}

/// Writes `value` at `dst` (native byte order).
///
/// # Errors
/// As [`store`].
pub fn store_u64(dst: *mut u64, value: u64) -> Result<(), Errno> {
    store(dst.cast(), &value.to_ne_bytes())
}

/// Whether `addr` lies in the first page, which Linux never maps (`vm.mmap_min_addr`).
#[cfg(miri)]
fn in_first_page(addr: usize) -> bool {
    addr < 4096
}
