//! Raw kernel interfaces: the only code in aiolos that makes system calls.
//!
//! Everything here returns typed results ([`Errno`], [`OwnedFd`](std::os::fd::OwnedFd)),
//! never `-1` plus `errno`. Kernel structures are `#[repr(C)]` with compile-time size and
//! offset checks. Higher layers (`ring`, `engine`, `align`) build on these wrappers and
//! never name `libc` themselves; CI greps for that.
//!
//! # Safety
//!
//! The functions that hand the kernel raw pointers (`io_submit`, `io_getevents`, the
//! vectored reads and writes) are `unsafe fn`s whose contracts say what memory must stay
//! valid and for how long. The safe layers above uphold those contracts by owning every
//! buffer of an in-flight request until the kernel reports it complete.
#![allow(unsafe_code)]

pub mod aio;
pub mod aio_raw;
pub mod block;
pub mod eventfd;
pub mod file;
pub mod rusage;
pub mod signal;
pub mod statx;
pub mod uname;

use std::fmt;
use std::io;

/// An error number returned by the kernel (a positive `E*` value).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// `EAGAIN`: resource temporarily unavailable.
    pub const AGAIN: Errno = Errno(libc::EAGAIN);
    /// `EINTR`: interrupted by a signal.
    pub const INTR: Errno = Errno(libc::EINTR);
    /// `EINVAL`: invalid argument.
    pub const INVAL: Errno = Errno(libc::EINVAL);
    /// `EBADF`: bad file descriptor.
    pub const BADF: Errno = Errno(libc::EBADF);
    /// `ENOSYS`: system call not implemented.
    pub const NOSYS: Errno = Errno(libc::ENOSYS);
    /// `EPERM`: operation not permitted.
    pub const PERM: Errno = Errno(libc::EPERM);
    /// `ENOMEM`: out of memory (or over a memlock limit).
    pub const NOMEM: Errno = Errno(libc::ENOMEM);
    /// `EFAULT`: bad address.
    pub const FAULT: Errno = Errno(libc::EFAULT);
    /// `ECANCELED`: operation canceled.
    pub const CANCELED: Errno = Errno(libc::ECANCELED);
    /// `EINPROGRESS`: operation now in progress.
    pub const INPROGRESS: Errno = Errno(libc::EINPROGRESS);
    /// `ENOENT`: no such entry.
    pub const NOENT: Errno = Errno(libc::ENOENT);
    /// `EALREADY`: operation already in progress.
    pub const ALREADY: Errno = Errno(libc::EALREADY);
    /// `ETIME`: timer expired.
    pub const TIME: Errno = Errno(libc::ETIME);
    /// `EOPNOTSUPP`: operation not supported.
    pub const OPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
    /// `EMFILE`: too many open files.
    pub const MFILE: Errno = Errno(libc::EMFILE);
    /// `ENFILE`: too many open files in the system.
    pub const NFILE: Errno = Errno(libc::ENFILE);
    /// `EBUSY`: device or resource busy.
    pub const BUSY: Errno = Errno(libc::EBUSY);
    /// Illegal seek: an offset given for a pipe or socket.
    pub const SPIPE: Errno = Errno(libc::ESPIPE);

    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        Errno(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The positive error number.
    pub fn raw(self) -> i32 {
        self.0
    }

    /// Interprets a raw system-call return value: negative values in `-4095..0` are
    /// negated error numbers (the kernel's convention for direct `syscall` returns via
    /// the vDSO-free path), anything else is a success value.
    ///
    /// # Errors
    /// The error number, when `ret` is a negated one.
    ///
    /// # Examples
    /// ```
    /// use aiolos::sys::Errno;
    /// assert_eq!(Errno::from_ret(-22), Err(Errno::INVAL));
    /// assert_eq!(Errno::from_ret(4096), Ok(4096));
    /// ```
    pub fn from_ret(ret: i64) -> Result<i64, Errno> {
        if (-4095..0).contains(&ret) {
            Err(Errno(-ret as i32))
        } else {
            Ok(ret)
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Errno({}: {})",
            self.0,
            io::Error::from_raw_os_error(self.0)
        )
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&io::Error::from_raw_os_error(self.0), f)
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.0)
    }
}

/// Converts a libc-style return (`-1` plus `errno`) into a typed result.
pub(crate) fn cvt(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`], retrying while the call is interrupted by a signal.
pub(crate) fn cvt_retry(mut f: impl FnMut() -> libc::c_long) -> Result<libc::c_long, Errno> {
    loop {
        match cvt(f()) {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// The size of a memory page (`sysconf(_SC_PAGESIZE)`), or 4096 if the kernel does not
/// say. O_DIRECT buffers of a page or more should start on a page boundary even where the
/// file allows less: a buffer off a page boundary spans one page more, and the block
/// layer then splits each request into odd-sized pieces, which some devices serve several
/// times slower.
pub fn page_size() -> usize {
    // SAFETY: sysconf takes an integer name and reads no memory of ours.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(v)
        .ok()
        .filter(|v| v.is_power_of_two())
        .unwrap_or(4096)
}

/// `O_DIRECT`, for `OpenOptionsExt::custom_flags`.
pub const O_DIRECT: i32 = libc::O_DIRECT;

static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static ATFORK: std::sync::Once = std::sync::Once::new();

extern "C" fn count_fork_in_child() {
    FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A number that changes in a child process after every `fork`: rings and contexts record
/// it when created and compare it before use, with one atomic load instead of a
/// `getpid` system call per request.
pub fn fork_generation() -> u64 {
    ATFORK.call_once(|| {
        // SAFETY: the handler only touches an atomic, which is async-signal-safe and valid
        // in the child after fork; pthread_atfork keeps the function pointer for the
        // process lifetime.
        let _ = unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
    });
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}
