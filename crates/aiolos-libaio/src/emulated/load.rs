//! Caller memory read the way the kernel reads it (the `io_submit` pointer array and the
//! iocbs it names, iovec arrays, `*timeout`, signal masks), and an iocb checked as
//! `io_submit_one` checks it in `fs/aio.c`, in the same order, so that when two things are
//! wrong the kernel's error wins: the reserved field, the length, room in the context,
//! the descriptor, the eventfd, the key written back, the opcode, and then per opcode the
//! priority, the `RWF_*` flags, the file's mode, the iovecs and the offset.

use super::fdinfo::{self, FileKind};
use crate::abi::{IoEvent, Iocb, Timespec};
use crate::caller;
use aiolos::sys::aio::{self as kaio, IOCB_FLAG_IOPRIO, IOCB_FLAG_RESFD};
use aiolos::sys::{Errno, IoVec};
use std::os::fd::RawFd;
use std::time::Duration;

/// Most ranges one `process_vm_readv` takes, and the most iovecs of one request
/// (`UIO_MAXIOV`).
pub(super) const IOV_MAX: usize = 1024;
/// The largest read or write the kernel does at once (`MAX_RW_COUNT`).
pub(super) const MAX_RW: usize = 0x7fff_f000;
/// The highest user-space address on x86-64 with 4-level paging (`TASK_SIZE_MAX - 1`).
const USER_MAX: u64 = (1 << 47) - 4096 - 1;
/// The `RWF_*` flags this kernel knows (Linux 6.18: HIPRI, DSYNC, SYNC, NOWAIT, APPEND,
/// NOAPPEND, ATOMIC, DONTCACHE, NOSIGNAL).
const RWF_SUPPORTED: i32 = 0x1ff;
pub(super) const RWF_NOWAIT: i32 = 0x08;
const RWF_ATOMIC: i32 = 0x40;

/// A checked read or write.
#[derive(Debug)]
pub(super) struct Rw {
    pub write: bool,
    pub fd: RawFd,
    pub kind: FileKind,
    /// The buffers, as the kernel imported them (total capped at `MAX_RW_COUNT`).
    pub iov: Vec<IoVec>,
    pub offset: i64,
    /// The request's own `RWF_*` flags.
    pub flags: i32,
    pub ioprio: Option<u16>,
}

impl Rw {
    /// Bytes the request transfers at most.
    pub fn len(&self) -> usize {
        self.iov.iter().map(|v| v.len).sum()
    }
}

/// What an iocb asks for, checked.
#[derive(Debug)]
pub(super) enum Checked {
    Rw(Rw),
    Sync {
        fd: RawFd,
        datasync: bool,
    },
    Poll {
        fd: RawFd,
        events: u16,
    },
    /// Unit tests only: a request that completes with 0 and needs no system call (kernel
    /// AIO refuses `IOCB_CMD_NOOP`, and so does the library).
    #[cfg(test)]
    Nop,
}

/// The checks before the kernel takes a request slot: the reserved field and the length.
pub(super) fn check_fields(cb: &Iocb) -> Result<(), Errno> {
    if cb.aio_reserved2 != 0 || (cb.aio_nbytes as i64) < 0 {
        return Err(Errno::INVAL);
    }
    Ok(())
}

/// The checks after a slot is taken, up to and including the opcode's own.
pub(super) fn check_request(iocb: usize, cb: &Iocb) -> Result<Checked, Errno> {
    let fd = cb.aio_fildes as i32;
    let kind = fdinfo::kind(fd, false)?;
    let r = check_after_fd(iocb, cb, fd, kind);
    if r.is_err() {
        // A remembered kind may be stale (the number closed and reused for another file):
        // the kernel's EBADF comes first, and a refusal must be the new file's.
        let fresh = fdinfo::kind(fd, true)?;
        if fresh != kind {
            return check_after_fd(iocb, cb, fd, fresh);
        }
    }
    r
}

fn check_after_fd(iocb: usize, cb: &Iocb, fd: RawFd, kind: FileKind) -> Result<Checked, Errno> {
    if kind.flags.contains(rustix::fs::OFlags::PATH) {
        return Err(Errno::BADF);
    }
    if cb.aio_flags & IOCB_FLAG_RESFD != 0 {
        fdinfo::check_eventfd(cb.aio_resfd as i32)?;
    }
    // io_submit writes KIOCB_KEY (0) into the iocb: a read-only iocb is EFAULT here. A key
    // that is 0 already on a page known to be writable needs no write (only its check).
    let key = std::ptr::with_exposed_provenance_mut::<Iocb>(iocb)
        .wrapping_byte_add(std::mem::offset_of!(Iocb, aio_key))
        .cast::<u32>();
    if cb.aio_key != 0 || !caller::known_writable(key as usize, 4) {
        caller::store_u32(key, 0)?;
    }
    match cb.aio_lio_opcode {
        kaio::IOCB_CMD_PREAD => check_rw(cb, fd, kind, false, false),
        kaio::IOCB_CMD_PWRITE => check_rw(cb, fd, kind, true, false),
        kaio::IOCB_CMD_PREADV => check_rw(cb, fd, kind, false, true),
        kaio::IOCB_CMD_PWRITEV => check_rw(cb, fd, kind, true, true),
        kaio::IOCB_CMD_FSYNC | kaio::IOCB_CMD_FDSYNC => {
            if cb.aio_buf != 0 || cb.aio_offset != 0 || cb.aio_nbytes != 0 || cb.aio_rw_flags != 0 {
                return Err(Errno::INVAL);
            }
            if !kind.syncable() && !cfg!(miri) {
                return Err(Errno::INVAL);
            }
            Ok(Checked::Sync {
                fd,
                datasync: cb.aio_lio_opcode == kaio::IOCB_CMD_FDSYNC,
            })
        }
        kaio::IOCB_CMD_POLL => {
            if cb.aio_buf as u16 as u64 != cb.aio_buf
                || cb.aio_offset != 0
                || cb.aio_nbytes != 0
                || cb.aio_rw_flags != 0
            {
                return Err(Errno::INVAL);
            }
            Ok(Checked::Poll {
                fd,
                events: cb.aio_buf as u16,
            })
        }
        #[cfg(test)]
        kaio::IOCB_CMD_NOOP => Ok(Checked::Nop),
        _ => Err(Errno::INVAL),
    }
}

/// `ioprio_check_cap`: a valid class (the level is the low 3 bits; bits 3 to 12 are hints
/// the kernel passes on), no level for "none", and the real-time class only with
/// `CAP_SYS_ADMIN` or `CAP_SYS_NICE`.
fn check_ioprio(prio: i16) -> Result<u16, Errno> {
    let p = i32::from(prio);
    if p < 0 {
        return Err(Errno::INVAL);
    }
    match (p >> 13, p & 7) {
        (1, _) if !crate::sys::may_use_realtime_io() => Err(Errno::PERM),
        (1..=3, _) | (0, 0) => Ok(p as u16),
        _ => Err(Errno::INVAL),
    }
}

fn user_range_ok(addr: u64, len: u64) -> bool {
    if len <= 4096 {
        addr <= USER_MAX
    } else {
        addr.checked_add(len).is_some_and(|end| end <= USER_MAX)
    }
}

fn check_rw(
    cb: &Iocb,
    fd: RawFd,
    kind: FileKind,
    write: bool,
    vectored: bool,
) -> Result<Checked, Errno> {
    let ioprio = if cb.aio_flags & IOCB_FLAG_IOPRIO != 0 {
        Some(check_ioprio(cb.aio_reqprio)?)
    } else {
        None
    };
    let flags = cb.aio_rw_flags;
    if flags & !RWF_SUPPORTED != 0 {
        return Err(Errno::OPNOTSUPP);
    }
    if flags & RWF_ATOMIC != 0 && (!write || !kind.direct()) {
        return Err(Errno::OPNOTSUPP);
    }
    // A directory cannot promise not to block (no FMODE_NOWAIT): refused before its mode.
    if flags & RWF_NOWAIT != 0 && kind.directory() {
        return Err(Errno::OPNOTSUPP);
    }
    if (write && !kind.writable()) || (!write && !kind.readable()) {
        return Err(Errno::BADF);
    }
    // No read_iter or write_iter, refused before anything else is looked at: directories,
    // and writes of anonymous files (an eventfd, a timerfd, an epoll instance: none has
    // write_iter, which kernel AIO's writes need).
    if kind.directory() || (write && kind.anonymous()) {
        return Err(Errno::INVAL);
    }
    let iov = if vectored {
        load_iovecs(cb.aio_buf, cb.aio_nbytes)?
    } else {
        let len = (cb.aio_nbytes as usize).min(MAX_RW);
        if !user_range_ok(cb.aio_buf, len as u64) {
            return Err(Errno::FAULT);
        }
        vec![IoVec {
            base: cb.aio_buf as usize,
            len,
        }]
    };
    let total: usize = iov.iter().map(|v| v.len).sum();
    // rw_verify_area: no negative offset, and no end past the largest offset.
    if cb.aio_offset < 0 || cb.aio_offset.checked_add(total as i64).is_none() {
        return Err(Errno::INVAL);
    }
    Ok(Checked::Rw(Rw {
        write,
        fd,
        kind,
        iov,
        offset: cb.aio_offset,
        flags,
        ioprio,
    }))
}

/// `import_iovec`: at most `UIO_MAXIOV` segments, read from the caller, none longer than
/// `SSIZE_MAX` nor outside user space; the total is capped at `MAX_RW_COUNT` (later
/// segments shortened).
fn load_iovecs(addr: u64, count: u64) -> Result<Vec<IoVec>, Errno> {
    if count > IOV_MAX as u64 {
        return Err(Errno::INVAL);
    }
    let count = count as usize;
    let mut raw = vec![[0usize; 2]; count];
    if count > 0 {
        // SAFETY: an array of plain usize pairs viewed as bytes to be overwritten.
        let bytes = unsafe_bytes_mut(&mut raw);
        let n = caller::load(addr as usize as *const u8, bytes)?;
        if n != bytes.len() {
            return Err(Errno::FAULT);
        }
    }
    let mut left = MAX_RW;
    let mut iov = Vec::with_capacity(count);
    for [base, len] in raw {
        if (len as isize) < 0 {
            return Err(Errno::INVAL);
        }
        if !user_range_ok(base as u64, len as u64) {
            return Err(Errno::FAULT);
        }
        let len = len.min(left);
        left -= len;
        iov.push(IoVec { base, len });
    }
    Ok(iov)
}

#[allow(unsafe_code)]
fn unsafe_bytes_mut<T: caller::Plain>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: T is plain data (every bit pattern valid), so its bytes may be overwritten;
    // the slice covers exactly v's memory.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

#[allow(unsafe_code)]
fn unsafe_bytes<T: caller::Plain>(v: &[T]) -> &[u8] {
    // SAFETY: plain data viewed as bytes, for reading only.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// Reads `n` (at most [`IOV_MAX`]) iocb pointers from `ios` and the iocbs they name.
/// Returns the pointers and iocbs read; either may be shorter than `n` (reading stops at
/// the first unreadable one, which is then `EFAULT`).
pub(super) fn load_iocbs(
    ios: *const *mut Iocb,
    n: usize,
) -> Result<(Vec<usize>, Vec<Iocb>), Errno> {
    let mut ptrs = vec![0usize; n];
    let read = caller::load(ios.cast(), unsafe_bytes_mut(&mut ptrs))? / size_of::<usize>();
    ptrs.truncate(read);
    let srcs: Vec<(usize, usize)> = ptrs.iter().map(|&p| (p, size_of::<Iocb>())).collect();
    let mut cbs = vec![Iocb::default(); ptrs.len()];
    let read = match caller::load_vectored(&srcs, unsafe_bytes_mut(&mut cbs)) {
        Ok(b) => b / size_of::<Iocb>(),
        Err(Errno::FAULT) => 0,
        Err(e) => return Err(e),
    };
    cbs.truncate(read);
    Ok((ptrs, cbs))
}

use std::mem::size_of;

/// How long `io_getevents` waits for a `timeout` (`None`: NULL, forever), as the kernel
/// turns the `timespec` into a time (`timespec64_to_ktime`): no check of the fields, a
/// negative or out-of-range value waits forever, zero does not wait.
pub fn read_timeout(p: *const Timespec) -> Result<Option<Duration>, Errno> {
    if p.is_null() {
        return Ok(None);
    }
    let [sec, nsec]: [i64; 2] = caller::load_value(p.cast::<[i64; 2]>())?;
    // KTIME_SEC_MAX: larger (or negative) seconds mean "forever".
    const KTIME_SEC_MAX: u64 = i64::MAX as u64 / 1_000_000_000;
    if sec as u64 >= KTIME_SEC_MAX {
        return Ok(None);
    }
    match (sec * 1_000_000_000).checked_add(nsec) {
        Some(ns) if ns >= 0 => Ok(Some(Duration::from_nanos(ns as u64))),
        _ => Ok(None),
    }
}

/// Reads the kernel's 8-byte signal set at `p`.
pub fn read_sigmask(p: *const crate::abi::Sigset) -> Result<u64, Errno> {
    caller::load_value(p.cast::<u64>())
}

/// Writes `got` to the caller's event array (`EFAULT` if it is not all writable).
pub(super) fn store_events(events: *mut IoEvent, got: &[IoEvent]) -> Result<(), Errno> {
    caller::store(events.cast(), unsafe_bytes(got))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_the_kernels_negative_and_huge_mean_forever() {
        let t = |sec: i64, nsec: i64| read_timeout([sec, nsec].as_ptr().cast());
        assert_eq!(t(0, 0), Ok(Some(Duration::ZERO)));
        assert_eq!(t(1, 500), Ok(Some(Duration::new(1, 500))));
        assert_eq!(t(0, 1_500_000_000), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(t(-1, 0), Ok(None));
        assert_eq!(t(0, -1), Ok(None));
        assert_eq!(t(i64::MAX, 0), Ok(None));
        assert_eq!(read_timeout(std::ptr::null()), Ok(None));
        assert_eq!(
            read_timeout(std::ptr::without_provenance(8)),
            Err(Errno::FAULT)
        );
    }

    #[test]
    fn priorities_are_checked_as_ioprio_check_cap_does() {
        // As Linux 6.18 answered io_submit with IOCB_FLAG_IOPRIO and these aio_reqprio.
        let prio = |class: i16, low: i16| check_ioprio(class << 13 | low);
        assert_eq!(prio(2, 7), Ok(2 << 13 | 7));
        assert_eq!(
            prio(2, 8),
            Ok(2 << 13 | 8),
            "bit 3 is a hint, not the level"
        );
        assert_eq!(prio(2, 0x1fff), Ok(2 << 13 | 0x1fff));
        assert_eq!(prio(3, 5), Ok(3 << 13 | 5));
        assert_eq!(prio(0, 0), Ok(0));
        assert_eq!(prio(0, 8), Ok(8));
        assert_eq!(prio(0, 1), Err(Errno::INVAL));
        assert_eq!(prio(4, 0), Err(Errno::INVAL));
        assert_eq!(check_ioprio(-1), Err(Errno::INVAL));
    }

    #[test]
    fn iovec_arrays_are_imported_as_the_kernel_does() {
        let mut a = [0u8; 8];
        let mut b = [0u8; 4];
        let iov = [
            [a.as_mut_ptr() as usize, a.len()],
            [b.as_mut_ptr() as usize, b.len()],
        ];
        let got = load_iovecs(iov.as_ptr() as u64, 2).unwrap();
        assert_eq!(got.iter().map(|v| v.len).collect::<Vec<_>>(), [8, 4]);
        assert_eq!(
            load_iovecs(iov.as_ptr() as u64, 1025).unwrap_err(),
            Errno::INVAL
        );
        assert_eq!(load_iovecs(8, 1).unwrap_err(), Errno::FAULT);
        assert!(
            load_iovecs(8, 0).unwrap().is_empty(),
            "no segment, nothing read"
        );
        let negative = [[a.as_mut_ptr() as usize, usize::MAX]];
        assert_eq!(
            load_iovecs(negative.as_ptr() as u64, 1).unwrap_err(),
            Errno::INVAL
        );
        let huge = [
            [a.as_mut_ptr() as usize, MAX_RW],
            [b.as_mut_ptr() as usize, 4],
        ];
        let got = load_iovecs(huge.as_ptr() as u64, 2).unwrap();
        assert_eq!(got[1].len, 0, "the total is capped at MAX_RW_COUNT");
    }
}
