//! Memory for emulated completion rings: shared memory the library writes through a view
//! of its own, while the program gets a second view (its `io_context_t`) that it may read,
//! `mremap` or unmap as it pleases.
//!
//! The kernel's ring is a shared file mapping that the kernel writes through its own
//! mapping of the pages, never through the program's address: so the program may move it
//! (`mremap`, which the kernel follows) and nothing is ever written where the ring used to
//! be. The emulation does the same with anonymous shared memory: the library keeps large
//! `MAP_SHARED | MAP_ANONYMOUS` chunks (its private views, excluded from fork children),
//! and each context's pages in a chunk get a view of their own for the program, made with
//! `mremap(old_size = 0)`, which maps the same pages again without a descriptor. The
//! program's view costs one mapping (as the kernel's ring does, so the number of contexts
//! is bounded by `vm.max_map_count` as with kernel AIO); the chunks are a handful for the
//! whole process.
//!
//! A freed span is punched out of the chunk (`MADV_REMOVE`: the memory is returned and
//! reads as zeros) and reused for a ring of the same size.
//!
//! Under Miri (which has no shared mappings or `mremap`) a span is an ordinary
//! page-aligned allocation and the program's view is the same address.
//!
//! # Safety
//!
//! Chunks are mapped here and never unmapped (a span's memory stays valid for the life of
//! the process, so a `Span`'s address may be written whenever its owner holds it); the
//! program's views are mapped and unmapped only by the functions below, which are given
//! addresses the caller has proved to be such a view.
#![allow(unsafe_code)]

use crate::forklocal::ForkLocal;
use aiolos::sys::Errno;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// The size of one chunk of ring memory (address space reserved; pages are only used
/// once rings are set up in them).
const CHUNK_BYTES: usize = 64 << 20;

/// Pages of one chunk set aside for one ring.
#[derive(Debug)]
pub struct Span {
    chunk: usize,
    first_page: usize,
    pages: usize,
    /// The address of the library's view of these pages.
    addr: usize,
}

impl Span {
    /// The library's view of the span (page-aligned, `len()` bytes).
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The span's length in bytes.
    pub fn bytes(&self) -> usize {
        self.pages * page()
    }
}

/// A chunk's first byte (kept as a pointer: the chunk is reachable from here).
struct Base(*mut u8);

// SAFETY: the pointer is only an address of memory that lives as long as the process; it
// is never dereferenced through this type.
unsafe impl Send for Base {}

struct Chunk {
    base: Base,
    pages: usize,
    /// Pages handed out from the start of the chunk.
    used: usize,
}

/// A fork child starts with an arena of its own ([`ForkLocal`]): the chunks were not
/// copied into it (MADV_DONTFORK), and its rings come from new chunks.
#[derive(Default)]
struct Arena {
    chunks: Vec<Chunk>,
    /// Freed spans, by size in pages: (chunk, first page).
    free: BTreeMap<usize, Vec<(usize, usize)>>,
}

static ARENA: ForkLocal<Mutex<Arena>> = ForkLocal::new(Mutex::default);

fn page() -> usize {
    rustix::param::page_size()
}

fn arena() -> MutexGuard<'static, Arena> {
    ARENA.get().lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets aside `pages` zeroed pages.
///
/// # Errors
/// `ENOMEM` when no memory can be mapped.
pub fn alloc(pages: usize) -> Result<Span, Errno> {
    let mut a = arena();
    if let Some((chunk, first_page)) = a.free.get_mut(&pages).and_then(Vec::pop) {
        let addr = a.chunks[chunk].base.0 as usize + first_page * page();
        return Ok(Span {
            chunk,
            first_page,
            pages,
            addr,
        });
    }
    let fits = a.chunks.iter().position(|c| c.pages - c.used >= pages);
    let chunk = match fits {
        Some(i) => i,
        None => {
            let chunk_pages = (CHUNK_BYTES / page()).max(pages);
            let base = sys::map_chunk(chunk_pages * page())?;
            a.chunks.push(Chunk {
                base: Base(base),
                pages: chunk_pages,
                used: 0,
            });
            a.chunks.len() - 1
        }
    };
    let c = &mut a.chunks[chunk];
    let first_page = c.used;
    c.used += pages;
    Ok(Span {
        chunk,
        first_page,
        pages,
        addr: c.base.0 as usize + first_page * page(),
    })
}

/// Returns a span's pages (zeroed for their next user).
pub fn free(span: Span) {
    let mut a = arena();
    if span.chunk >= a.chunks.len() {
        return; // from before a fork: not ours to reuse
    }
    sys::zero(span.addr, span.bytes());
    a.free
        .entry(span.pages)
        .or_default()
        .push((span.chunk, span.first_page));
}

/// Maps the span's pages again, at an address of the kernel's choosing: the program's
/// view.
///
/// # Errors
/// `ENOMEM` when the process cannot map more (as `io_setup` fails when `vm.max_map_count`
/// is reached).
pub fn map_view(span: &Span) -> Result<usize, Errno> {
    sys::duplicate(span.addr, span.bytes())
}

/// Unmaps a program's view that [`map_view`] made (the caller has checked that `addr` still
/// maps the span).
pub fn unmap_view(span: &Span, addr: usize) {
    sys::unmap(span.addr, addr, span.bytes());
}

#[cfg(not(miri))]
mod sys {
    use super::*;
    use rustix::mm::{self, Advice, MapFlags, MremapFlags, ProtFlags};

    pub(super) fn map_chunk(len: usize) -> Result<*mut u8, Errno> {
        // SAFETY: a new anonymous mapping at an address of the kernel's choosing touches
        // no existing memory.
        let base = unsafe {
            mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::NORESERVE,
            )
        }
        .map_err(|_| Errno::NOMEM)?;
        // A fork child must not share the library's view with its parent (both would
        // hand out the same free pages). Without MADV_DONTFORK (very old kernels) a child
        // still never uses the chunk: the arena starts over in it.
        // SAFETY: the range is the mapping just made.
        let _ = unsafe { mm::madvise(base, len, Advice::LinuxDontFork) };
        Ok(base.cast())
    }

    pub(super) fn zero(addr: usize, len: usize) {
        // SAFETY: the span lies inside one of our chunks, which nothing else uses while
        // the span is being freed; MADV_REMOVE punches the pages out of the shared memory.
        let punched = unsafe {
            mm::madvise(
                std::ptr::with_exposed_provenance_mut(addr),
                len,
                Advice::LinuxRemove,
            )
        };
        if punched.is_err() {
            // SAFETY: as above; the span is writable memory of len bytes.
            unsafe {
                std::ptr::write_bytes(std::ptr::with_exposed_provenance_mut::<u8>(addr), 0, len)
            };
        }
    }

    pub(super) fn duplicate(addr: usize, len: usize) -> Result<usize, Errno> {
        // SAFETY: with old_size 0, mremap maps the shared pages at addr again at a new
        // address of the kernel's choosing; the original mapping is left as it was.
        let view = unsafe {
            mm::mremap(
                std::ptr::with_exposed_provenance_mut(addr),
                0,
                len,
                MremapFlags::MAYMOVE,
            )
        }
        .map_err(|_| Errno::NOMEM)?;
        // The new mapping inherited the chunk's MADV_DONTFORK; the program's ring is
        // inherited by fork children, as the kernel's is.
        // SAFETY: the range is the mapping just made.
        let _ = unsafe { mm::madvise(view, len, Advice::LinuxDoFork) };
        Ok(view.expose_provenance())
    }

    pub(super) fn unmap(_span: usize, view: usize, len: usize) {
        // SAFETY: the caller has checked that view is the program's view of a span of
        // len bytes; unmapping it leaves the library's view alone.
        let _ = unsafe { mm::munmap(std::ptr::with_exposed_provenance_mut(view), len) };
    }
}

/// Miri: ordinary allocations, one view.
#[cfg(miri)]
mod sys {
    use super::*;
    use std::alloc::{alloc_zeroed, Layout};

    pub(super) fn map_chunk(len: usize) -> Result<*mut u8, Errno> {
        let layout = Layout::from_size_align(len, page()).map_err(|_| Errno::NOMEM)?;
        // SAFETY: the layout has a non-zero size; the allocation is never freed (chunks
        // live as long as the process).
        let p = unsafe { alloc_zeroed(layout) };
        if p.is_null() {
            return Err(Errno::NOMEM);
        }
        p.expose_provenance();
        Ok(p)
    }

    pub(super) fn zero(addr: usize, len: usize) {
        // SAFETY: the span lies inside a chunk allocation (exposed when it was made).
        unsafe { std::ptr::write_bytes(std::ptr::with_exposed_provenance_mut::<u8>(addr), 0, len) };
    }

    pub(super) fn duplicate(addr: usize, _len: usize) -> Result<usize, Errno> {
        Ok(addr)
    }

    pub(super) fn unmap(_span: usize, _view: usize, _len: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(addr: usize) -> *mut u8 {
        std::ptr::with_exposed_provenance_mut(addr)
    }

    #[test]
    fn a_span_is_zeroed_page_aligned_memory_and_is_zeroed_again_for_its_next_user() {
        let span = alloc(2).unwrap();
        assert_eq!(span.addr() % page(), 0);
        assert_eq!(span.bytes(), 2 * page());
        // SAFETY: the span is ours: 2 pages of writable memory.
        unsafe {
            assert_eq!(*at(span.addr()), 0);
            at(span.addr()).add(span.bytes() - 1).write(9);
        }
        let addr = span.addr();
        free(span);
        let again = alloc(2).unwrap();
        assert_eq!(
            again.addr(),
            addr,
            "a freed span of the same size is reused"
        );
        // SAFETY: as above.
        assert_eq!(unsafe { *at(again.addr()).add(again.bytes() - 1) }, 0);
        free(again);
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no shared mappings")]
    fn the_programs_view_shows_what_the_library_writes_and_survives_a_move() {
        let span = alloc(1).unwrap();
        let view = map_view(&span).unwrap();
        assert_ne!(view, span.addr());
        // SAFETY: both addresses map the span's page.
        unsafe {
            at(span.addr()).write(42);
            assert_eq!(*at(view), 42, "one page, two addresses");
        }
        // The program moves its view; the library's writes still reach it.
        // SAFETY: a fresh reservation to move the view onto, then the move (the view is
        // ours).
        let moved = unsafe {
            let target = rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                page(),
                rustix::mm::ProtFlags::empty(),
                rustix::mm::MapFlags::PRIVATE,
            )
            .expect("a reservation");
            rustix::mm::mremap_fixed(
                std::ptr::with_exposed_provenance_mut(view),
                page(),
                page(),
                rustix::mm::MremapFlags::MAYMOVE,
                target,
            )
            .expect("the view moved")
            .expose_provenance()
        };
        // SAFETY: moved maps the span's page now.
        unsafe {
            at(span.addr()).add(1).write(43);
            assert_eq!(*at(moved).add(1), 43);
        }
        unmap_view(&span, moved);
        free(span);
    }
}
