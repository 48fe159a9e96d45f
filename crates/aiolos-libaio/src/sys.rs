//! The drop-in's own system calls: what the emulated engines need beyond the library's
//! `aiolos::sys` (which serves the library): eventfds for the engine thread's doorbell
//! and for threads waiting in `io_getevents` with signals held off, futexes for the other
//! waits (`io_getevents` by default, `io_destroy`), the buffered reads and writes done
//! inside `io_submit`, and descriptor queries.
//!
//! Everything `rustix` offers is `rustix`'s (or [`crate::fds`]'s and [`crate::sigmask`]'s).
//! Two calls are made through `libc`: `preadv2`/`pwritev2` on a C caller's iovecs, whose
//! addresses may name unmapped memory (a Rust slice, which `rustix` takes, may not), and
//! `pthread_sigmask`, which `rustix` offers only to runtimes.
//!
//! # Safety
//!
//! Each function passes the kernel only its own arguments; those that take caller
//! memory (`preadv2`/`pwritev2`) say so in their `# Safety` section.
#![allow(unsafe_code)]

use aiolos::sys::{Errno, IoVec};
use rustix::fs::OFlags;
use rustix::thread::futex;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// A non-blocking, close-on-exec eventfd.
///
/// # Errors
/// `EMFILE`, `ENFILE`, `ENOMEM`.
pub fn eventfd() -> Result<OwnedFd, Errno> {
    crate::fds::eventfd()
}

/// Adds 1 to an eventfd's counter (the program's `IOCB_FLAG_RESFD` descriptor, or one of
/// ours). Errors are ignored, as the kernel ignores them when it signals one.
pub fn eventfd_signal(fd: RawFd) {
    let _ = crate::fds::signal(fd);
}

/// Empties one of our (non-blocking) eventfds.
pub fn eventfd_drain(fd: BorrowedFd<'_>) {
    let _ = crate::fds::drain(fd);
}

/// Sleeps until `fd` is readable (`poll(2)`, no timeout; the library's own threads block
/// every signal, and an interruption only polls again).
pub fn wait_readable(fd: BorrowedFd<'_>) {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    while poll(&mut fds, None).is_err_and(|e| e == rustix::io::Errno::INTR) {}
}

/// `ppoll(2)` on `fd` for reading with the signal set `mask` (8 bytes, the kernel's) in
/// effect while it waits, installed and removed atomically with the sleep; `timeout`
/// `None` waits forever, zero only delivers a pending signal that the mask unblocks.
/// Returns whether `fd` is readable.
///
/// # Errors
/// `EINTR` when a signal handler ran; `EINVAL`, `ENOMEM`.
pub fn ppoll_masked(
    fd: Option<RawFd>,
    timeout: Option<Duration>,
    mask: u64,
) -> Result<bool, Errno> {
    crate::sigmask::ppoll(fd, timeout, mask)
}

/// Sleeps while `word` holds `expected`, until woken ([`futex_wake`]), `timeout` passes, or
/// a signal handler runs. Always given a timeout, the kernel reports an interruption as
/// `EINTR` whatever the handler's `SA_RESTART`, as `io_getevents` does.
///
/// # Errors
/// `EINTR` (a signal handler ran), `ETIMEDOUT`, `EAGAIN` (the word had changed).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> Result<(), Errno> {
    let ts = futex::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    futex::wait(word, futex::Flags::PRIVATE, expected, Some(&ts))?;
    Ok(())
}

/// Wakes every thread sleeping on `word` in [`futex_wait`].
pub fn futex_wake(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::PRIVATE, i32::MAX as u32);
}

/// `preadv2(2)`: `offset` -1 reads at (and moves) the file position.
///
/// # Safety
/// The memory `iov` names is the caller's (the kernel checks it); it is not turned into
/// Rust slices here, since a C caller's address may be unmapped.
///
/// # Errors
/// The kernel's errno.
pub unsafe fn preadv2(fd: RawFd, iov: &[IoVec], offset: i64, flags: i32) -> Result<usize, Errno> {
    // SAFETY: the caller's contract.
    unsafe { vectored(libc::preadv2, fd, iov, offset, flags) }
}

/// `pwritev2(2)`: `offset` -1 writes at (and moves) the file position.
///
/// # Safety
/// As [`preadv2`].
///
/// # Errors
/// The kernel's errno.
pub unsafe fn pwritev2(fd: RawFd, iov: &[IoVec], offset: i64, flags: i32) -> Result<usize, Errno> {
    // SAFETY: the caller's contract.
    unsafe { vectored(libc::pwritev2, fd, iov, offset, flags) }
}

/// `preadv2` or `pwritev2` (`call`) on `iov`, as a count or the kernel's errno.
///
/// # Safety
/// As [`preadv2`].
unsafe fn vectored(
    call: unsafe extern "C" fn(
        RawFd,
        *const libc::iovec,
        libc::c_int,
        libc::off_t,
        libc::c_int,
    ) -> isize,
    fd: RawFd,
    iov: &[IoVec],
    offset: i64,
    flags: i32,
) -> Result<usize, Errno> {
    // SAFETY: IoVec has struct iovec's layout (repr(C): address, length); the kernel
    // validates every address it names; iov lives until the call returns.
    let n = unsafe {
        call(
            fd,
            iov.as_ptr().cast(),
            iov.len() as libc::c_int,
            offset,
            flags,
        )
    };
    usize::try_from(n).map_err(|_| Errno::last())
}

/// What a descriptor is: (mode, device, inode), without reading its timestamps (which
/// would make the file's next write dirty its inode: see [`aiolos::sys::describe`]).
///
/// # Errors
/// `EBADF`.
pub fn fstat(fd: RawFd) -> Result<(u32, u64, u64), Errno> {
    let id = aiolos::sys::describe(crate::fds::borrow(fd)?)?;
    Ok((id.mode, id.dev, id.ino))
}

/// The device a device file names (`st_rdev`): (major, minor).
///
/// # Errors
/// `EBADF`.
pub fn rdev(fd: RawFd) -> Result<(u32, u32), Errno> {
    let id = aiolos::sys::describe(crate::fds::borrow(fd)?)?;
    Ok((rustix::fs::major(id.rdev), rustix::fs::minor(id.rdev)))
}

/// `fcntl(F_GETFL)`.
///
/// # Errors
/// `EBADF`.
pub fn status_flags(fd: RawFd) -> Result<OFlags, Errno> {
    Ok(rustix::fs::fcntl_getfl(crate::fds::borrow(fd)?)?)
}

/// `fcntl(F_DUPFD_CLOEXEC)`: another descriptor for the same open file.
///
/// # Errors
/// `EBADF`, `EMFILE`.
pub fn dup(fd: RawFd) -> Result<OwnedFd, Errno> {
    Ok(rustix::io::fcntl_dupfd_cloexec(crate::fds::borrow(fd)?, 0)?)
}

/// Has `f` run at `exit()` (`atexit`); whether it could be registered.
#[cfg(not(miri))]
pub fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: `f` is a function of this library, which is never unloaded (`-z nodelete`).
    unsafe { libc::atexit(f) == 0 }
}

/// Miri has no `atexit`.
#[cfg(miri)]
pub fn at_exit(_f: extern "C" fn()) -> bool {
    false
}

/// Blocks every signal in the calling thread (the library's own threads leave the
/// program's signals to the program's threads).
pub fn block_signals() {
    if cfg!(miri) {
        return; // Miri delivers no signals (and has no sigfillset)
    }
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set; pthread_sigmask reads it.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), std::ptr::null_mut());
    }
}

/// Whether the process may use the real-time I/O class (`CAP_SYS_ADMIN` or
/// `CAP_SYS_NICE` in its effective set), as `ioprio_check_cap` asks.
pub fn may_use_realtime_io() -> bool {
    use rustix::thread::CapabilitySet;
    rustix::thread::capabilities(None).is_ok_and(|c| {
        c.effective
            .intersects(CapabilitySet::SYS_ADMIN | CapabilitySet::SYS_NICE)
    })
}
