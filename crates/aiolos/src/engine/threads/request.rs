//! Running one request on a worker: positional reads and writes (`preadv2`/`pwritev2`
//! with the request's RWF flags), `fsync`/`fdatasync`, a cancellable `poll`, and the
//! worker's I/O priority for the duration of a request.
//!
//! # Safety
//!
//! A request carries raw buffer and `iovec` addresses that [`Engine::submit`]'s contract
//! keeps valid until its completion is reaped; they are used here only before the worker
//! publishes that completion.
//!
//! [`Engine::submit`]: crate::engine::Engine::submit
#![allow(unsafe_code)]

use super::*;

/// The worker thread's I/O priority, changed only when a request asks for another one.
pub(super) struct Priority {
    default: Option<u16>,
    current: Option<u16>,
}

impl Priority {
    pub(super) fn new() -> Priority {
        let default = ioprio::thread_ioprio().ok();
        Priority {
            default,
            current: default,
        }
    }

    pub(super) fn apply(&mut self, want: Option<u16>) -> Result<(), Errno> {
        let Some(target) = want.or(self.default) else {
            return Ok(());
        };
        if self.current == Some(target) {
            return Ok(());
        }
        match ioprio::set_thread_ioprio(target) {
            Ok(()) => {
                self.current = Some(target);
                Ok(())
            }
            Err(e) if want.is_some() => Err(e),
            // Restoring the default failed: carry on at whatever priority is in force.
            Err(_) => Ok(()),
        }
    }
}

/// Runs one request; returns bytes transferred, the poll mask, or a negated errno.
pub(super) fn run(shared: &Shared, id: usize, sqe: &Sqe, iov: &mut Vec<IoVec>) -> i64 {
    let result = match sqe.op {
        OpCode::Read | OpCode::Readv | OpCode::Write | OpCode::Writev => {
            // SAFETY: submit's contract keeps the buffers and iovec tables of this request
            // valid until its completion is reaped, which is after `complete` below.
            unsafe { read_write(sqe, iov) }
        }
        OpCode::Fsync => sync(sqe, |fd| rustix::fs::fsync(fd)),
        OpCode::Fdatasync => sync(sqe, |fd| rustix::fs::fdatasync(fd)),
        OpCode::Poll => poll(shared, id, sqe),
        OpCode::Nop => Ok(0),
        // SAFETY: submit's contract keeps the paths and statx buffer of this
        // request alive until its completion is reaped, which is after `complete` below.
        _ => return unsafe { run_other(sqe) },
    };
    match result {
        Ok(n) => n as i64,
        Err(e) => -i64::from(e.0),
    }
}

/// Makes `call` again while a signal interrupts it: the kernel's engines never report
/// `EINTR` for file I/O, and neither does this one.
/// The offset `preadv2`/`pwritev2` read as "the file position" (-1).
const CURRENT_POSITION: u64 = u64::MAX;

fn retry<T>(mut call: impl FnMut() -> rustix::io::Result<T>) -> Result<T, Errno> {
    loop {
        match call() {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(Errno::from),
        }
    }
}

/// `fsync` or `fdatasync` of the request's descriptor.
fn sync(
    sqe: &Sqe,
    call: impl Fn(BorrowedFd<'_>) -> rustix::io::Result<()>,
) -> Result<usize, Errno> {
    // SAFETY: a running request's descriptor stays open until its completion is published.
    let fd = unsafe { request_fd(sqe.fd) }.ok_or(Errno::BADF)?;
    retry(|| call(fd)).map(|()| 0)
}

// `IoVec` has `struct iovec`'s layout (asserted in `sys`), and std documents `IoSlice` and
// `IoSliceMut` as ABI compatible with it on Unix; the casts below rely on both.
const _: () = {
    assert!(std::mem::size_of::<IoSliceMut<'static>>() == std::mem::size_of::<IoVec>());
    assert!(std::mem::align_of::<IoSliceMut<'static>>() == std::mem::align_of::<IoVec>());
    assert!(std::mem::size_of::<IoSlice<'static>>() == std::mem::size_of::<IoVec>());
    assert!(std::mem::align_of::<IoSlice<'static>>() == std::mem::align_of::<IoVec>());
};

/// An iovec table as the `IoSliceMut`s `preadv2` takes, without making a reference to any
/// buffer it names.
///
/// # Safety
/// The result must only be handed to the kernel (which checks each address and answers
/// `EFAULT`), never read or written through by Rust code: its addresses may be anything
/// a C caller passed.
unsafe fn io_slices_mut(iov: &mut [IoVec]) -> &mut [IoSliceMut<'_>] {
    // `IoSliceMut` is ABI compatible with `struct iovec` on Unix (std's docs) and `IoVec`
    // has that layout (asserted above); there its one field is a raw `iovec`.
    // SAFETY: so any address is a valid value; the table is borrowed exclusively while the
    // result lives, and the function's contract keeps Rust from using the addresses.
    unsafe { std::slice::from_raw_parts_mut(iov.as_mut_ptr().cast(), iov.len()) }
}

/// An iovec table as the `IoSlice`s `pwritev2` takes; see [`io_slices_mut`].
///
/// # Safety
/// As [`io_slices_mut`].
unsafe fn io_slices(iov: &[IoVec]) -> &[IoSlice<'_>] {
    // SAFETY: as in `io_slices_mut`, for a shared borrow of the table.
    unsafe { std::slice::from_raw_parts(iov.as_ptr().cast(), iov.len()) }
}

/// # Safety
/// The addresses in `sqe` must name live buffers (or a live `iovec` table of `len`
/// entries for the vectored ops) for the duration of the call.
unsafe fn read_write(sqe: &Sqe, iov: &mut Vec<IoVec>) -> Result<usize, Errno> {
    // SAFETY: a running request's descriptor stays open until its completion is published.
    let fd = unsafe { request_fd(sqe.fd) }.ok_or(Errno::BADF)?;
    // The table is copied into the worker's own, which preadv2 may borrow mutably.
    iov.clear();
    match sqe.op {
        OpCode::Readv | OpCode::Writev => {
            // SAFETY: for vectored ops the ring passes the address and length of the slot's
            // iovec table, which the caller keeps alive.
            let table =
                unsafe { std::slice::from_raw_parts(sqe.addr as *const IoVec, sqe.len as usize) };
            iov.extend_from_slice(table);
        }
        _ => iov.push(IoVec {
            base: sqe.addr as usize,
            len: sqe.len as usize,
        }),
    }
    // Unknown bits go to the kernel, which refuses them (`EOPNOTSUPP`) as it does on the
    // other engines.
    let flags = ReadWriteFlags::from_bits_retain(sqe.rw_flags as u32);
    // A stream (pipe, socket) has no offsets: its read or write goes to the stream, as
    // io_uring and kernel AIO do it, rather than failing with ESPIPE.
    let mut offset = sqe.offset;
    match sqe.op {
        OpCode::Read | OpCode::Readv => {
            // SAFETY: the slices go only to the kernel; the caller keeps every buffer named
            // by iov writable and alive.
            let bufs = unsafe { io_slices_mut(iov) };
            loop {
                match retry(|| rustix::io::preadv2(fd, bufs, offset, flags)) {
                    Err(Errno::SPIPE) if offset != CURRENT_POSITION => offset = CURRENT_POSITION,
                    other => return other,
                }
            }
        }
        _ => {
            let wanted: usize = iov.iter().map(|v| v.len).sum();
            // SAFETY: the slices go only to the kernel; the caller keeps every buffer named
            // by iov readable and alive.
            let bufs = unsafe { io_slices(iov) };
            let mut tries = 0;
            loop {
                let n = match retry(|| rustix::io::pwritev2(fd, bufs, offset, flags)) {
                    Err(Errno::SPIPE) if offset != CURRENT_POSITION => {
                        offset = CURRENT_POSITION;
                        continue;
                    }
                    other => other?,
                };
                // A short write is reported as the kernel's engines report it; only a
                // write that made no progress at all is tried again.
                if n > 0 || wanted == 0 || tries == ZERO_WRITE_RETRIES {
                    return Ok(n);
                }
                tries += 1;
            }
        }
    }
}

/// A descriptor of a request, for the duration of the request: `None` for `-1`, which
/// names no descriptor (the kernel answers `EBADF` for it).
///
/// # Safety
/// `fd` must stay open until the request's completion is published. The ring upholds
/// this: the request owns its descriptors ([`Fd`](crate::Fd)), or [`Engine::submit`]
/// pinned duplicates of borrowed ones, or (when duplicating failed) `Fd::from_raw`'s
/// contract keeps the number open.
pub(super) unsafe fn request_fd<'a>(fd: RawFd) -> Option<BorrowedFd<'a>> {
    // SAFETY: not -1, and open for as long as the caller uses it (the function's contract).
    (fd != -1).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the file a borrowed one names, which
/// keeps it open even when the caller closes `fd` and its number is reused.
pub(super) fn dup_cloexec(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: while it submits, the caller keeps a borrowed descriptor open
    // (`Fd::from_raw`'s contract); the borrow ends before submit returns.
    let fd = unsafe { request_fd(fd) }.ok_or(Errno::BADF)?;
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// Waits for readiness of `sqe.fd`, or for cancellation, which the canceller announces
/// by setting the slot's flag and then signalling this worker's eventfd.
fn poll(shared: &Shared, id: usize, sqe: &Sqe) -> Result<usize, Errno> {
    // SAFETY: a running request's descriptor stays open until its completion is published.
    let fd = unsafe { request_fd(sqe.fd) }.ok_or(Errno::BADF)?;
    // The bits' integer type is u16 or i16 depending on rustix's backend (libc's under Miri).
    let wanted = PollFlags::from_bits_retain(sqe.len as u16 as _);
    let mask = wanted | PollFlags::ERR | PollFlags::HUP;
    let waker = shared.wakers.get(id).map(|w| w.as_fd());
    let slice = eventfd::timespec(POLL_SLICE);
    loop {
        // The flag is checked before sleeping; a cancel that sets it afterwards also
        // signals the eventfd, so the poll below returns at once.
        if shared.cancelled(sqe) {
            return Err(Errno::CANCELED);
        }
        let mut fds = [
            PollFd::from_borrowed_fd(fd, wanted),
            PollFd::from_borrowed_fd(waker.unwrap_or(fd), PollFlags::IN),
        ];
        let watched = if waker.is_some() { 2 } else { 1 };
        match rustix::event::poll(&mut fds[..watched], Some(&slice)) {
            // Interrupted: nothing is ready; look at the flag and sleep again.
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = fds[0].revents();
        if ready.contains(PollFlags::NVAL) {
            return Err(Errno::BADF);
        }
        if ready.intersects(mask) {
            #[allow(
                clippy::unnecessary_cast,
                reason = "the bits are i16 on rustix's libc backend (Miri's)"
            )]
            let ready = (ready & mask).bits() as u16;
            return Ok(usize::from(ready));
        }
        if let Some(w) = waker.filter(|_| !fds[1].revents().is_empty()) {
            let _ = eventfd::drain(w);
        }
    }
}

/// Runs a path, metadata or space operation as the kernel's io_uring would. Returns the
/// result (a new descriptor's number for an open, which the taker of the completion owns)
/// or a negated errno.
///
/// # Safety
/// The addresses in `sqe` (paths, statx buffer) must be alive for the call, and its
/// descriptor (unless `AT_FDCWD`) open.
unsafe fn run_other(sqe: &Sqe) -> i64 {
    use rustix::fs::{AtFlags, FallocateFlags, Mode, OFlags, RenameFlags, StatxFlags};
    use std::ffi::CStr;
    use std::os::fd::IntoRawFd;
    let dir = if sqe.fd == crate::sys::path::AT_FDCWD {
        rustix::fs::CWD
    } else {
        // SAFETY: the request's descriptor stays open until its completion is published
        // (the function's contract).
        match unsafe { request_fd(sqe.fd) } {
            Some(fd) => fd,
            None => return -i64::from(Errno::BADF.0),
        }
    };
    let raw_flags = sqe.rw_flags as u32;
    let mode = sqe.len as u32;
    // SAFETY: the ring put a NUL-terminated path (a CString the slot owns) at addr, and for
    // two-path operations at addr2; the caller keeps them alive for the call.
    let path = || unsafe { CStr::from_ptr(sqe.addr as *const std::ffi::c_char) };
    // SAFETY: as above, for the second path.
    let path2 = || unsafe { CStr::from_ptr(sqe.addr2 as *const std::ffi::c_char) };
    let r: rustix::io::Result<i64> = match sqe.op {
        OpCode::OpenAt => rustix::fs::openat(
            dir,
            path(),
            OFlags::from_bits_retain(raw_flags),
            Mode::from_bits_retain(mode),
        )
        .map(|fd| i64::from(fd.into_raw_fd())),
        OpCode::Statx => {
            let flags = AtFlags::from_bits_retain(raw_flags);
            rustix::fs::statx(dir, path(), flags, StatxFlags::from_bits_retain(mode)).map(|st| {
                // SAFETY: addr2 is the slot's statx buffer, at least STATX_SIZE bytes (the
                // ring checked), alive for the call.
                unsafe { crate::sys::path::store_statx(&st, sqe.addr2 as *mut u8) };
                0
            })
        }
        OpCode::UnlinkAt => {
            rustix::fs::unlinkat(dir, path(), AtFlags::from_bits_retain(raw_flags)).map(|()| 0)
        }
        OpCode::RenameAt => {
            let flags = RenameFlags::from_bits_retain(raw_flags);
            rustix::fs::renameat_with(dir, path(), dir, path2(), flags).map(|()| 0)
        }
        OpCode::MkdirAt => {
            rustix::fs::mkdirat(dir, path(), Mode::from_bits_retain(mode)).map(|()| 0)
        }
        OpCode::LinkAt => {
            let flags = AtFlags::from_bits_retain(raw_flags);
            rustix::fs::linkat(dir, path(), dir, path2(), flags).map(|()| 0)
        }
        OpCode::SymlinkAt => rustix::fs::symlinkat(path(), dir, path2()).map(|()| 0),
        OpCode::Fallocate => {
            let flags = FallocateFlags::from_bits_retain(raw_flags);
            rustix::fs::fallocate(dir, flags, sqe.offset, sqe.len).map(|()| 0)
        }
        OpCode::Ftruncate => rustix::fs::ftruncate(dir, sqe.len).map(|()| 0),
        _ => Err(rustix::io::Errno::INVAL),
    };
    match r {
        Ok(n) => n,
        Err(e) => -i64::from(e.raw_os_error()),
    }
}
