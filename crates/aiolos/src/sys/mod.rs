//! The kernel interfaces that no crate provides, and the library's error number.
//!
//! - [`aio`]: kernel AIO, its `#[repr(C)]` `iocb`, `io_event` and `aio_ring` with
//!   compile-time size and offset checks, its system calls (typed, and in [`aio::raw`] with
//!   C's pointers unchanged for the drop-in), and the completion ring read in shared memory.
//! - [`ioprio`]: `ioprio_get`/`ioprio_set` for the thread pool.
//! - [`path`]: the flags of the path and metadata operations, and the reading of a
//!   `struct statx` that a request (on any engine) wrote into its buffer.
//! - [`describe`]: what a descriptor is (type, mode, device, inode) without asking for its
//!   timestamps, which would make its next write dirty the inode.
//! - [`fork_generation`]: fork detection without a system call (`pthread_atfork`).
//! - [`IoVec`]: the kernel's `struct iovec`, as vectored requests hand it to every engine.
//! - [`Errno`], the error number of every system call the library makes.
//!
//! Everything `rustix` wraps (eventfd, poll, `preadv2`/`pwritev2` with `RWF_*` flags,
//! `fsync`, `fcntl`, `fstat`, `statx` with `STATX_DIOALIGN`, `fstatfs`, the block-size
//! ioctls, the page size) the library calls from `rustix` where it needs it, with
//! `rustix`'s typed flags; its errors reach [`Errno`] through one `From` conversion.
//! Outside this module no code of the workspace names `libc::` or `syscall(` but the C
//! boundary's allow-list in `.ci/run`.
//!
//! Everything here returns typed results, never `-1` plus `errno`.
//!
//! # Safety
//!
//! The functions that hand the kernel raw pointers (`io_submit`, `io_getevents`,
//! `io_cancel`) are `unsafe fn`s whose contracts say what memory must stay valid and for how
//! long. The safe layers above uphold those contracts by owning every buffer of an
//! in-flight request until the kernel reports it complete.
#![allow(unsafe_code)]

pub mod aio;
pub mod ioprio;
pub mod path;

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
    /// `EIO`: input/output error.
    pub const IO: Errno = Errno(libc::EIO);
    /// `EISDIR`: a read or write of a directory.
    pub const ISDIR: Errno = Errno(libc::EISDIR);
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

/// The one funnel from `rustix`'s errors into the library's: every system call that
/// `rustix` makes for aiolos reports the kernel's error number through here, unchanged.
impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno(e.raw_os_error())
    }
}

/// A scatter/gather element with the kernel's `struct iovec` layout, as vectored requests
/// hand it to every engine (kernel AIO's `IOCB_CMD_PREADV`, io_uring's `READV`, the thread
/// pool's `preadv2`). Addresses are kept as integers so that tables of them can move
/// between threads; whoever builds one vouches for the memory it names when it passes it
/// to the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoVec {
    /// Start address.
    pub base: usize,
    /// Length in bytes.
    pub len: usize,
}

const _: () = {
    assert!(std::mem::size_of::<IoVec>() == std::mem::size_of::<libc::iovec>());
    assert!(std::mem::align_of::<IoVec>() == std::mem::align_of::<libc::iovec>());
    assert!(std::mem::offset_of!(IoVec, base) == std::mem::offset_of!(libc::iovec, iov_base));
    assert!(std::mem::offset_of!(IoVec, len) == std::mem::offset_of!(libc::iovec, iov_len));
};

/// Converts a libc-style return (`-1` plus `errno`) into a typed result.
pub(crate) fn cvt(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// `O_DIRECT` as `OpenOptionsExt::custom_flags` takes it (`rustix`'s `OFlags::DIRECT`).
pub const O_DIRECT: i32 = rustix::fs::OFlags::DIRECT.bits() as i32;

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

/// What [`describe`] says of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// `st_mode`: the file's type and permission bits.
    pub mode: u32,
    /// `st_dev`: the device of the file system the file is on.
    pub dev: u64,
    /// `st_ino`: the file's inode number.
    pub ino: u64,
    /// `st_rdev`: the device a device file names (0 for other files).
    pub rdev: u64,
}

impl FileId {
    /// The file's type.
    pub fn file_type(&self) -> rustix::fs::FileType {
        rustix::fs::FileType::from_raw_mode(self.mode)
    }
}

/// What a descriptor is: its type and mode, device, inode and `st_rdev`, without its
/// timestamps (`statx` with `STATX_TYPE | STATX_MODE | STATX_INO`).
///
/// Not `fstat`: `fstat` asks for the modification and change times, and since Linux 6.13
/// (multigrain timestamps) a file whose times were read takes a fine-grained timestamp at
/// its next write, which always differs from the stored one and so dirties the inode. An
/// `O_SYNC`/`O_DSYNC` write then also commits the file system's journal: one more
/// synchronous metadata write per data write where a library looks at the descriptor of
/// every request (measured on ext4, 4 KiB `O_DIRECT | O_SYNC` writes at queue depth 1:
/// 14,586 journal writes for 14,586 data writes, against 1,083 for kernel AIO). `statx`
/// fills in the times it was not asked for without marking them read. Where `statx` is
/// refused (a seccomp filter) or missing, `fstat`.
///
/// # Errors
/// `EBADF`, or what `fstat` answers.
pub fn describe(fd: std::os::fd::BorrowedFd<'_>) -> Result<FileId, Errno> {
    use rustix::fs::{AtFlags, StatxFlags};
    let mask = StatxFlags::TYPE | StatxFlags::MODE | StatxFlags::INO;
    match rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, mask) {
        Ok(st) => Ok(FileId {
            mode: u32::from(st.stx_mode),
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            rdev: rustix::fs::makedev(st.stx_rdev_major, st.stx_rdev_minor),
        }),
        Err(e) if e == rustix::io::Errno::BADF => Err(Errno::BADF),
        Err(_) => {
            let st = rustix::fs::fstat(fd)?;
            Ok(FileId {
                mode: st.st_mode,
                dev: st.st_dev,
                ino: st.st_ino,
                rdev: st.st_rdev,
            })
        }
    }
}

#[cfg(test)]
mod describe_tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    #[cfg_attr(miri, ignore = "real files and system calls")]
    fn describe_says_what_fstat_says_of_files_devices_and_pipes() {
        let file = tempfile::tempfile().expect("temp file");
        let null = std::fs::File::open("/dev/null").expect("/dev/null");
        let (rx, _tx) = std::io::pipe().expect("pipe");
        for fd in [file.as_fd(), null.as_fd(), rx.as_fd()] {
            let st = rustix::fs::fstat(fd).expect("fstat");
            let id = describe(fd).expect("describe");
            assert_eq!(
                (id.mode, id.dev, id.ino, id.rdev),
                (st.st_mode, st.st_dev, st.st_ino, st.st_rdev)
            );
        }
        assert_eq!(
            describe(null.as_fd()).map(|id| id.file_type()),
            Ok(rustix::fs::FileType::CharacterDevice)
        );
    }
}
