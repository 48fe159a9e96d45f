//! What the emulation needs to know about a request's descriptor, as the kernel knows it
//! from the `struct file` it takes at `io_submit`: its type (regular file, block device,
//! directory, pipe or socket), its access mode, and whether it is `O_DIRECT`. And whether
//! an `IOCB_FLAG_RESFD` descriptor is an eventfd.
//!
//! Answers are kept per thread, so the buffered requests done inside `io_submit` cost no
//! system call for it: such a request's own system call then checks the descriptor (an
//! `EBADF`, `EISDIR` or `ESPIPE` from it refreshes the answer). Requests handed to an
//! engine always ask the kernel afresh, since nothing else checks their descriptor before
//! `io_submit` returns.

use crate::sys;
use aiolos::sys::Errno;
use rustix::fs::{FileType, OFlags};
use std::cell::RefCell;
use std::os::fd::RawFd;

/// A descriptor's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileKind {
    /// Its type (`st_mode & S_IFMT`; `Unknown` where it could not be asked).
    pub fmt: FileType,
    /// `F_GETFL`.
    pub flags: OFlags,
}

impl FileKind {
    /// Open for reading.
    pub fn readable(self) -> bool {
        matches!(self.flags & OFlags::ACCMODE, m if m == OFlags::RDONLY || m == OFlags::RDWR)
    }
    /// Open for writing.
    pub fn writable(self) -> bool {
        matches!(self.flags & OFlags::ACCMODE, m if m == OFlags::WRONLY || m == OFlags::RDWR)
    }
    /// `O_DIRECT`.
    pub fn direct(self) -> bool {
        self.flags.contains(OFlags::DIRECT)
    }
    /// A regular file or a block device: what the page cache serves.
    pub fn cached_storage(self) -> bool {
        matches!(self.fmt, FileType::RegularFile | FileType::BlockDevice)
    }
    /// A directory (which has no read or write methods: `EINVAL` at submission).
    pub fn directory(self) -> bool {
        self.fmt == FileType::Directory
    }
    /// A character device (`/dev/null`, `/dev/zero`, a terminal), whose reads and writes
    /// kernel AIO does inside `io_submit`, as for buffered files.
    pub fn char_device(self) -> bool {
        self.fmt == FileType::CharacterDevice
    }
    /// A file with no poll method (a regular file, a directory, a block device): always
    /// ready for reading and writing, never for anything else, so a poll for anything else
    /// could never fire.
    pub fn cannot_wait(self) -> bool {
        matches!(
            self.fmt,
            FileType::RegularFile | FileType::Directory | FileType::BlockDevice
        )
    }
    /// A pipe or a socket: no file position, offsets are ignored.
    pub fn stream(self) -> bool {
        matches!(self.fmt, FileType::Fifo | FileType::Socket)
    }
    /// An anonymous file (an eventfd, a timerfd, a signalfd, an epoll instance): no type
    /// in its mode, and no file position either. (Never under Miri, where no type is
    /// asked.)
    pub fn anonymous(self) -> bool {
        self.fmt == FileType::Unknown && !cfg!(miri)
    }
    /// Whether the kernel can `fsync` it (regular files, directories, block devices).
    pub fn syncable(self) -> bool {
        matches!(
            self.fmt,
            FileType::RegularFile | FileType::Directory | FileType::BlockDevice
        )
    }
}

/// Whether `fd` has no poll method, so that a poll for events it does not have now could
/// never fire (kernel AIO refuses such a poll with `EINVAL`): regular files, directories,
/// block devices, and the memory devices (`/dev/null`, `/dev/zero`, `/dev/full`, `/dev/mem`,
/// `/dev/port`: major 1, except the random devices, which can wait).
pub fn cannot_wait(fd: RawFd) -> bool {
    match kind(fd, false) {
        Ok(k) if k.cannot_wait() => true,
        Ok(k) if k.char_device() => {
            matches!(sys::rdev(fd), Ok((1, minor)) if matches!(minor, 1 | 3 | 4 | 5 | 7))
        }
        _ => false,
    }
}

/// Uses of a remembered answer before it is asked again.
const REUSE: u32 = 256;
/// Descriptors remembered per thread.
const REMEMBERED: usize = 16;

thread_local! {
    static KINDS: RefCell<Vec<(RawFd, FileKind, u32)>> = const { RefCell::new(Vec::new()) };
    /// Descriptors found to be eventfds, with the inode that showed it.
    static EVENTFDS: RefCell<Vec<(RawFd, u64, u64)>> = const { RefCell::new(Vec::new()) };
}

fn ask(fd: RawFd) -> Result<FileKind, Errno> {
    let flags = sys::status_flags(fd)?;
    let fmt = if cfg!(miri) {
        FileType::Unknown // Miri's fstat covers files it opened itself only
    } else {
        FileType::from_raw_mode(sys::fstat(fd)?.0)
    };
    Ok(FileKind { fmt, flags })
}

/// The kind of `fd`, from this thread's memory when it has an answer (`fresh` asks the
/// kernel regardless).
///
/// # Errors
/// `EBADF` for a descriptor that is not open (when the kernel is asked).
pub fn kind(fd: RawFd, fresh: bool) -> Result<FileKind, Errno> {
    let known = KINDS.with(|k| {
        let mut k = k.borrow_mut();
        let e = k.iter_mut().find(|e| e.0 == fd)?;
        (e.2 > 0 && !fresh).then(|| {
            e.2 -= 1;
            e.1
        })
    });
    if let Some(k) = known {
        return Ok(k);
    }
    let answer = ask(fd);
    KINDS.with(|k| {
        let mut k = k.borrow_mut();
        k.retain(|e| e.0 != fd);
        if let Ok(kind) = answer {
            if k.len() == REMEMBERED {
                k.remove(0);
            }
            k.push((fd, kind, REUSE));
        }
    });
    answer
}

/// Forgets what this thread knows of `fd` (its own system call said it changed).
pub fn forget(fd: RawFd) {
    KINDS.with(|k| k.borrow_mut().retain(|e| e.0 != fd));
}

/// Checks an `IOCB_FLAG_RESFD` descriptor as `eventfd_ctx_fdget` does.
///
/// # Errors
/// `EBADF` when it is not open, `EINVAL` when it is not an eventfd.
pub fn check_eventfd(fd: RawFd) -> Result<(), Errno> {
    if cfg!(miri) {
        return Ok(()); // Miri can neither fstat nor fcntl an eventfd
    }
    let (mode, dev, ino) = sys::fstat(fd)?;
    let known = EVENTFDS.with(|e| {
        e.borrow()
            .iter()
            .any(|&(f, d, i)| (f, d, i) == (fd, dev, ino))
    });
    if known {
        return Ok(());
    }
    // Every anonymous-inode file (eventfd, epoll, timerfd, ...) shares one inode with no
    // file type, so only the kernel's description of the descriptor tells them apart.
    if FileType::from_raw_mode(mode) != FileType::Unknown {
        return Err(Errno::INVAL);
    }
    match std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) {
        Ok(info) if !info.contains("eventfd-count:") => return Err(Errno::INVAL),
        // Without /proc the anonymous inode is all there is to go by.
        _ => {}
    }
    EVENTFDS.with(|e| {
        let mut e = e.borrow_mut();
        e.retain(|x| x.0 != fd);
        if e.len() == REMEMBERED {
            e.remove(0);
        }
        e.push((fd, dev, ino));
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    #[cfg_attr(miri, ignore = "Miri cannot fstat pipes")]
    fn kinds_of_a_file_a_pipe_and_a_directory() {
        let file = tempfile::tempfile().unwrap();
        let k = kind(file.as_raw_fd(), true).unwrap();
        assert!(k.cached_storage() && k.readable() && k.writable() && !k.direct());
        let (r, w) = std::io::pipe().unwrap();
        let kr = kind(r.as_raw_fd(), false).unwrap();
        assert!(kr.stream() && kr.readable() && !kr.writable() && !kr.syncable());
        assert!(kind(w.as_raw_fd(), false).unwrap().writable());
        let dir = std::fs::File::open("/").unwrap();
        assert!(kind(dir.as_raw_fd(), false).unwrap().directory());
        assert_eq!(kind(-1, true), Err(Errno::BADF));
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no /proc")]
    fn only_eventfds_pass_as_resfd() {
        let efd = sys::eventfd().unwrap();
        assert_eq!(check_eventfd(efd.as_raw_fd()), Ok(()));
        assert_eq!(check_eventfd(efd.as_raw_fd()), Ok(()), "remembered");
        let file = tempfile::tempfile().unwrap();
        assert_eq!(check_eventfd(file.as_raw_fd()), Err(Errno::INVAL));
        assert_eq!(check_eventfd(-1), Err(Errno::BADF));
    }
}
