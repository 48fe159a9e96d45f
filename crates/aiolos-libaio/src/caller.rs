//! Caller memory: reads and writes of memory that a C caller's pointer names (the iocb
//! pointer array, iocbs, iovec arrays, `*timeout`, `*ctxp`, the event array).
//!
//! Memory that is certainly mapped ([`crate::region`]: the caller's live stack, the `brk`
//! heap, the program's own data) is read and written directly. Anything else goes through
//! the kernel ([`crate::bounce`]'s memory file, else `process_vm_readv`/`writev` on this
//! process, in this module's `kernel`: `rustix` has neither call), so an unmapped or read-only address is `EFAULT`,
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
            .unwrap_or_else(|| kernel::load(src, dst))
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
        crate::bounce::load_vectored(srcs, dst).unwrap_or_else(|| kernel::load_vectored(srcs, dst))
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
        crate::bounce::store(dst as usize, src).unwrap_or_else(|| kernel::store(dst, src))?;
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

/// `process_vm_readv`/`writev` on this process: caller memory read and written by the
/// kernel, which checks every address.
#[cfg(not(miri))]
mod kernel {
    use aiolos::sys::Errno;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A `-1`-plus-`errno` return as a result.
    fn cvt(ret: isize) -> Result<isize, Errno> {
        if ret == -1 {
            Err(Errno::last())
        } else {
            Ok(ret)
        }
    }

    /// This process's id for `process_vm_readv`/`writev`, cached per fork generation: glibc no
    /// longer caches `getpid`, and these calls run several times per request in the C ABI.
    fn self_pid() -> libc::pid_t {
        static CACHE: AtomicU64 = AtomicU64::new(u64::MAX);
        let generation = aiolos::sys::fork_generation() & 0xffff_ffff;
        let cached = CACHE.load(Ordering::Relaxed);
        if cached != u64::MAX && cached >> 32 == generation {
            return cached as u32 as libc::pid_t;
        }
        let pid = rustix::process::Pid::as_raw(Some(rustix::process::getpid()));
        CACHE.store(generation << 32 | u64::from(pid as u32), Ordering::Relaxed);
        pid
    }

    /// Stores `src` at a caller's address through the kernel (`process_vm_writev` on this
    /// process), so that an unwritable address gives `EFAULT` instead of a fault.
    ///
    /// # Errors
    /// `EFAULT` when the whole range is not writable; `EPERM`/`ENOSYS` under a seccomp filter
    /// that denies the call.
    ///
    /// # References
    /// `process_vm_writev(2)`.
    #[doc(alias = "process_vm_writev")]
    pub(super) fn store(dst: *mut u8, src: &[u8]) -> Result<(), Errno> {
        if src.is_empty() {
            return Ok(());
        }
        let local = libc::iovec {
            iov_base: src.as_ptr() as *mut libc::c_void,
            iov_len: src.len(),
        };
        let remote = libc::iovec {
            iov_base: dst.cast(),
            iov_len: src.len(),
        };
        // SAFETY: local names src, readable for its length until the call returns; the kernel
        // validates the remote address against this process's mappings.
        let n = cvt(unsafe { libc::process_vm_writev(self_pid(), &local, 1, &remote, 1, 0) })?;
        if n as usize == src.len() {
            Ok(())
        } else {
            Err(Errno::FAULT)
        }
    }

    /// Reads `dst.len()` bytes from a caller's address through the kernel
    /// (`process_vm_readv` on this process), so that an unmapped address gives `EFAULT`
    /// instead of a fault. Returns how many bytes were readable from the start (a short count
    /// stops at the first unreadable page).
    ///
    /// # Errors
    /// `EFAULT` when not even the first byte is readable; `EPERM`/`ENOSYS` where a seccomp
    /// filter denies the call.
    ///
    /// # References
    /// `process_vm_readv(2)`.
    #[doc(alias = "process_vm_readv")]
    pub(super) fn load(src: *const u8, dst: &mut [u8]) -> Result<usize, Errno> {
        if dst.is_empty() {
            return Ok(0);
        }
        let local = libc::iovec {
            iov_base: dst.as_mut_ptr().cast(),
            iov_len: dst.len(),
        };
        let remote = libc::iovec {
            iov_base: src as *mut libc::c_void,
            iov_len: dst.len(),
        };
        // SAFETY: local names dst, writable for its length; the kernel validates the remote
        // address against this process's mappings.
        let n = cvt(unsafe { libc::process_vm_readv(self_pid(), &local, 1, &remote, 1, 0) })?;
        Ok(n as usize)
    }

    /// Reads several caller ranges (`(address, length)`, at most 1024) into `dst`, one after
    /// the other, with one `process_vm_readv`. Returns how many bytes were read; the kernel
    /// stops at the first range it cannot read, so the count says which ranges arrived whole.
    ///
    /// # Errors
    /// `EFAULT` when not even the first byte is readable; `EINVAL` for more than 1024 ranges
    /// or a `dst` shorter than their total; `EPERM`/`ENOSYS` where a seccomp filter denies the
    /// call.
    pub(super) fn load_vectored(srcs: &[(usize, usize)], dst: &mut [u8]) -> Result<usize, Errno> {
        let total = srcs
            .iter()
            .try_fold(0usize, |t, &(_, len)| t.checked_add(len));
        if srcs.len() > 1024 || total.is_none_or(|t| t > dst.len()) {
            return Err(Errno::INVAL);
        }
        if srcs.is_empty() || total == Some(0) {
            return Ok(0);
        }
        let local = libc::iovec {
            iov_base: dst.as_mut_ptr().cast(),
            iov_len: total.unwrap_or(0),
        };
        let remote: Vec<libc::iovec> = srcs
            .iter()
            .map(|&(addr, len)| libc::iovec {
                iov_base: addr as *mut libc::c_void,
                iov_len: len,
            })
            .collect();
        // SAFETY: local names the first `total` bytes of dst, writable; the kernel validates
        // every remote range against this process's mappings.
        let n = cvt(unsafe {
            libc::process_vm_readv(
                self_pid(),
                &local,
                1,
                remote.as_ptr(),
                remote.len() as libc::c_ulong,
                0,
            )
        })?;
        Ok(n as usize)
    }
}
