//! Caller memory: reads and writes of memory that a C caller's pointer names (the iocb
//! pointer array, iocbs, iovec arrays, `*timeout`, `*ctxp`, the event array).
//!
//! Memory that is certainly mapped ([`crate::region`]: the caller's live stack, the `brk`
//! heap, the program's own data) is read and written directly. Anything else goes through
//! the kernel ([`crate::bounce`]'s memory file, else `process_vm_readv`/`writev` on this
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
//! Outside Miri: direct copies only touch ranges [`crate::region`] proves mapped (readable,
//! or writable for stores); the kernel validates every other address. Under Miri: the
//! direct copies rely on the test's pointers naming readable (or writable) memory of the
//! given length, which Miri itself checks.
#![allow(unsafe_code)]

use crate::region;
use aiolos::sys::Errno;

/// Reads `dst.len()` bytes from `src`; returns how many were readable from the start.
///
/// # Errors
/// `EFAULT` when not even the first byte is readable; `EPERM`/`ENOSYS` where a seccomp
/// filter denies the system call.
pub fn load(src: *const u8, dst: &mut [u8]) -> Result<usize, Errno> {
    if region::readable(src as usize, dst.len()) {
        copy_in(src as usize, dst);
        return Ok(dst.len());
    }
    #[cfg(not(miri))]
    {
        if dst.is_empty() {
            return Ok(0);
        }
        let len = dst.len();
        crate::bounce::load_vectored(&[(src as usize, len)], dst)
            .unwrap_or_else(|| aiolos::sys::aio_raw::load_checked(src, dst))
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
    let total = srcs
        .iter()
        .try_fold(0usize, |t, &(_, len)| t.checked_add(len));
    if srcs.len() <= 1024
        && total.is_some_and(|t| t <= dst.len())
        && srcs.iter().all(|&(a, len)| region::readable(a, len))
    {
        let mut done = 0;
        for &(addr, len) in srcs {
            copy_in(addr, &mut dst[done..done + len]);
            done += len;
        }
        return Ok(done);
    }
    #[cfg(not(miri))]
    {
        if total == Some(0) {
            return Ok(0);
        }
        crate::bounce::load_vectored(srcs, dst)
            .unwrap_or_else(|| aiolos::sys::aio_raw::load_vectored_checked(srcs, dst))
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
    if region::writable(dst as usize, src.len()) {
        copy_out(src, dst as usize);
        return Ok(());
    }
    #[cfg(not(miri))]
    {
        if src.is_empty() {
            return Ok(());
        }
        crate::bounce::store(dst as usize, src)
            .unwrap_or_else(|| aiolos::sys::aio_raw::store_checked(dst, src))?;
        remember_written(dst as usize, src.len());
        Ok(())
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

/// Copies caller memory at `addr` that [`region::readable`] proved readable.
fn copy_in(addr: usize, dst: &mut [u8]) {
    let src = std::ptr::with_exposed_provenance::<u8>(addr);
    // SAFETY: the caller checked region::readable(addr, dst.len()): the range is mapped
    // and readable for the duration of the call; dst is our own buffer of that length.
    unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
}

/// Copies `src` to caller memory at `addr` that [`region::writable`] proved writable.
fn copy_out(src: &[u8], addr: usize) {
    let dst = std::ptr::with_exposed_provenance_mut::<u8>(addr);
    // SAFETY: the caller checked region::writable(addr, src.len()); src is our own buffer.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
}

/// Writes `value` at `dst` (native byte order).
///
/// # Errors
/// As [`store`].
pub fn store_u64(dst: *mut u64, value: u64) -> Result<(), Errno> {
    store(dst.cast(), &value.to_ne_bytes())
}

thread_local! {
    /// Pages this thread wrote through the kernel lately (page numbers).
    static WRITTEN: std::cell::RefCell<[usize; 16]> = const { std::cell::RefCell::new([usize::MAX; 16]) };
}

#[cfg_attr(miri, allow(dead_code))]
fn remember_written(addr: usize, len: usize) {
    let (first, last) = (addr / 4096, (addr + len.max(1) - 1) / 4096);
    if first == last {
        WRITTEN.with(|w| {
            let mut w = w.borrow_mut();
            if !w.contains(&first) {
                w.rotate_right(1);
                w[0] = first;
            }
        });
    }
}

/// Whether `[addr, addr + len)` is writable as far as this thread knows: proven by
/// [`crate::region`], or on a page it wrote through the kernel lately. Only for skipping a
/// write that would store what is there already: a page made read-only since would then
/// miss its `EFAULT`, never fault (nothing is written).
pub fn known_writable(addr: usize, len: usize) -> bool {
    if region::writable(addr, len) {
        return true;
    }
    let (first, last) = (addr / 4096, addr.saturating_add(len.max(1) - 1) / 4096);
    first == last && WRITTEN.with(|w| w.borrow().contains(&first))
}

/// Writes `value` at `dst` (native byte order).
///
/// # Errors
/// As [`store`].
pub fn store_u32(dst: *mut u32, value: u32) -> Result<(), Errno> {
    store(dst.cast(), &value.to_ne_bytes())
}

/// Reads a `T` (plain data: every bit pattern valid) from caller memory.
///
/// # Errors
/// `EFAULT` unless all of it is readable; as [`load`] otherwise.
pub fn load_value<T: Plain>(src: *const T) -> Result<T, Errno> {
    let mut v = T::default();
    // SAFETY: T: Plain, so its bytes may be overwritten with any values.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut((&mut v as *mut T).cast::<u8>(), std::mem::size_of::<T>())
    };
    match load(src.cast(), bytes)? {
        n if n == std::mem::size_of::<T>() => Ok(v),
        _ => Err(Errno::FAULT),
    }
}

/// Plain data read from callers: every bit pattern is a valid value.
///
/// # Safety
/// Implementors have no padding-dependent invariants and no invalid bit patterns.
pub unsafe trait Plain: Copy + Default {}
// SAFETY: integers and arrays of integers have no invalid bit patterns.
unsafe impl Plain for u64 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for usize {}
// SAFETY: as above.
unsafe impl Plain for [u32; 8] {}
// SAFETY: as above.
unsafe impl Plain for [u64; 2] {}
// SAFETY: as above.
unsafe impl Plain for [usize; 2] {}
// SAFETY: as above.
unsafe impl Plain for [i64; 2] {}
// SAFETY: struct io_event is four plain integers.
unsafe impl Plain for crate::abi::IoEvent {}
// SAFETY: struct iocb is plain integers (64 bytes, no padding-dependent invariants).
unsafe impl Plain for crate::abi::Iocb {}

/// Whether `addr` lies in the first page, which Linux never maps (`vm.mmap_min_addr`).
#[cfg(miri)]
fn in_first_page(addr: usize) -> bool {
    addr < 4096
}
