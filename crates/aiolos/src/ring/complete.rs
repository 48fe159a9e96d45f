//! Turning a slot's raw result into a [`Completion`]: the buffers marked initialised as far
//! as the kernel filled them, and an error that says what failed.
//!
//! # Safety
//!
//! `set_init` is called only with the byte count the kernel reported for the request, over
//! the request's own buffers in order.
#![allow(unsafe_code)]

use super::types::{Buffers, Completion, Token};
use crate::buf::IoBufMut;
use crate::op::{Kind, Op};
use crate::sys::Errno;
use std::io;

/// Builds the completion of a slot that held `op` and ended with `res`.
pub(super) fn completion<B: IoBufMut, T>(
    token: Token,
    res: i64,
    cancel_requested: bool,
    payload: Option<T>,
    op: Option<Op<B>>,
) -> Completion<B, T> {
    let Some(user_data) = payload else {
        unreachable!("an outstanding slot always holds its payload")
    };
    let Some(op) = op else {
        unreachable!("an outstanding slot always holds its op")
    };
    // Moved, not cloned: it keeps the descriptor open until an error has been explained
    // (the request may hold the last handle on it).
    let fd = op.fd;
    let (mut bufs, rw) = match op.kind {
        Kind::Read { buf, offset } => (Buffers::One(buf), Some((false, offset))),
        Kind::Write { buf, offset } => (Buffers::One(buf), Some((true, offset))),
        Kind::Readv { bufs, .. } | Kind::Writev { bufs, .. } => (Buffers::Many(bufs), None),
        // A successful statx filled the whole structure (its result is 0).
        Kind::Statx { buf, .. } => {
            let mut bufs = Buffers::One(buf);
            if res == 0 {
                mark_init(&mut bufs, crate::sys::path::STATX_SIZE);
            }
            (bufs, None)
        }
        _ => (Buffers::None, None),
    };
    let result = if res >= 0 {
        let n = res as usize;
        mark_init(&mut bufs, n);
        Ok(n)
    } else {
        Err(request_error(
            Errno(-res as i32),
            fd.as_ref(),
            alignment_span(&bufs, rw),
        ))
    };
    Completion {
        token,
        user_data,
        result,
        raw: res,
        bufs,
        cancel_requested,
    }
}

/// For a single-buffer read or write: (address, length, offset), which an `EINVAL` on an
/// O_DIRECT file may be explained by.
fn alignment_span<B: IoBufMut>(
    bufs: &Buffers<B>,
    rw: Option<(bool, u64)>,
) -> Option<(usize, usize, u64)> {
    let (Buffers::One(buf), Some((is_write, offset))) = (bufs, rw) else {
        return None;
    };
    let len = if is_write {
        buf.bytes_init()
    } else {
        buf.bytes_total()
    };
    Some((buf.stable_ptr() as usize, len, offset))
}

fn mark_init<B: IoBufMut>(bufs: &mut Buffers<B>, mut n: usize) {
    let one = |b: &mut B, n: &mut usize| {
        let k = (*n).min(b.bytes_total());
        // SAFETY: the kernel reported n bytes transferred into these buffers in order;
        // for writes bytes_total >= bytes_init so marking is a no-op beyond what is set.
        unsafe { b.set_init(k) };
        *n -= k;
    };
    match bufs {
        Buffers::None => {}
        Buffers::One(b) => one(b, &mut n),
        Buffers::Many(v) => {
            for b in v {
                one(b, &mut n);
            }
        }
    }
}

/// The error of a failed request. An `EINVAL` on a single-buffer read or write of an
/// O_DIRECT file that breaks the file's alignment is explained (required alignment and
/// offending value) instead of reported bare.
fn request_error(
    errno: Errno,
    fd: Option<&crate::Fd>,
    span: Option<(usize, usize, u64)>,
) -> io::Error {
    if let (Errno::INVAL, Some(fd), Some((addr, len, offset))) = (errno, fd, span) {
        if let Some(e) = crate::align::explain_einval(fd, addr, len, offset) {
            return e;
        }
    }
    io::Error::from_raw_os_error(errno.0)
}
