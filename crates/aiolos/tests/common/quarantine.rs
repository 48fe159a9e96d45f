//! A test allocator that never hands a freed I/O-sized block out again while a test runs:
//! it fills the block with [`POISON`] and keeps it in quarantine. A kernel write into memory
//! the library freed too early then changes the poison, and [`check_and_release`] finds it,
//! whatever a real allocator would have done with the block. (Sanitizers cannot see such
//! writes: the kernel bypasses their shadow memory.)
//!
//! Install it in a test binary with `#[global_allocator] static A: Quarantine = Quarantine;`.
//! Blocks of at least [`MIN_BLOCK`] bytes are quarantined, up to [`SLOTS`] blocks and
//! [`MAX_BYTES`] in all; beyond that blocks are freed at once (counted in [`overflowed`]).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The byte a quarantined block is filled with.
pub const POISON: u8 = 0x5A;
/// Smallest block quarantined: I/O buffers, not the small allocations around them.
pub const MIN_BLOCK: usize = 512;
/// Most blocks held at once.
pub const SLOTS: usize = 1 << 14;
/// Most bytes held at once.
pub const MAX_BYTES: usize = 256 << 20;

#[derive(Clone, Copy)]
struct Held {
    ptr: usize,
    size: usize,
    align: usize,
}

struct Store {
    held: [Held; SLOTS],
    len: usize,
    bytes: usize,
}

static STORE: Mutex<Store> = Mutex::new(Store {
    held: [Held {
        ptr: 0,
        size: 0,
        align: 0,
    }; SLOTS],
    len: 0,
    bytes: 0,
});
static OVERFLOWED: AtomicUsize = AtomicUsize::new(0);

/// The quarantining allocator.
pub struct Quarantine;

fn store() -> std::sync::MutexGuard<'static, Store> {
    // The store is only ever changed by complete assignments: poisoning is harmless.
    STORE.lock().unwrap_or_else(|e| e.into_inner())
}

// SAFETY: every block comes from the system allocator with the caller's layout and goes
// back to it with the same layout, once: either at dealloc or when released from quarantine.
// The store's lock does not allocate, and nothing allocates while holding it.
unsafe impl GlobalAlloc for Quarantine {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= MIN_BLOCK {
            let mut st = store();
            if st.len < SLOTS && st.bytes + layout.size() <= MAX_BYTES {
                // SAFETY: the caller gives up the block of layout.size() bytes at ptr; it
                // is ours to fill until it is released.
                unsafe { std::ptr::write_bytes(ptr, POISON, layout.size()) };
                let i = st.len;
                st.held[i] = Held {
                    ptr: ptr as usize,
                    size: layout.size(),
                    align: layout.align(),
                };
                st.len += 1;
                st.bytes += layout.size();
                return;
            }
            OVERFLOWED.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Whether the block that started at `addr` is in quarantine (it was freed and not yet
/// released).
pub fn holds(addr: usize) -> bool {
    let st = store();
    st.held[..st.len].iter().any(|h| h.ptr == addr)
}

/// Blocks freed without quarantine because it was full.
pub fn overflowed() -> usize {
    OVERFLOWED.load(Ordering::Relaxed)
}

/// Checks that every quarantined block still holds only [`POISON`], then frees them all.
/// Call it only once the kernel can no longer be writing into memory the test gave it.
///
/// # Errors
/// Names the first block whose poison changed: something wrote into it after it was freed.
pub fn check_and_release() -> Result<usize, String> {
    let mut bad = None;
    let n;
    {
        let mut st = store();
        n = st.len;
        for (i, h) in st.held[..st.len].iter().enumerate() {
            // SAFETY: a quarantined block is still allocated (never given back to the
            // system) and size bytes long.
            let bytes = unsafe { std::slice::from_raw_parts(h.ptr as *const u8, h.size) };
            if bad.is_none() {
                if let Some(at) = bytes.iter().position(|&b| b != POISON) {
                    let changed = bytes.iter().filter(|&&b| b != POISON).count();
                    bad = Some((i, h.ptr, h.size, at, changed));
                }
            }
            // SAFETY: the block came from System with this size and alignment and is
            // released once: the store is emptied below, under the same lock.
            unsafe {
                System.dealloc(
                    h.ptr as *mut u8,
                    Layout::from_size_align_unchecked(h.size, h.align),
                )
            };
        }
        st.len = 0;
        st.bytes = 0;
    }
    match bad {
        None => Ok(n),
        Some((i, ptr, size, at, changed)) => Err(format!(
            "freed block {i} ({size} bytes at {ptr:#x}) was written after it was freed: \
             {changed} bytes changed, the first at offset {at}"
        )),
    }
}
