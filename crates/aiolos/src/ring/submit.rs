//! From the table to the engine: checking an op before it is accepted, turning a queued
//! slot into the engine's request (raw addresses into the buffers the slot owns), and
//! submitting every queued request in one call.
//!
//! # Safety
//!
//! The addresses handed to the engine point into buffers and iovec tables owned by the
//! slots, which keep them until the engine reports the request complete; `close` and
//! `Drop` wait for every request in flight, and leak rather than free if they cannot.
#![allow(unsafe_code)]

use super::reap::Guard;
use super::table::{Slot, SlotState, State};
use super::Ring;
use crate::buf::IoBufMut;
use crate::engine::Sqe;
use crate::error::Error;
use crate::op::{Kind, Op, OpCode};
use crate::sys::path::{AT_FDCWD, STATX_SIZE};
use crate::sys::Errno;
use crate::sys::IoVec;

/// Most buffers one vectored request may carry (`IOV_MAX`).
pub(super) const MAX_IOVECS: usize = 1024;

/// Refuses an op no engine can express.
pub(super) fn validate<B: IoBufMut>(op: &Op<B>) -> Result<(), Error> {
    if let Kind::Read { offset, .. }
    | Kind::Write { offset, .. }
    | Kind::Readv { offset, .. }
    | Kind::Writev { offset, .. } = &op.kind
    {
        // The kernel's file offsets are signed (loff_t); io_uring would even read
        // u64::MAX as "the current file position".
        if *offset > i64::MAX as u64 {
            return Err(Error::InvalidRequest(format!(
                "offset {offset} is past the largest file offset (2^63 - 1 = {})",
                i64::MAX
            )));
        }
    }
    if let Kind::Statx { buf, .. } = &op.kind {
        if buf.bytes_total() < STATX_SIZE {
            return Err(Error::InvalidRequest(format!(
                "a statx buffer needs room for {STATX_SIZE} bytes, not {}",
                buf.bytes_total()
            )));
        }
    }
    if let Kind::Readv { bufs, .. } | Kind::Writev { bufs, .. } = &op.kind {
        if bufs.is_empty() || bufs.len() > MAX_IOVECS {
            return Err(Error::InvalidRequest(format!(
                "a vectored request needs 1 to {MAX_IOVECS} buffers (IOV_MAX), not {}",
                bufs.len()
            )));
        }
    }
    Ok(())
}

/// The engine's view of a queued slot.
fn prepare<B: IoBufMut, T>(slot: &mut Slot<B, T>, index: u32) -> Option<Sqe> {
    let user_data = super::table::user_data(index, slot.generation);
    let op = slot.op.as_mut()?;
    let at = |fd: &Option<crate::op::Fd>| fd.as_ref().map_or(AT_FDCWD, |f| f.as_raw());
    let mut fd = op.fd.as_ref().map_or(-1, |f| f.as_raw());
    let mut addr2 = 0u64;
    let mut flags = op.rw_flags.0;
    let cs = |c: &std::ffi::CString| c.as_ptr() as u64;
    let (code, addr, len, offset) = match &mut op.kind {
        Kind::Read { buf, offset } => (
            OpCode::Read,
            buf.stable_mut_ptr() as u64,
            buf.bytes_total() as u64,
            *offset,
        ),
        Kind::Write { buf, offset } => (
            OpCode::Write,
            buf.stable_ptr() as u64,
            buf.bytes_init() as u64,
            *offset,
        ),
        Kind::Readv { bufs, offset } => {
            slot.iovecs.clear();
            slot.iovecs.extend(bufs.iter_mut().map(|b| IoVec {
                base: b.stable_mut_ptr() as usize,
                len: b.bytes_total(),
            }));
            let iov = &slot.iovecs;
            (
                OpCode::Readv,
                iov.as_ptr() as u64,
                iov.len() as u64,
                *offset,
            )
        }
        Kind::Writev { bufs, offset } => {
            slot.iovecs.clear();
            slot.iovecs.extend(bufs.iter().map(|b| IoVec {
                base: b.stable_ptr() as usize,
                len: b.bytes_init(),
            }));
            let iov = &slot.iovecs;
            (
                OpCode::Writev,
                iov.as_ptr() as u64,
                iov.len() as u64,
                *offset,
            )
        }
        Kind::Fsync => (OpCode::Fsync, 0, 0, 0),
        Kind::Fdatasync => (OpCode::Fdatasync, 0, 0, 0),
        Kind::Poll { events } => (OpCode::Poll, 0, *events as u16 as u64, 0),
        Kind::Nop => (OpCode::Nop, 0, 0, 0),
        Kind::OpenAt {
            path,
            flags: f,
            mode,
            ..
        } => {
            fd = at(&op.fd);
            flags = *f;
            (OpCode::OpenAt, cs(path), u64::from(*mode), 0)
        }
        Kind::Statx {
            path,
            flags: f,
            mask,
            buf,
        } => {
            fd = at(&op.fd);
            flags = *f;
            addr2 = buf.stable_mut_ptr() as u64;
            (OpCode::Statx, cs(path), u64::from(*mask), 0)
        }
        Kind::UnlinkAt { path, flags: f } => {
            fd = at(&op.fd);
            flags = *f;
            (OpCode::UnlinkAt, cs(path), 0, 0)
        }
        Kind::RenameAt { from, to, flags: f } => {
            fd = at(&op.fd);
            flags = *f as i32;
            addr2 = cs(to);
            (OpCode::RenameAt, cs(from), 0, 0)
        }
        Kind::MkdirAt { path, mode } => {
            fd = at(&op.fd);
            (OpCode::MkdirAt, cs(path), u64::from(*mode), 0)
        }
        Kind::LinkAt { from, to, flags: f } => {
            fd = at(&op.fd);
            flags = *f;
            addr2 = cs(to);
            (OpCode::LinkAt, cs(from), 0, 0)
        }
        Kind::SymlinkAt { target, link } => {
            fd = at(&op.fd);
            addr2 = cs(link);
            (OpCode::SymlinkAt, cs(target), 0, 0)
        }
        Kind::Fallocate { offset, len, mode } => {
            flags = *mode;
            (OpCode::Fallocate, 0, *len, *offset)
        }
        Kind::Ftruncate { len } => (OpCode::Ftruncate, 0, *len, 0),
    };
    Some(Sqe {
        user_data,
        slot: index,
        op: code,
        fd,
        addr,
        addr2,
        len,
        offset,
        rw_flags: flags,
        ioprio: op.ioprio,
        resfd: op.eventfd.as_ref().map(|f| f.as_raw()),
        borrowed_fds: op.fd.as_ref().is_some_and(|f| f.is_borrowed())
            || op.eventfd.as_ref().is_some_and(|f| f.is_borrowed()),
    })
}

/// How a batch is split into system calls ([`RingBuilder::submit_split`]): the first
/// carries at most `first` requests, each later one at most `then` (0: no limit).
///
/// [`RingBuilder::submit_split`]: super::RingBuilder::submit_split
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Split {
    pub first: usize,
    pub then: usize,
}

impl Split {
    /// One system call for the whole batch.
    pub const NONE: Split = Split { first: 0, then: 0 };
    /// The default for the kernel engines (see `RingBuilder::submit_split`).
    pub const DEFAULT: Split = Split { first: 2, then: 8 };

    /// The most requests the `call`-th system call of a batch carries.
    fn limit(self, call: usize) -> usize {
        let n = if call == 0 { self.first } else { self.then };
        if n == 0 {
            usize::MAX
        } else {
            n
        }
    }
}

impl<B: IoBufMut, T> Ring<B, T> {
    /// Submits every queued request: one engine call per chunk of the batch (see
    /// [`Split`]), more only when the engine takes part of a chunk. A request the engine refuses alone completes with that
    /// error; what the engine cannot take yet (`EAGAIN`) stays queued. Returns how many
    /// left the queue (taken, or refused with their own error), and the lock.
    ///
    /// The engine is called **without the table's lock**: an io_uring submission of
    /// buffered reads copies their data inside the call, and tasks polling their requests,
    /// or pushing new ones, must not wait for that. Submitted slots are marked in flight
    /// (and counted) before the lock is released, so a completion reaped meanwhile by
    /// another thread finds its slot, `close` waits for them, and their buffers stay put.
    /// One thread submits at a time: a caller that finds another submitting returns at
    /// once, and the submitting thread takes what was queued meanwhile before it stops.
    pub(super) fn submit_locked<'a>(&'a self, mut st: Guard<'a, B, T>) -> (Guard<'a, B, T>, usize) {
        if st.submitting || st.queued.is_empty() {
            return (st, 0);
        }
        st.submitting = true;
        let mut total = 0;
        while !st.queued.is_empty() {
            let mut sqes = std::mem::take(&mut st.sqes);
            sqes.clear();
            // Split borrows: drain the queue while preparing slots.
            let State { queued, slots, .. } = &mut *st;
            for index in queued.drain(..) {
                let slot = &mut slots[index as usize];
                if let Some(sqe) = prepare(slot, index) {
                    slot.state = SlotState::InFlight;
                    sqes.push(sqe);
                }
            }
            st.in_flight += sqes.len();
            drop(st);
            let mut done = 0;
            let mut refused = Vec::new();
            let mut again = false;
            let mut calls = 0;
            while done < sqes.len() {
                let end = sqes.len().min(done.saturating_add(self.split.limit(calls)));
                calls += 1;
                // SAFETY: every sqe address points into buffers or iovec tables owned by
                // slots that are in flight (no one frees them before their completion is
                // applied); Drop waits for every request in flight first.
                match unsafe { self.engine.submit(&sqes[done..end]) } {
                    Ok(0) | Err(Errno::AGAIN) => {
                        again = true;
                        break;
                    }
                    Ok(n) => done += n,
                    Err(e) => {
                        // The kernel refused this request alone: it completes with that
                        // error (below, under the lock).
                        refused.push((sqes[done].slot, e));
                        done += 1;
                    }
                }
            }
            st = self.lock();
            for (slot, e) in refused {
                st.in_flight -= 1;
                st.finish(slot, -i64::from(e.0));
            }
            // Not taken yet: back to the front of the queue, in order (or cancelled, if
            // the ring was closed meanwhile).
            for sqe in sqes[done..].iter().rev() {
                st.in_flight -= 1;
                st.slots[sqe.slot as usize].state = SlotState::Queued;
                if st.closed {
                    st.finish(sqe.slot, -i64::from(Errno::CANCELED.0));
                } else {
                    st.queued.push_front(sqe.slot);
                }
            }
            if st.closed {
                // `close` asked the engine to cancel what was in flight before these
                // reached it: ask again for those still in flight (polls never end alone).
                for sqe in &sqes[..done] {
                    let slot = &st.slots[sqe.slot as usize];
                    let generation = (sqe.user_data >> 32) as u32;
                    if slot.state == SlotState::InFlight && slot.generation == generation {
                        let _ = self.engine.cancel(sqe.slot, sqe.user_data);
                    }
                }
            }
            total += done;
            st.sqes = sqes;
            if again {
                break;
            }
        }
        st.submitting = false;
        (st, total)
    }
}
