//! The kernel AIO contexts this library created (engine `native`).
//!
//! Reading a context's completion ring in user space (libaio's zero-timeout fast path) is
//! only sound while the ring is mapped. A context id handed in by the caller may be stale,
//! made up, or created by a direct system call; so the ring is read only for contexts found
//! here, under the registry's read lock, and `io_destroy` removes a context (under the write
//! lock) before the kernel unmaps its ring.
//!
//! After `fork` the parent's contexts are not the child's (the kernel answers `EINVAL`
//! there), so the registry is a [`ForkLocal`]: the child's starts
//! empty, with a lock of its own.

use crate::forklocal::ForkLocal;
use std::collections::BTreeSet;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

static CONTEXTS: ForkLocal<RwLock<BTreeSet<u64>>> = ForkLocal::new(RwLock::default);

fn write(set: &'static RwLock<BTreeSet<u64>>) -> RwLockWriteGuard<'static, BTreeSet<u64>> {
    // A panic while holding the lock cannot leave the set half-updated (each update is one
    // insert or remove), so a poisoned lock is still usable.
    set.write().unwrap_or_else(|e| e.into_inner())
}

/// Records that this library created kernel context `id`.
pub fn register(id: u64) {
    write(CONTEXTS.get()).insert(id);
}

/// Forgets context `id`; returns whether this process created it. (A fork child that
/// destroys its parent's context allocates nothing here.)
pub fn unregister(id: u64) -> bool {
    CONTEXTS.peek().is_some_and(|set| write(set).remove(&id))
}

/// Runs `f` while holding the registry's read lock, if context `id` is live, so it cannot
/// be destroyed meanwhile. Returns `None` (without waiting) when the context is not ours,
/// is from before a `fork`, or the registry is being written to.
pub fn with_live<R>(id: u64, f: impl FnOnce() -> R) -> Option<R> {
    let guard: RwLockReadGuard<'_, _> = match CONTEXTS.peek()?.try_read() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    guard.contains(&id).then(f)
}
