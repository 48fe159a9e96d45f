//! Submission entries: a ring request as an io_uring entry, its linked eventfd write, and
//! which descriptors take buffered reads the policy may punt.
//!
//! # Safety
//!
//! As the parent module: addresses in entries come from the ring, which keeps them valid
//! until the completion is reaped.
#![allow(unsafe_code)]

use super::*;
use rustix::fs::{FileType, OFlags};

/// Descriptors whose kind the engine has looked up, so that `fstat` and `F_GETFL` run once
/// per descriptor rather than once per request.
const FD_CACHE: usize = 32;
/// Uses of a cached answer before it is looked up again: a descriptor number may be
/// closed and reused, or `F_SETFL` may change `O_DIRECT`. A stale answer only costs speed
/// (a punted O_DIRECT read, or a buffered read tried inline), never correctness.
const FD_RECHECK: u32 = 4096;

/// Which descriptors take buffered reads that the policy may punt: regular files and
/// block devices opened without O_DIRECT.
#[derive(Default)]
pub(super) struct FdKinds {
    /// (descriptor, buffered, uses left)
    entries: Vec<(RawFd, bool, u32)>,
    next_evict: usize,
}

impl FdKinds {
    pub(super) fn buffered(&mut self, fd: RawFd) -> bool {
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == fd) {
            if e.2 > 0 {
                e.2 -= 1;
                return e.1;
            }
            e.1 = Self::look_up(fd);
            e.2 = FD_RECHECK;
            return e.1;
        }
        let buffered = Self::look_up(fd);
        let entry = (fd, buffered, FD_RECHECK);
        if self.entries.len() < FD_CACHE {
            self.entries.push(entry);
        } else {
            self.entries[self.next_evict] = entry;
            self.next_evict = (self.next_evict + 1) % FD_CACHE;
        }
        buffered
    }

    fn look_up(fd: RawFd) -> bool {
        if fd == -1 {
            return false;
        }
        // SAFETY: `fd` is the descriptor of a request being submitted, which holds it open
        // (its `Fd`, or `Fd::from_raw`'s contract) for this call; it is not -1.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(id) = crate::sys::describe(fd) else {
            return false;
        };
        let kind = id.file_type();
        if kind != FileType::RegularFile && kind != FileType::BlockDevice {
            return false;
        }
        rustix::fs::fcntl_getfl(fd).is_ok_and(|fl| !fl.contains(OFlags::DIRECT))
    }
}

/// Builds the entry for `$sqe` on the descriptor target `$fd` (`types::Fd` or
/// `types::Fixed`: io-uring's opcodes take either, through a sealed trait), with `$buf`
/// the registered buffer index of a read or write, if any.
macro_rules! build_entry {
    ($fd:expr, $sqe:expr, $buf:expr) => {{
        let (fd, sqe, buf): (_, &Sqe, Option<u16>) = ($fd, $sqe, $buf);
        let prio = sqe.ioprio.unwrap_or(0);
        let len32 = sqe.len.min(MAX_RW) as u32;
        let e = match (sqe.op, buf) {
            (OpCode::Read, Some(i)) => opcode::ReadFixed::new(fd, sqe.addr as *mut u8, len32, i)
                .offset(sqe.offset)
                .rw_flags(sqe.rw_flags)
                .ioprio(prio)
                .build(),
            (OpCode::Write, Some(i)) => {
                opcode::WriteFixed::new(fd, sqe.addr as *const u8, len32, i)
                    .offset(sqe.offset)
                    .rw_flags(sqe.rw_flags)
                    .ioprio(prio)
                    .build()
            }
            (OpCode::Read, None) => opcode::Read::new(fd, sqe.addr as *mut u8, len32)
                .offset(sqe.offset)
                .rw_flags(sqe.rw_flags)
                .ioprio(prio)
                .build(),
            (OpCode::Write, None) => opcode::Write::new(fd, sqe.addr as *const u8, len32)
                .offset(sqe.offset)
                .rw_flags(sqe.rw_flags)
                .ioprio(prio)
                .build(),
            (OpCode::Readv, _) => opcode::Readv::new(fd, sqe.addr as *const _, sqe.len as u32)
                .offset(sqe.offset)
                .rw_flags(sqe.rw_flags)
                .ioprio(prio)
                .build(),
            (OpCode::Writev, _) => opcode::Writev::new(fd, sqe.addr as *const _, sqe.len as u32)
                .offset(sqe.offset)
                .rw_flags(sqe.rw_flags)
                .ioprio(prio)
                .build(),
            (OpCode::Fsync, _) => opcode::Fsync::new(fd).build(),
            (OpCode::Fdatasync, _) => opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
            (OpCode::Poll, _) => opcode::PollAdd::new(fd, u32::from(sqe.len as u16)).build(),
            (OpCode::Nop, _) => opcode::Nop::new().build(),
            (OpCode::OpenAt, _) => opcode::OpenAt::new(types::Fd(sqe.fd), sqe.addr as *const _)
                .flags(sqe.rw_flags)
                .mode(sqe.len as u32)
                .build(),
            (OpCode::Statx, _) => {
                opcode::Statx::new(types::Fd(sqe.fd), sqe.addr as *const _, sqe.addr2 as *mut _)
                    .flags(sqe.rw_flags)
                    .mask(sqe.len as u32)
                    .build()
            }
            (OpCode::UnlinkAt, _) => opcode::UnlinkAt::new(types::Fd(sqe.fd), sqe.addr as *const _)
                .flags(sqe.rw_flags)
                .build(),
            (OpCode::RenameAt, _) => opcode::RenameAt::new(
                types::Fd(sqe.fd),
                sqe.addr as *const _,
                types::Fd(sqe.fd),
                sqe.addr2 as *const _,
            )
            .flags(sqe.rw_flags as u32)
            .build(),
            (OpCode::MkdirAt, _) => opcode::MkDirAt::new(types::Fd(sqe.fd), sqe.addr as *const _)
                .mode(sqe.len as u32)
                .build(),
            (OpCode::LinkAt, _) => opcode::LinkAt::new(
                types::Fd(sqe.fd),
                sqe.addr as *const _,
                types::Fd(sqe.fd),
                sqe.addr2 as *const _,
            )
            .flags(sqe.rw_flags)
            .build(),
            (OpCode::SymlinkAt, _) => opcode::SymlinkAt::new(
                types::Fd(sqe.fd),
                sqe.addr as *const _,
                sqe.addr2 as *const _,
            )
            .build(),
            (OpCode::Fallocate, _) => opcode::Fallocate::new(fd, sqe.len)
                .offset(sqe.offset)
                .mode(sqe.rw_flags)
                .build(),
            (OpCode::Ftruncate, _) => opcode::Ftruncate::new(fd, sqe.len).build(),
        };
        e.user_data(sqe.user_data)
    }};
}

impl Uring {
    /// The submission entry for a ring request (without link flags): through the
    /// registered file table when its descriptor is registered, and as `READ_FIXED` /
    /// `WRITE_FIXED` when its buffer lies in a registered buffer.
    pub(super) fn entry(&self, sqe: &Sqe) -> squeue::Entry {
        let buf = match sqe.op {
            OpCode::Read | OpCode::Write => self
                .fixed_bufs
                .as_ref()
                .and_then(|r| r.index_of(sqe.addr, sqe.len.min(MAX_RW))),
            _ => None,
        };
        match self.fixed_file(sqe.fd) {
            Some(i) => build_entry!(types::Fixed(i), sqe, buf),
            None => build_entry!(types::Fd(sqe.fd), sqe, buf),
        }
    }

    /// The index of `fd` in the registered file table.
    fn fixed_file(&self, fd: RawFd) -> Option<u32> {
        if self.fixed_files.is_empty() {
            return None;
        }
        self.fixed_files
            .binary_search_by_key(&fd, |&(f, _)| f)
            .ok()
            .map(|i| self.fixed_files[i].1)
    }
}

impl Uring {
    /// Bytes a read asks for.
    ///
    /// # Safety
    /// For a readv, `sqe.addr` must point to `sqe.len` valid [`IoVec`]s.
    pub(super) unsafe fn read_len(sqe: &Sqe) -> u64 {
        match sqe.op {
            OpCode::Readv => {
                // SAFETY: the caller's contract.
                let iov = unsafe {
                    std::slice::from_raw_parts(sqe.addr as *const IoVec, sqe.len as usize)
                };
                // Saturating: a caller's iovec lengths are not checked here, and may sum past
                // u64 (the kernel refuses such a request; the estimate must not panic).
                iov.iter()
                    .fold(0u64, |sum, v| sum.saturating_add(v.len as u64))
            }
            _ => sqe.len,
        }
    }

    /// The hard-linked write of [`ONE`] to `resfd` for the request in `slot`.
    pub(super) fn eventfd_write(resfd: i32, slot: u32) -> squeue::Entry {
        // Offset -1: "the current position", the only one a stream such as an eventfd takes.
        opcode::Write::new(types::Fd(resfd), std::ptr::addr_of!(ONE).cast(), 8)
            .offset(u64::MAX)
            .build()
            .user_data(u64::from(slot))
    }
}
