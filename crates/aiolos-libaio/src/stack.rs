//! Whether a pointer lies in the live part of the calling thread's stack, so the library
//! can read a small caller's object (a `timespec`) without risking a fault.
//!
//! libaio's zero-timeout fast path reads `*timeout` in user space; a wild pointer there
//! would crash inside the library. Callers almost always pass a `timespec` on their own
//! stack (fio does), and everything between the stack pointer and the top of the thread's
//! stack is mapped. Anything else takes the system call, where the kernel checks the
//! pointer.
//!
//! # Safety
//!
//! Calls `pthread_getattr_np`/`pthread_attr_getstack`/`pthread_attr_destroy` on an attribute
//! object owned by this function, once per thread.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::mem::MaybeUninit;

thread_local! {
    /// (lowest, highest) address of this thread's stack; (0, 0) until looked up, (1, 0) if
    /// it cannot be found.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn lookup() -> (usize, usize) {
    if cfg!(miri) {
        // Miri has no pthread_getattr_np: the bounds are unknown, so every read goes
        // through the kernel-checked path, as where the lookup fails.
        return (1, 0);
    }
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises attr for the calling thread on success; we only
    // read it then, and destroy it afterwards.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return (1, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if !ok || addr.is_null() {
            return (1, 0);
        }
        (addr as usize, addr as usize + size)
    }
}

/// Whether `[p, p + size_of::<T>())` lies between the current stack pointer and the top
/// of the calling thread's stack (so it is mapped and readable), and the thread runs on
/// its own stack (not a coroutine or signal stack).
pub fn on_live_stack<T>(p: *const T) -> bool {
    let marker = 0u8;
    let sp = &marker as *const u8 as usize;
    let (lo, hi) = BOUNDS.with(|b| {
        if b.get() == (0, 0) {
            b.set(lookup());
        }
        b.get()
    });
    let a = p as usize;
    lo <= sp && sp < hi && sp <= a && a.saturating_add(std::mem::size_of::<T>()) <= hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no pthread_getattr_np")]
    fn a_local_is_on_the_live_stack_and_heap_and_dead_frames_are_not() {
        let local = 5u64;
        assert!(on_live_stack(&local));
        let heap = Box::new(5u64);
        assert!(!on_live_stack(&*heap));
        // Far below the stack pointer: where frames that have returned were (only the
        // address is compared, nothing is read).
        assert!(!on_live_stack(
            (&local as *const u64).wrapping_byte_sub(64 << 10)
        ));
        assert!(!on_live_stack(std::ptr::null::<u64>()));
    }

    #[test]
    fn a_thread_whose_stack_is_unknown_reads_nothing_directly() {
        // Under Miri the lookup has no answer; elsewhere a spawned thread has its own
        // bounds, and a pointer into another thread's stack is never "live" here.
        let local = 5u64;
        let addr = &local as *const u64 as usize;
        let elsewhere = std::thread::spawn(move || on_live_stack(addr as *const u64));
        assert!(!elsewhere.join().unwrap());
        if cfg!(miri) {
            assert!(!on_live_stack(&local));
        }
    }
}
