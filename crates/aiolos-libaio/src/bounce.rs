//! Copies of caller memory that the library cannot prove mapped (see [`crate::region`]),
//! made by the kernel so that a bad address is `EFAULT`, never a crash: through a memory
//! file of the library's own.
//!
//! `pwrite(memfd, addr, len, slot)` copies caller memory into the file (`copy_from_user`:
//! `EFAULT` or a short count at the first bad page), where the library reads it through a
//! mapping of the file; `pread(memfd, addr, len, slot)` copies what the library put in the
//! file to caller memory (`copy_to_user`). Each is one system call of about 0.4 µs on the
//! development VM, against about 1.1 µs for `process_vm_readv`/`writev` on the library's
//! own process (which pin the pages first): it matters to programs whose iocbs live in
//! memory from `mmap` or a thread's malloc arena (sysbench's do), read and written once
//! per request.
//!
//! Every thread copies through a slot of its own (an offset in the file, and a mapping of
//! it), taken on first use and given back when the thread exits. A fork child makes a
//! file of its own (the parent's is shared with it). Where the file cannot be made (a
//! seccomp filter, no `memfd_create`), callers fall back to `process_vm_readv`/`writev`.
//!
//! # Safety
//!
//! The file and its mappings are the library's; a slot's mapping is read and written only
//! by the thread that holds the slot, at offsets inside the slot, after the system call
//! that filled it returned.
#![allow(unsafe_code)]
#![cfg(not(miri))]

use crate::forklocal::ForkLocal;
use aiolos::sys::Errno;
use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

/// Bytes of one thread's slot: a batch of 1024 iocb pointers or 64 iocbs fits.
pub const SLOT: usize = 64 << 10;

/// The memory file of this process. A fork child makes a file of its own ([`ForkLocal`]):
/// the parent's is shared with it.
#[derive(Default)]
struct File {
    /// Whether `fd` was made (it stays `None` where it cannot be).
    made: bool,
    fd: Option<OwnedFd>,
    next: i64,
    /// Slots of exited threads: (offset, mapping address).
    free: Vec<(i64, usize)>,
}

static FILE: ForkLocal<Mutex<File>> = ForkLocal::new(Mutex::default);

/// A thread's slot: the file's descriptor number, the slot's offset, its mapping.
struct Slot {
    generation: u64,
    fd: i32,
    offset: i64,
    map: usize,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The thread exits: its slot is free for another (of the same process).
        if self.generation == aiolos::sys::fork_generation() {
            if let Some(f) = FILE.peek() {
                let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                f.free.push((self.offset, self.map));
            }
        }
    }
}

thread_local! {
    static MINE: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

fn memfd() -> Option<OwnedFd> {
    // SAFETY: the name is a NUL-terminated string; flags are plain integers.
    let fd = unsafe { libc::memfd_create(c"aiolos-caller-memory".as_ptr(), libc::MFD_CLOEXEC) };
    // SAFETY: a descriptor the kernel just returned to us.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Takes a slot for this thread: (descriptor, offset, mapping).
fn take_slot() -> Option<Slot> {
    let generation = aiolos::sys::fork_generation();
    let mut f = FILE.get().lock().unwrap_or_else(|e| e.into_inner());
    if !f.made {
        f.fd = memfd();
        f.made = true;
    }
    let fd = f.fd.as_ref()?.as_raw_fd();
    if let Some((offset, map)) = f.free.pop() {
        return Some(Slot {
            generation,
            fd,
            offset,
            map,
        });
    }
    let offset = f.next;
    let end = offset.checked_add(SLOT as i64)?;
    // SAFETY: ftruncate takes integers; growing the file only adds holes.
    if unsafe { libc::ftruncate(fd, end) } != 0 {
        return None;
    }
    // SAFETY: a new shared mapping of our own file's slot, at an address of the kernel's
    // choosing.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SLOT,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            offset,
        )
    };
    if map == libc::MAP_FAILED {
        return None;
    }
    f.next = end;
    Some(Slot {
        generation,
        fd,
        offset,
        map: map as usize,
    })
}

/// Runs `f` with this thread's slot, if there is (or can be) one.
fn with_slot<R>(f: impl FnOnce(&Slot) -> R) -> Option<R> {
    MINE.with(|m| {
        let mut m = m.borrow_mut();
        let stale = m
            .as_ref()
            .is_none_or(|s| s.generation != aiolos::sys::fork_generation());
        if stale {
            if let Some(old) = m.take() {
                std::mem::forget(old); // a fork child's copy of the parent's slot
            }
            *m = take_slot();
        }
        m.as_ref().map(f)
    })
}

/// Reads the caller ranges `srcs` (`(address, length)`, their total at most [`SLOT`]) into
/// `dst`, one after the other. `None` when there is no slot (use another way);
/// otherwise the count of bytes read (short at the first unreadable page), or `EFAULT`.
pub fn load_vectored(srcs: &[(usize, usize)], dst: &mut [u8]) -> Option<Result<usize, Errno>> {
    let total: usize = srcs.iter().map(|&(_, l)| l).sum();
    if total > SLOT || total > dst.len() || srcs.len() > 1024 {
        return None;
    }
    let iov: Vec<libc::iovec> = srcs
        .iter()
        .map(|&(a, l)| libc::iovec {
            iov_base: a as *mut libc::c_void,
            iov_len: l,
        })
        .collect();
    with_slot(|s| {
        // SAFETY: the iovecs name caller memory, which the kernel reads with
        // copy_from_user (EFAULT, never a fault); the slot is ours.
        let n = unsafe { libc::pwritev(s.fd, iov.as_ptr(), iov.len() as i32, s.offset) };
        if n < 0 {
            return Err(Errno::last());
        }
        let n = n as usize;
        // SAFETY: the slot's mapping shows the n bytes the kernel just wrote to the file at
        // the slot's offset; dst has room for them (n <= total <= dst.len()).
        unsafe { std::ptr::copy_nonoverlapping(s.map as *const u8, dst.as_mut_ptr(), n) };
        Ok(n)
    })
}

/// Writes `src` (at most [`SLOT`] bytes) to caller memory at `dst`. `None` when there is
/// no slot; otherwise `EFAULT` unless all of it was written.
pub fn store(dst: usize, src: &[u8]) -> Option<Result<(), Errno>> {
    if src.len() > SLOT {
        return None;
    }
    with_slot(|s| {
        // SAFETY: the slot's mapping is ours, SLOT bytes long.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), s.map as *mut u8, src.len()) };
        // SAFETY: the kernel writes the caller's memory with copy_to_user (EFAULT, never a
        // fault), from our file's slot, which holds src now.
        let n = unsafe { libc::pread(s.fd, dst as *mut libc::c_void, src.len(), s.offset) };
        if n == src.len() as isize {
            Ok(())
        } else if n < 0 && Errno::last() != Errno::FAULT {
            Err(Errno::last())
        } else {
            Err(Errno::FAULT)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_go_through_and_bad_addresses_are_efault() {
        let src = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let other = [9u8; 4];
        let mut dst = [0u8; 12];
        let srcs = [(src.as_ptr() as usize, 8), (other.as_ptr() as usize, 4)];
        assert_eq!(load_vectored(&srcs, &mut dst), Some(Ok(12)));
        assert_eq!(dst, [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9]);
        // A bad second range: a short count; a bad first one: EFAULT.
        assert_eq!(
            load_vectored(&[(src.as_ptr() as usize, 8), (8, 4)], &mut dst),
            Some(Ok(8))
        );
        assert_eq!(load_vectored(&[(8, 4)], &mut dst), Some(Err(Errno::FAULT)));
        let mut out = [0u8; 4];
        assert_eq!(
            store(out.as_mut_ptr() as usize, &[4, 3, 2, 1]),
            Some(Ok(()))
        );
        assert_eq!(out, [4, 3, 2, 1]);
        assert_eq!(store(8, &[1]), Some(Err(Errno::FAULT)));
        assert_eq!(
            load_vectored(&[(src.as_ptr() as usize, SLOT + 1)], &mut dst),
            None
        );
    }

    #[test]
    fn threads_use_slots_of_their_own() {
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..2000u32 {
                        let v = [t; 64];
                        let mut d = [0u8; 64];
                        assert_eq!(
                            load_vectored(&[(v.as_ptr() as usize, 64)], &mut d),
                            Some(Ok(64))
                        );
                        assert_eq!(d, v, "iteration {i}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
