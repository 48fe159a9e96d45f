//! Signals on the emulated engines, as the kernel treats them in a system call: held off
//! for the length of a call ([`Held`]), and let through only while it sleeps, with the
//! thread's mask (or `io_pgetevents`' mask) installed and removed atomically with the
//! sleep ([`ppoll`]).
//!
//! [`ppoll`] is `ppoll(2)` made as the raw system call with the kernel's 8-byte signal
//! set: `rustix` has no `ppoll` with a mask, and the C library's wrapper may adjust the
//! mask it is given. [`Held`] and [`with_mask`] use `pthread_sigmask`, which `rustix`
//! offers only to runtimes.
//!
//! # Safety
//!
//! The kernel reads the `pollfd` array, the timeout and the mask, all of which live on
//! [`ppoll`]'s stack until the call returns; the `sigset_t` values passed to
//! `pthread_sigmask` live on the callers' stacks or in [`Held`].
#![allow(unsafe_code)]

use aiolos::sys::Errno;
use std::os::fd::RawFd;
use std::time::Duration;

/// Sleeps until `fd` (if any) is readable or `timeout` passes (`None`: no limit), with the
/// signal mask `mask` in effect. Returns whether `fd` is readable.
///
/// `mask` is the kernel's signal set (`_NSIG / 8` = 8 bytes on Linux: bit `n - 1` blocks
/// signal `n`). A signal that `mask` unblocks and that is pending on entry, or arrives
/// while waiting, ends the call with `EINTR` after its handler has run; the thread's own
/// mask is back in place when this returns. With `Some(Duration::ZERO)` the call does not
/// sleep but still delivers such a pending signal.
///
/// # Errors
/// `EINTR` as above; `EINVAL` or `ENOMEM` from `ppoll(2)`.
///
/// # References
/// `ppoll(2)`.
pub fn ppoll(fd: Option<RawFd>, timeout: Option<Duration>, mask: u64) -> Result<bool, Errno> {
    if cfg!(miri) {
        // Miri has no ppoll and delivers no signals: a plain poll does the same there.
        return miri_poll(fd, timeout);
    }
    let fds = fd.as_slice();
    Ok(ppoll_fds(fds, timeout, Some(mask))? != 0)
}

/// `ppoll(2)` for reading on up to two descriptors, with the signal set `mask` in effect
/// while it waits (`None`: the thread's own, unchanged; a handler that runs still ends the
/// sleep with `EINTR`). Returns which are readable: bit `i` for `fds[i]`.
///
/// # Errors
/// `EINTR` when a signal handler ran; `EINVAL`, `ENOMEM`.
pub fn ppoll_fds(
    fds: &[RawFd],
    timeout: Option<Duration>,
    mask: Option<u64>,
) -> Result<u32, Errno> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; 2];
    let n = fds.len().min(pfds.len());
    for (p, &fd) in pfds.iter_mut().zip(&fds[..n]) {
        p.fd = fd;
    }
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mask_ptr = mask.as_ref().map_or(std::ptr::null(), |m| m as *const u64);
    // SAFETY: pfds is a live, writable array of which the first n entries are passed;
    // ts_ptr and mask_ptr are NULL or point to a live timespec / 8 readable bytes (the
    // size passed).
    let r = unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            pfds.as_mut_ptr(),
            n as libc::nfds_t,
            ts_ptr,
            mask_ptr,
            std::mem::size_of::<u64>(),
        )
    };
    if r == -1 {
        return Err(Errno::last());
    }
    Ok(pfds[..n]
        .iter()
        .enumerate()
        .filter(|(_, p)| p.revents & libc::POLLIN != 0)
        .fold(0, |acc, (i, _)| acc | 1 << i))
}

/// [`ppoll`] under Miri, which delivers no signals: `poll(2)` on `fd`, if any.
fn miri_poll(fd: Option<RawFd>, timeout: Option<Duration>) -> Result<bool, Errno> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let Some(fd) = fd else {
        return Ok(false);
    };
    let fd = crate::fds::borrow(fd)?;
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let ts = timeout.map(|d| Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    Ok(poll(&mut fds, ts.as_ref())? > 0)
}

/// The calling thread's signals held off for the length of an emulated call, as the
/// kernel holds them off for the length of a system call: the program's handlers run
/// when the call returns (or while it sleeps, with the program's mask: [`ppoll`]), never
/// in the middle of it, where the thread may hold one of the library's locks. A handler
/// that called into the library there (`io_submit` from a `SIGALRM` handler, `io_destroy`
/// from `SIGTERM`'s) would wait on that lock forever; on kernel AIO it just works.
///
/// The synchronous signals (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGTRAP`, `SIGSYS`)
/// stay as they were: blocking them would not stop a fault, only turn it into a kill.
/// The C library keeps its own internal signals unblocked.
///
/// It costs two `rt_sigprocmask` calls per library call. `io_setup`, `io_destroy` and
/// `io_cancel`, which are rare, always pay it ([`Held::always`]); `io_submit` and
/// `io_getevents` only with `AIOLOS_HOLD_SIGNALS=1` ([`Held::if_asked`]): there it costs
/// 0.9 us per request in fio's submit-and-reap loop on the 2-core test VM, a third of the
/// throughput of warm buffered 4 KiB reads (1.6 us a request). Without it, a handler that
/// interrupts one of those calls may run while its thread holds a lock of the library's,
/// and must not call the library.
pub struct Held {
    old: libc::sigset_t,
    active: bool,
}

/// Whether `io_submit` and `io_getevents` hold signals off: `AIOLOS_HOLD_SIGNALS=1`.
fn asked() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("AIOLOS_HOLD_SIGNALS").is_some_and(|v| v == "1"))
}

impl Held {
    /// For `io_submit` and `io_getevents`: [`Held::always`] if `AIOLOS_HOLD_SIGNALS=1`,
    /// else nothing.
    pub fn if_asked() -> Held {
        Held::block(asked())
    }

    /// Blocks the thread's catchable signals until the returned value is dropped.
    pub fn always() -> Held {
        Held::block(true)
    }

    fn block(on: bool) -> Held {
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        if cfg!(miri) || !on {
            // Miri delivers no signals (and has no sigfillset): nothing to hold off.
            // SAFETY: all-zero bytes are a valid (empty) sigset_t, plain integers.
            let old = unsafe { old.assume_init() };
            return Held { old, active: false };
        }
        let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises `all` and sigdelset edits it in place;
        // pthread_sigmask reads `all` and writes the thread's previous mask into `old`,
        // both live sigset_t on this stack.
        unsafe {
            libc::sigfillset(all.as_mut_ptr());
            for sig in [
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGFPE,
                libc::SIGILL,
                libc::SIGTRAP,
                libc::SIGSYS,
            ] {
                libc::sigdelset(all.as_mut_ptr(), sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), old.as_mut_ptr());
            Held {
                old: old.assume_init(),
                active: true,
            }
        }
    }

    /// The thread's mask before [`Held::always`], as the kernel's 8-byte set ([`ppoll`]'s);
    /// `None` when signals are not held off (not asked for, or under Miri).
    pub fn before(&self) -> Option<u64> {
        if !self.active {
            return None;
        }
        // SAFETY: sigset_t is at least 8 bytes and plain data; its first 64 bits are
        // signals 1 to 64, bit n - 1 for signal n, as in the kernel's set.
        Some(unsafe { std::ptr::addr_of!(self.old).cast::<u64>().read_unaligned() })
    }
}

/// Runs `f` with the thread's signal mask set to `mask` (the kernel's 8-byte set), then
/// puts the mask back.
pub fn with_mask<R>(mask: u64, f: impl FnOnce() -> R) -> R {
    if cfg!(miri) {
        return f();
    }
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises `set`, whose first 8 bytes (signals 1 to 64, as in
    // the kernel's set) are then overwritten with `mask`; pthread_sigmask reads `set` and
    // writes the previous mask into `old`, all live sigset_t on this stack.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        set.as_mut_ptr().cast::<u64>().write_unaligned(mask);
        libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ptr(), old.as_mut_ptr());
    }
    let r = f();
    // SAFETY: `old` was written by the pthread_sigmask call above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut());
    }
    r
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        // SAFETY: `old` is the mask pthread_sigmask returned in Held::block.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}
