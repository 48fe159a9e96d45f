//! Kernel AIO system calls taking the caller's raw pointers unchanged, for the C ABI
//! (`libaio.so.1`), where the pointers come from C code and may be NULL or wild.
//!
//! The kernel validates every pointer it is handed (`EFAULT`), so these functions never
//! dereference a pointer themselves; they exist so that a bad pointer from C reaches the
//! kernel as it is instead of being turned into a Rust reference first.
//!
//! # References
//! `io_setup(2)`, `io_submit(2)`, `io_getevents(2)`, `io_cancel(2)`.

use super::aio::{IoEvent, Iocb};
use super::{cvt, Errno};
use linux_raw_sys::general as nr;
use std::sync::atomic::{AtomicU64, Ordering};

/// This process's id for `process_vm_readv`/`writev`, cached per fork generation: glibc no
/// longer caches `getpid`, and these calls run several times per request in the C ABI.
fn self_pid() -> libc::pid_t {
    static CACHE: AtomicU64 = AtomicU64::new(u64::MAX);
    let generation = super::fork_generation() & 0xffff_ffff;
    let cached = CACHE.load(Ordering::Relaxed);
    if cached != u64::MAX && cached >> 32 == generation {
        return cached as u32 as libc::pid_t;
    }
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    CACHE.store(generation << 32 | u64::from(pid as u32), Ordering::Relaxed);
    pid
}

/// `io_setup(2)` writing the new context to `ctxp` (which must hold 0 on entry).
///
/// # Safety
/// None beyond the kernel's own checks: the kernel reads and writes `*ctxp` through
/// `copy_from_user`/`copy_to_user` and reports `EFAULT` for an unmapped address. The caller
/// owns the context created and must destroy it.
///
/// # Errors
/// `EINVAL` (`nr_events` 0 or huge, `*ctxp` not 0), `EFAULT`, `EAGAIN` (over
/// `fs.aio-max-nr`), `ENOMEM`.
///
/// # References
/// `io_setup(2)`.
pub unsafe fn io_setup(nr_events: u32, ctxp: *mut u64) -> Result<(), Errno> {
    // SAFETY: the kernel validates ctxp; nr_events is a plain integer.
    cvt(unsafe {
        libc::syscall(
            nr::__NR_io_setup as libc::c_long,
            nr_events as libc::c_long,
            ctxp,
        )
    })?;
    Ok(())
}

/// `io_submit(2)` with the caller's count and pointer array.
///
/// # Safety
/// The kernel validates the array and each iocb (`EFAULT`), but the buffers the iocbs name
/// are written asynchronously: the caller must keep them (and the iocbs) valid until each
/// request's completion has been reaped.
///
/// # Errors
/// `EINVAL` (bad context, `nr < 0`, bad iocb), `EFAULT`, `EBADF`, `EAGAIN`.
///
/// # References
/// `io_submit(2)`.
pub unsafe fn io_submit(ctx: u64, nr: libc::c_long, iocbs: *mut *mut Iocb) -> Result<usize, Errno> {
    // SAFETY: the caller upholds the buffer lifetimes; the kernel validates the pointers.
    let n = cvt(unsafe { libc::syscall(nr::__NR_io_submit as libc::c_long, ctx, nr, iocbs) })?;
    Ok(n as usize)
}

/// `io_getevents(2)` with the caller's counts, event array and timeout pointer.
///
/// # Safety
/// The kernel validates `events` and `timeout` (`EFAULT`); the caller vouches that no Rust
/// reference aliases the `events` memory during the call.
///
/// # Errors
/// `EINVAL` (bad context or counts), `EFAULT`, `EINTR`.
///
/// # References
/// `io_getevents(2)`.
pub unsafe fn io_getevents(
    ctx: u64,
    min_nr: libc::c_long,
    nr: libc::c_long,
    events: *mut IoEvent,
    timeout: *const libc::timespec,
) -> Result<usize, Errno> {
    // SAFETY: see the function's contract; the kernel validates every pointer.
    let n = cvt(unsafe {
        libc::syscall(
            nr::__NR_io_getevents as libc::c_long,
            ctx,
            min_nr,
            nr,
            events,
            timeout,
        )
    })?;
    Ok(n as usize)
}

/// `io_pgetevents(2)`: [`io_getevents`] with `sigmask` (NULL: unchanged) applied while
/// waiting.
///
/// # Safety
/// As [`io_getevents`]; the kernel validates `sigmask` too.
///
/// # Errors
/// As [`io_getevents`]; `ENOSYS` before Linux 4.18.
///
/// # References
/// `io_getevents(2)`; the system call `io_pgetevents` (Linux 4.18).
pub unsafe fn io_pgetevents(
    ctx: u64,
    min_nr: libc::c_long,
    nr: libc::c_long,
    events: *mut IoEvent,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> Result<usize, Errno> {
    #[repr(C)]
    struct SigsetArg {
        ss: *const libc::sigset_t,
        ss_len: usize,
    }
    // The kernel's sigset is _NSIG / 8 = 8 bytes on Linux.
    let arg = SigsetArg {
        ss: sigmask,
        ss_len: 8,
    };
    // SAFETY: see the function's contract; arg lives until the call returns.
    let n = cvt(unsafe {
        libc::syscall(
            nr::__NR_io_pgetevents as libc::c_long,
            ctx,
            min_nr,
            nr,
            events,
            timeout,
            &arg as *const SigsetArg,
        )
    })?;
    Ok(n as usize)
}

/// `io_cancel(2)` with the caller's iocb and result pointers.
///
/// # Safety
/// The kernel only uses `iocb` to read its key and find the request; it validates both
/// pointers (`EFAULT`).
///
/// # Errors
/// `EINVAL` (not found or not cancellable), `EINPROGRESS`, `EFAULT`, `EAGAIN`.
///
/// # References
/// `io_cancel(2)`.
pub unsafe fn io_cancel(ctx: u64, iocb: *mut Iocb, result: *mut IoEvent) -> Result<(), Errno> {
    // SAFETY: the kernel validates every pointer.
    cvt(unsafe { libc::syscall(nr::__NR_io_cancel as libc::c_long, ctx, iocb, result) })?;
    Ok(())
}

/// `io_destroy(2)` of a context id given as a plain integer.
///
/// # Errors
/// `EINVAL` for a context that is not live in this process.
///
/// # References
/// `io_destroy(2)`.
pub fn io_destroy(ctx: u64) -> Result<(), Errno> {
    super::aio::io_destroy(super::aio::AioContext(ctx))
}

/// Stores `value` at a caller's address through the kernel (`process_vm_writev` on this
/// process), so that an unmapped or read-only address gives `EFAULT` instead of a fault.
/// For the C ABI's output parameters (`io_queue_init`'s `ctxp`).
///
/// # Errors
/// `EFAULT` for an address that is not writable; `EPERM`/`ENOSYS` where a seccomp filter
/// denies the call (callers then decide whether to write directly).
///
/// # References
/// `process_vm_writev(2)`.
#[doc(alias = "process_vm_writev")]
pub fn store_u64_checked(dst: *mut u64, value: u64) -> Result<(), Errno> {
    store_checked(dst.cast(), &value.to_ne_bytes())
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
pub fn store_checked(dst: *mut u8, src: &[u8]) -> Result<(), Errno> {
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
    let n = cvt(unsafe { libc::process_vm_writev(self_pid(), &local, 1, &remote, 1, 0) } as _)?;
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
pub fn load_checked(src: *const u8, dst: &mut [u8]) -> Result<usize, Errno> {
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
    let n = cvt(unsafe { libc::process_vm_readv(self_pid(), &local, 1, &remote, 1, 0) } as _)?;
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
pub fn load_vectored_checked(srcs: &[(usize, usize)], dst: &mut [u8]) -> Result<usize, Errno> {
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
    } as _)?;
    Ok(n as usize)
}
