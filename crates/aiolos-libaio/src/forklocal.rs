//! Process-wide state that a `fork` child starts afresh.
//!
//! A program may fork while other threads of it are inside the library, and its threads
//! always are: the engine's and the harvester's threads take the library's locks for every
//! completion. The child has only the thread that forked, so a lock another thread held at
//! that moment stays held in the child for ever, and its data may be half updated. Kernel
//! AIO has no such state in the process: a child may call `io_setup` at any time.
//!
//! So every lock-protected global of the library is a [`ForkLocal`]: each fork generation
//! (see `aiolos::sys::fork_generation`) gets its own value, made on first use, and the
//! child never looks at (nor locks, nor frees) what its parent's threads were using; calls
//! that only look ([`ForkLocal::peek`]) find nothing there, without allocating. This
//! costs one atomic load per use and no work at `fork`; taking every lock around `fork`
//! (`pthread_atfork` prepare handlers) would also work, but would make a program's fork
//! wait for the library's threads and impose one order on all of the library's locks.
//!
//! # Safety
//!
//! A value is boxed and its box is never freed (a generation's value is replaced only in a
//! child, where the threads that used it do not exist, and it is left as it is), so the
//! references handed out live as long as the `ForkLocal`.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicPtr, Ordering};

struct Slot<T> {
    generation: u64,
    value: T,
}

/// A value per fork generation, made by `init` on first use in each.
pub struct ForkLocal<T> {
    slot: AtomicPtr<Slot<T>>,
    init: fn() -> T,
}

impl<T: Sync> ForkLocal<T> {
    /// A cell whose value in each fork generation starts as `init()`.
    pub const fn new(init: fn() -> T) -> ForkLocal<T> {
        ForkLocal {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            init,
        }
    }

    /// This process's value.
    pub fn get(&self) -> &T {
        let generation = aiolos::sys::fork_generation();
        let seen = self.slot.load(Ordering::Acquire);
        // SAFETY: a non-null pointer in the cell came from `Box::into_raw` below and is
        // never freed (see the module's safety note).
        match unsafe { seen.as_ref() } {
            Some(s) if s.generation == generation => &s.value,
            _ => self.install(seen, generation),
        }
    }

    /// This process's value if it was made; `None` means it would be as `init` makes it.
    /// For calls that only look: a fork child that calls them on its parent's contexts
    /// allocates nothing (a child of a threaded program should not allocate at all; some
    /// allocators, AddressSanitizer's among them, are not safe across `fork`).
    pub fn peek(&self) -> Option<&T> {
        let generation = aiolos::sys::fork_generation();
        // SAFETY: as in `get`.
        unsafe { self.slot.load(Ordering::Acquire).as_ref() }
            .filter(|s| s.generation == generation)
            .map(|s| &s.value)
    }

    #[cold]
    fn install(&self, seen: *mut Slot<T>, generation: u64) -> &T {
        let fresh = Box::into_raw(Box::new(Slot {
            generation,
            value: (self.init)(),
        }));
        match self
            .slot
            .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // The parent's value, if any, is left alone: threads that no longer exist may
            // have held its locks.
            // SAFETY: `fresh` is the box just made, now in the cell, never freed.
            Ok(_) => unsafe { &(*fresh).value },
            Err(_) => {
                // Another thread of this process installed one first.
                // SAFETY: `fresh` never left this function; it is dropped once.
                drop(unsafe { Box::from_raw(fresh) });
                self.get()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn one_value_per_process_however_many_threads_race_for_it() {
        static CELL: ForkLocal<Mutex<u32>> = ForkLocal::new(|| Mutex::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| *CELL.get().lock().unwrap() += 1))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*CELL.get().lock().unwrap(), 8);
        assert!(std::ptr::eq(CELL.get(), CELL.get()));
        assert!(std::ptr::eq(CELL.peek().unwrap(), CELL.get()));
        static UNUSED: ForkLocal<Mutex<u32>> = ForkLocal::new(|| Mutex::new(0));
        assert!(UNUSED.peek().is_none());
    }

    /// A lock another thread holds at the fork is not the child's: the child gets a value
    /// of its own, unlocked and as `init` made it.
    #[test]
    #[cfg_attr(miri, ignore = "Miri runs no fork")]
    fn a_fork_child_starts_afresh_while_a_parents_thread_holds_the_lock() {
        static CELL: ForkLocal<Mutex<u32>> = ForkLocal::new(|| Mutex::new(0));
        *CELL.get().lock().unwrap() = 7;
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _guard = CELL.get().lock().unwrap();
            held_tx.send(()).unwrap();
            done_rx.recv().unwrap();
        });
        held_rx.recv().unwrap();
        // SAFETY: the child only locks a fresh mutex (allocating it: glibc's allocator
        // takes its locks around fork) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            if CELL.peek().is_some() {
                // SAFETY: ends the child without running the parent's exit handlers.
                unsafe { libc::_exit(4) };
            }
            let code = match CELL.get().try_lock() {
                Ok(v) if *v == 0 => 0,
                Ok(_) => 2,
                Err(_) => 3,
            };
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked; status is a valid out-pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        done_tx.send(()).unwrap();
        holder.join().unwrap();
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "2: the parent's value, 3: still locked, 4: peeked at the parent's"
        );
        assert_eq!(
            *CELL.get().lock().unwrap(),
            7,
            "the parent's value is its own"
        );
    }
}
