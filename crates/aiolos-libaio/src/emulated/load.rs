//! Caller memory, read the way the kernel reads it: the `io_submit` pointer array and the
//! iocbs it names, iovec arrays, `*timeout`, signal masks; and an iocb turned into an
//! [`Op`]. Memory is read through the kernel ([`crate::caller`]), so a bad pointer is
//! `EFAULT`, not a crash. The checks the kernel makes at `io_submit` (opcode, reserved
//! fields, flags, descriptor, negative offsets) are made here in the same order.
//!
//! # Safety
//!
//! Buffers named by iocbs are wrapped in [`RawBuf`]s: the caller of `io_submit` keeps them
//! valid until the request's completion has been reaped, as with the kernel. Descriptors
//! are used by number ([`Fd::from_raw`]) under the same contract.
#![allow(unsafe_code)]

use crate::abi::{plausible, IoEvent, Iocb, Timespec};
use crate::stack::on_live_stack;
use aiolos::sys::aio::{self as kaio, IOCB_FLAG_IOPRIO, IOCB_FLAG_RESFD};
use aiolos::sys::{Errno, IoVec};
use aiolos::{Fd, Op, RawBuf, RwFlags};
use std::mem::size_of;

/// Most ranges one `process_vm_readv` takes.
pub(super) const IOV_MAX: usize = 1024;

/// Reads a `T` (plain data) from caller memory through the kernel.
pub(super) fn load<T: Copy + Default>(src: *const T) -> Result<T, Errno> {
    let mut v = T::default();
    // SAFETY: v is a plain-data T; viewing it as bytes to be overwritten is sound for the
    // types used here (iocbs, iovecs, pointers, timespecs: no invalid bit patterns).
    let bytes =
        unsafe { std::slice::from_raw_parts_mut((&mut v as *mut T).cast::<u8>(), size_of::<T>()) };
    match crate::caller::load(src.cast(), bytes)? {
        n if n == size_of::<T>() => Ok(v),
        _ => Err(Errno::FAULT),
    }
}

pub(super) fn build_op(cb: &Iocb) -> Result<Op<RawBuf>, Errno> {
    if cb.aio_reserved2 != 0 || cb.aio_flags & !(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO) != 0 {
        return Err(Errno::INVAL);
    }
    // The kernel's overflow check: a length (or iovec count) too large for a ssize_t.
    if isize::try_from(cb.aio_nbytes).is_err() {
        return Err(Errno::INVAL);
    }
    let fd = cb.aio_fildes as i32;
    // EBADF now, as the kernel's fget at submit.
    crate::fds::check_open(fd)?;
    // SAFETY: the io_submit caller keeps the descriptor open until completion.
    let fdh = unsafe { Fd::from_raw(fd) };
    let off = u64::try_from(cb.aio_offset).map_err(|_| Errno::INVAL);
    let op = match cb.aio_lio_opcode {
        kaio::IOCB_CMD_PREAD | kaio::IOCB_CMD_PWRITE => {
            // SAFETY: the io_submit caller keeps the buffer valid until the completion
            // is reaped; the kernel (io_uring or the pool's syscalls) checks the address.
            let buf =
                unsafe { RawBuf::new(cb.aio_buf as usize as *mut u8, cb.aio_nbytes as usize) };
            if cb.aio_lio_opcode == kaio::IOCB_CMD_PREAD {
                Op::read(fdh, buf, off?)
            } else {
                Op::write(fdh, buf, off?)
            }
        }
        kaio::IOCB_CMD_PREADV | kaio::IOCB_CMD_PWRITEV => {
            let count = usize::try_from(cb.aio_nbytes).map_err(|_| Errno::INVAL)?;
            if count > 1024 {
                return Err(Errno::INVAL);
            }
            let base = cb.aio_buf as usize as *const IoVec;
            let mut bufs = Vec::with_capacity(count);
            for i in 0..count {
                let v: IoVec = load_iovec(base.wrapping_add(i))?;
                // As the kernel's iovec import: an element too long for a ssize_t is
                // EINVAL at submission (lengths that only sum past it are capped there).
                if isize::try_from(v.len).is_err() {
                    return Err(Errno::INVAL);
                }
                // SAFETY: as for a single buffer: valid until reaped, checked by the
                // kernel.
                bufs.push(unsafe { RawBuf::new(v.base as *mut u8, v.len) });
            }
            if cb.aio_lio_opcode == kaio::IOCB_CMD_PREADV {
                Op::readv(fdh, bufs, off?)
            } else {
                Op::writev(fdh, bufs, off?)
            }
        }
        kaio::IOCB_CMD_FSYNC => Op::fsync(fdh),
        kaio::IOCB_CMD_FDSYNC => Op::fdatasync(fdh),
        kaio::IOCB_CMD_POLL => Op::poll(fdh, cb.aio_buf as i16),
        kaio::IOCB_CMD_NOOP => Op::nop(),
        _ => return Err(Errno::INVAL),
    };
    let op = op.user_data(0).rw_flags(RwFlags(cb.aio_rw_flags));
    Ok(if cb.aio_flags & IOCB_FLAG_IOPRIO != 0 {
        op.ioprio(cb.aio_reqprio as u16)
    } else {
        op
    })
}

pub(super) fn load_iovec(p: *const IoVec) -> Result<IoVec, Errno> {
    load(p)
}

/// Reads `*p`: directly when it lies on the caller's live stack (where fio and most
/// callers keep it, so a zero-timeout poll costs no system call), else through the kernel.
pub(super) fn read_timespec(p: *const Timespec) -> Result<Timespec, Errno> {
    if std::ptr::eq(p, &crate::abi::ZERO_TIMEOUT) {
        return Ok(crate::abi::ZERO_TIMEOUT);
    }
    if plausible(p) && on_live_stack(p) {
        // SAFETY: the timespec is aligned and lies in the mapped, live part of this
        // thread's stack; it is plain data, read by value.
        return Ok(unsafe { p.read() });
    }
    load_timespec(p)
}

/// Reads `n` (at most [`IOV_MAX`]) iocb pointers from `ios` and the iocbs they name, with
/// two system calls. Returns the pointers and iocbs read; either may be shorter than `n`
/// (reading stops at the first unreadable one, which is then `EFAULT`).
pub(super) fn load_iocbs(
    ios: *const *mut Iocb,
    n: usize,
) -> Result<(Vec<usize>, Vec<Iocb>), Errno> {
    let mut ptrs = vec![0usize; n];
    // SAFETY: a usize array viewed as bytes to be overwritten; every bit pattern is valid.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(ptrs.as_mut_ptr().cast::<u8>(), n * size_of::<usize>())
    };
    let read = crate::caller::load(ios.cast(), bytes)? / size_of::<usize>();
    ptrs.truncate(read);
    let srcs: Vec<(usize, usize)> = ptrs.iter().map(|&p| (p, size_of::<Iocb>())).collect();
    let mut cbs = vec![Iocb::default(); ptrs.len()];
    // SAFETY: plain-data iocbs viewed as bytes to be overwritten (no invalid bit patterns).
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(cbs.as_mut_ptr().cast::<u8>(), cbs.len() * size_of::<Iocb>())
    };
    let read = match crate::caller::load_vectored(&srcs, bytes) {
        Ok(b) => b / size_of::<Iocb>(),
        Err(Errno::FAULT) => 0,
        Err(e) => return Err(e),
    };
    cbs.truncate(read);
    Ok((ptrs, cbs))
}

fn load_timespec(p: *const Timespec) -> Result<Timespec, Errno> {
    let raw: [i64; 2] = load(p.cast::<[i64; 2]>())?;
    Ok(Timespec {
        tv_sec: raw[0] as _,
        tv_nsec: raw[1] as _,
    })
}

/// Writes `got` to the caller's event array through the kernel (`EFAULT` if unwritable).
pub(super) fn store_events(events: *mut IoEvent, got: &[IoEvent]) -> Result<(), Errno> {
    // SAFETY: plain io_events viewed as bytes, for reading only.
    let bytes = unsafe {
        std::slice::from_raw_parts(got.as_ptr().cast::<u8>(), std::mem::size_of_val(got))
    };
    crate::caller::store(events.cast(), bytes)
}
