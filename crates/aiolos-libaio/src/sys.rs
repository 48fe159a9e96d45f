//! The drop-in's own system calls: what the emulated engines need beyond the library's
//! `aiolos::sys` (which serves the library): eventfds for the engine thread's doorbell
//! and `io_pgetevents`, futexes for threads waiting in `io_getevents`, the buffered reads and
//! writes done inside `io_submit`, and descriptor queries.
//!
//! # Safety
//!
//! Each function passes the kernel only its own arguments; those that take caller
//! memory (`preadv2`/`pwritev2`) say so in their `# Safety` section.
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

fn cvt(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// A non-blocking, close-on-exec eventfd.
///
/// # Errors
/// `EMFILE`, `ENFILE`, `ENOMEM`.
pub fn eventfd() -> Result<OwnedFd, Errno> {
    // SAFETY: eventfd takes two integers.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } as _)?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Adds 1 to an eventfd's counter (the program's `IOCB_FLAG_RESFD` descriptor, or one of
/// ours). Errors are ignored, as the kernel ignores them when it signals one.
pub fn eventfd_signal(fd: RawFd) {
    let one = 1u64;
    // SAFETY: one is 8 readable bytes for the duration of the call.
    let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Empties one of our (non-blocking) eventfds.
pub fn eventfd_drain(fd: BorrowedFd<'_>) {
    let mut v = 0u64;
    // SAFETY: v is 8 writable bytes for the duration of the call.
    let _ = unsafe {
        libc::read(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&mut v as *mut u64).cast(),
            8,
        )
    };
}

/// `ppoll(2)` on `fd` for reading with the signal set `mask` (8 bytes, the kernel's) in
/// effect while it waits, installed and removed atomically with the sleep; `timeout`
/// `None` waits forever, zero only delivers a pending signal that the mask unblocks.
///
/// # Errors
/// `EINTR` when a signal handler ran; `EINVAL`, `ENOMEM`.
pub fn ppoll_masked(fd: Option<RawFd>, timeout: Option<Duration>, mask: u64) -> Result<(), Errno> {
    let mut pfd = libc::pollfd {
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // The raw system call, so the kernel gets exactly this 8-byte set (the C library's
    // wrapper may adjust the mask it is given).
    // SAFETY: pfd is one writable pollfd; ts_ptr is NULL or a live timespec; mask is 8
    // readable bytes, the size passed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            &mut pfd as *mut libc::pollfd,
            libc::nfds_t::from(fd.is_some()),
            ts_ptr,
            &mask as *const u64,
            std::mem::size_of::<u64>(),
        )
    })?;
    Ok(())
}

/// Sleeps while `word` holds `expected`, until woken ([`futex_wake`]), `timeout` passes, or
/// a signal handler runs. Always given a timeout, the kernel reports an interruption as
/// `EINTR` whatever the handler's `SA_RESTART`, as `io_getevents` does.
///
/// # Errors
/// `EINTR` (a signal handler ran), `ETIMEDOUT`, `EAGAIN` (the word had changed).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> Result<(), Errno> {
    let ts = timespec(timeout);
    // SAFETY: word is a live, aligned u32 for the duration of the call; ts is a live
    // timespec; the other arguments are unused by FUTEX_WAIT.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    })?;
    Ok(())
}

/// Wakes every thread sleeping on `word` in [`futex_wait`].
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: word is a live, aligned u32; FUTEX_WAKE reads no other memory.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// `preadv2(2)`: `offset` -1 reads at (and moves) the file position.
///
/// # Safety
/// `iov` names `cnt` iovecs; the memory they name is the caller's (the kernel checks it).
///
/// # Errors
/// The kernel's errno.
pub unsafe fn preadv2(
    fd: RawFd,
    iov: *const libc::iovec,
    cnt: usize,
    offset: i64,
    flags: i32,
) -> Result<usize, Errno> {
    // SAFETY: the caller's contract; the kernel validates every address.
    let n = cvt(unsafe { libc::preadv2(fd, iov, cnt as libc::c_int, offset, flags) } as _)?;
    Ok(n as usize)
}

/// `pwritev2(2)`: `offset` -1 writes at (and moves) the file position.
///
/// # Safety
/// As [`preadv2`].
///
/// # Errors
/// The kernel's errno.
pub unsafe fn pwritev2(
    fd: RawFd,
    iov: *const libc::iovec,
    cnt: usize,
    offset: i64,
    flags: i32,
) -> Result<usize, Errno> {
    // SAFETY: the caller's contract; the kernel validates every address.
    let n = cvt(unsafe { libc::pwritev2(fd, iov, cnt as libc::c_int, offset, flags) } as _)?;
    Ok(n as usize)
}

/// What `fstat` says of a descriptor: (mode, device, inode).
///
/// # Errors
/// `EBADF`.
pub fn fstat(fd: RawFd) -> Result<(u32, u64, u64), Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: st is writable storage for one struct stat.
    cvt(unsafe { libc::fstat(fd, st.as_mut_ptr()) } as _)?;
    // SAFETY: fstat succeeded, so it initialised st.
    let st = unsafe { st.assume_init() };
    Ok((st.st_mode, st.st_dev, st.st_ino))
}

/// `fcntl(F_GETFL)`.
///
/// # Errors
/// `EBADF`.
pub fn status_flags(fd: RawFd) -> Result<i32, Errno> {
    // SAFETY: F_GETFL takes no pointer.
    Ok(cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) } as _)? as i32)
}

/// `fcntl(F_DUPFD_CLOEXEC)`: another descriptor for the same open file.
///
/// # Errors
/// `EBADF`, `EMFILE`.
pub fn dup(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer.
    let r = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) } as _)?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
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
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: h and d are live, writable and of the sizes capget expects for version 3.
    if unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) } != 0 {
        return false;
    }
    let has = |cap: u32| d[(cap / 32) as usize].effective & (1 << (cap % 32)) != 0;
    has(21) || has(23) // CAP_SYS_ADMIN, CAP_SYS_NICE
}
