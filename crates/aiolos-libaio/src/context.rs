//! The kernel AIO contexts this library created (engine `native`).
//!
//! Reading a context's completion ring in user space (libaio's zero-timeout fast path) is
//! only sound while the ring is mapped. A context id handed in by the caller may be stale,
//! made up, or created by a direct system call; so the ring is read only for contexts found
//! here, under the registry's read lock, and `io_destroy` removes a context (under the write
//! lock) before the kernel unmaps its ring.
//!
//! After `fork` the child inherits this table but not the contexts (the kernel answers
//! `EINVAL` there), so every entry carries the fork generation it was made in and entries
//! from an older generation are ignored.
//!
//! # Safety
//!
//! Registers a `pthread_atfork` child handler that only increments an atomic counter, which
//! is async-signal-safe and so allowed in a child of a multi-threaded process.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

struct Entry {
    generation: u64,
}

static CONTEXTS: RwLock<BTreeMap<u64, Entry>> = RwLock::new(BTreeMap::new());
static GENERATION: AtomicU64 = AtomicU64::new(0);
#[cfg_attr(miri, allow(dead_code))]
static ATFORK: Once = Once::new();

#[cfg_attr(miri, allow(dead_code))]
extern "C" fn after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

fn write() -> RwLockWriteGuard<'static, BTreeMap<u64, Entry>> {
    // A panic while holding the lock cannot leave the map half-updated (each update is one
    // insert or remove), so a poisoned lock is still usable.
    CONTEXTS.write().unwrap_or_else(|e| e.into_inner())
}

/// Records that this library created kernel context `id`.
pub fn register(id: u64) {
    // Miri runs no fork (and no pthread_atfork).
    #[cfg(not(miri))]
    ATFORK.call_once(|| {
        // SAFETY: the handler is a plain extern "C" fn that only touches an atomic. If
        // registration fails (ENOMEM) a forked child may read the inherited ring mapping in
        // the fast path, which stays mapped in the child; nothing unsound follows.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    write().insert(
        id,
        Entry {
            generation: generation(),
        },
    );
}

/// Forgets context `id`; returns whether this process created it.
pub fn unregister(id: u64) -> bool {
    let mut map = write();
    // A context from before a fork stays in the map: removing it would free memory, which
    // a fork child of a threaded program must not do (its allocator's locks may be held by
    // threads that do not exist in the child). A context set up later at the same address
    // replaces the entry.
    if map.get(&id).is_none_or(|e| e.generation != generation()) {
        return false;
    }
    map.remove(&id).is_some()
}

/// Runs `f` while holding the registry's read lock, if context `id` is live, so it cannot
/// be destroyed meanwhile. Returns `None` (without waiting) when the context is not ours,
/// is from before a `fork`, or the registry is being written to.
pub fn with_live<R>(id: u64, f: impl FnOnce() -> R) -> Option<R> {
    let guard: RwLockReadGuard<'_, _> = match CONTEXTS.try_read() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    let e = guard.get(&id)?;
    (e.generation == generation()).then(f)
}
