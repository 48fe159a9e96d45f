//! The emulated contexts of this process, found by the address the program passes as
//! `io_context_t`.
//!
//! The kernel finds a context by reading the `id` in the ring header at that address (an
//! index into the process's table) and comparing the context's current ring address; it
//! learns of a ring's new address when the program `mremap`s it. The emulation cannot see
//! an `mremap`, so it keeps the address it knows for each context, and when a call names
//! an address it does not know, reads the header there through the kernel (never trusting
//! the pointer): a ring magic and the `id` of a live context are followed by a check that
//! the address really maps that context's pages (a bit flipped in the library's view must
//! show through the program's). Then the context's address becomes the new one, as the
//! kernel's does after `mremap`.
//!
//! Ids are the lowest free index, as the kernel's are; after `fork` the child's table
//! starts empty (the parent's contexts answer `EINVAL` there, as kernel contexts do), with
//! locks of its own ([`ForkLocal`]).

use super::Ctx;
use crate::abi::AIO_RING_MAGIC;
use crate::caller;
use crate::forklocal::ForkLocal;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default)]
struct Table {
    /// Live contexts.
    live: usize,
    slots: Vec<Option<Arc<Ctx>>>,
    free: BinaryHeap<Reverse<u32>>,
    by_addr: BTreeMap<usize, u32>,
}

static TABLE: ForkLocal<RwLock<Table>> = ForkLocal::new(RwLock::default);

/// Serialises the checks that flip a bit in a ring header.
static PROBING: ForkLocal<Mutex<()>> = ForkLocal::new(Mutex::default);

/// The table, if this process (this fork generation) has one: calls that only look at it
/// make none.
fn read() -> Option<RwLockReadGuard<'static, Table>> {
    TABLE
        .peek()
        .map(|t| t.read().unwrap_or_else(|e| e.into_inner()))
}

fn write_made() -> Option<RwLockWriteGuard<'static, Table>> {
    TABLE
        .peek()
        .map(|t| t.write().unwrap_or_else(|e| e.into_inner()))
}

fn write() -> RwLockWriteGuard<'static, Table> {
    TABLE.get().write().unwrap_or_else(|e| e.into_inner())
}

/// Registers a new context: `make` builds it with the id it is given, and returns it with
/// the address of the program's view.
pub fn insert<E>(make: impl FnOnce(u32) -> Result<(Arc<Ctx>, usize), E>) -> Result<Arc<Ctx>, E> {
    let mut t = write();
    let id = match t.free.pop() {
        Some(Reverse(id)) => id,
        None => t.slots.len() as u32,
    };
    match make(id) {
        Ok((ctx, addr)) => {
            if id as usize == t.slots.len() {
                t.slots.push(None);
            }
            t.slots[id as usize] = Some(Arc::clone(&ctx));
            t.by_addr.insert(addr, id);
            t.live += 1;
            Ok(ctx)
        }
        Err(e) => {
            if (id as usize) < t.slots.len() {
                t.free.push(Reverse(id));
            }
            Err(e)
        }
    }
}

/// Removes a context (its id and address become free). Returns whether it was there.
pub fn remove(ctx: &Ctx) -> bool {
    let Some(mut t) = write_made() else {
        return false;
    };
    let id = ctx.id();
    let present = t
        .slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), ctx));
    if !present {
        return false;
    }
    t.slots[id as usize] = None;
    t.free.push(Reverse(id));
    t.live -= 1;
    forget_address(&mut t, ctx.view(), id);
    true
}

/// Drops `addr` from the addresses known for context `id` (it is the context's only one).
fn forget_address(t: &mut Table, addr: usize, id: u32) {
    if t.by_addr.get(&addr) == Some(&id) {
        t.by_addr.remove(&addr);
    }
}

/// The context the program calls `addr`, if there is one.
pub fn lookup(addr: usize) -> Option<Arc<Ctx>> {
    {
        let t = read()?;
        if let Some(&id) = t.by_addr.get(&addr) {
            return t.slots.get(id as usize).cloned().flatten();
        }
        if t.live == 0 {
            return None;
        }
    }
    recognise(addr)
}

/// An address the library did not hand out: a moved ring, or not a context of ours.
fn recognise(addr: usize) -> Option<Arc<Ctx>> {
    if !crate::abi::plausible(addr as *const [u32; 8]) {
        return None;
    }
    // Through the kernel: the address may be unmapped or anything at all.
    let header: [u32; 8] = caller::load_value(addr as *const [u32; 8]).ok()?;
    if header[4] != AIO_RING_MAGIC {
        return None;
    }
    let ctx = {
        let t = read()?;
        t.slots.get(header[0] as usize).cloned().flatten()?
    };
    if !maps_ring_of(addr, &ctx) {
        return None;
    }
    let mut t = write_made()?;
    let id = ctx.id();
    let still = t
        .slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .is_some_and(|c| Arc::ptr_eq(c, &ctx));
    if !still {
        return None;
    }
    forget_address(&mut t, ctx.view(), id);
    t.by_addr.insert(addr, id);
    ctx.set_view(addr);
    Some(ctx)
}

/// Whether `addr` maps the pages of `ctx`'s ring: a bit flipped through the library's
/// view must be seen there (a copy of the ring, or the ring of another context or of
/// the kernel, would not show it).
pub fn maps_ring_of(addr: usize, ctx: &Ctx) -> bool {
    let _one = PROBING.get().lock().unwrap_or_else(|e| e.into_inner());
    // header_length (offset 28): a field no client reads.
    let read_back = || caller::load_value((addr + 28) as *const u32).ok();
    let before = read_back();
    ctx.flip_probe_bit();
    let after = read_back();
    ctx.flip_probe_bit();
    matches!((before, after), (Some(b), Some(a)) if a == b ^ super::PROBE_BIT)
}
