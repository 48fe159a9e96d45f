//! The user-space completion ring: its layout as C clients read it, the wrap-around of
//! head and tail, a client's corrupted head, and one producer with one consumer on two
//! threads (under Miri, which checks the atomics' ordering for data races).

use super::*;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Zeroed, page-aligned memory for a ring (freed on drop, after the ring's last use).
struct Mem {
    ptr: *mut u8,
    layout: Layout,
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in new_ring.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

/// A ring able to hold `events` completions (`nr = events + 1` slots), id 0.
fn new_ring(events: u32) -> (UserRing, Mem) {
    let layout = Layout::from_size_align(UserRing::bytes(events + 1), 4096).unwrap();
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) };
    assert!(!ptr.is_null());
    // SAFETY: fresh zeroed page-aligned memory of the ring's size, kept alive by Mem
    // (returned alongside and dropped after the ring).
    let ring = unsafe { UserRing::init(ptr.expose_provenance(), events + 1, 0) };
    (ring, Mem { ptr, layout })
}

fn ev(i: u64) -> IoEvent {
    IoEvent {
        data: i,
        obj: 0x1000 + i,
        res: i as i64,
        res2: -(i as i64),
    }
}

fn pop_all(ring: &UserRing) -> Vec<IoEvent> {
    let mut out = vec![IoEvent::default(); ring.nr() as usize];
    let n = ring.pop_into(&mut out);
    out.truncate(n);
    out
}

/// The ring's memory as a C client sees it: the address from `io_context_t`, a
/// `struct aio_ring` header at fixed offsets (the kernel's, written out here rather than
/// taken from `AioRingHeader`) followed by the events.
struct CView(*mut u8);

impl CView {
    fn of(ring: &UserRing) -> CView {
        // A C client turns the integer io_context_t back into a pointer.
        CView(std::ptr::with_exposed_provenance_mut(ring.addr()))
    }
    fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(offset.is_multiple_of(4) && offset < 32);
        // SAFETY: the ring's header is 32 bytes of aligned u32 fields, live while the
        // UserRing (borrowed by the caller of `of`) is.
        unsafe { &*self.0.add(offset).cast::<AtomicU32>() }
    }
    fn nr(&self) -> u32 {
        self.word(4).load(Ordering::Relaxed)
    }
    fn head(&self) -> u32 {
        self.word(8).load(Ordering::Relaxed)
    }
    fn tail(&self) -> u32 {
        self.word(12).load(Ordering::Acquire)
    }
    fn magic(&self) -> u32 {
        self.word(16).load(Ordering::Acquire)
    }
    /// libaio's and fio's user-space reap: copy the events from head up to tail (plain
    /// reads, after the acquire load of tail), then store the new head.
    fn reap(&self, max: usize) -> Vec<IoEvent> {
        let nr = self.nr();
        let mut head = self.head();
        let tail = self.tail();
        let mut out = Vec::new();
        while head != tail && out.len() < max {
            // SAFETY: head < nr (the ring keeps it so), so the event lies inside the
            // ring's nr slots after the 32-byte header; the producer published it before
            // its release store of tail, which the acquire load above saw.
            out.push(unsafe { self.0.add(32 + head as usize * 32).cast::<IoEvent>().read() });
            head = (head + 1) % nr;
        }
        self.word(8).store(head, Ordering::Release);
        out
    }
}

#[test]
fn a_new_ring_has_the_kernels_header_and_is_empty() {
    let (ring, _mem) = new_ring(7);
    let c = CView::of(&ring);
    assert_eq!(
        ring.addr() % 4096,
        0,
        "page-aligned like the kernel's mapping"
    );
    assert_eq!(c.word(0).load(Ordering::Relaxed), 0, "id");
    assert_eq!(c.nr(), 8, "one slot more than events");
    assert_eq!(ring.nr(), 8);
    assert_eq!((c.head(), c.tail()), (0, 0));
    assert_eq!(c.magic(), 0xa10a10a1);
    assert_eq!(c.word(20).load(Ordering::Relaxed), 1, "compat_features");
    assert_eq!(c.word(24).load(Ordering::Relaxed), 0, "incompat_features");
    assert_eq!(c.word(28).load(Ordering::Relaxed), 32, "header_length");
    assert_eq!(ring.pending(), 0);
    assert!(pop_all(&ring).is_empty());
}

#[test]
fn push_and_pop_keep_order_across_many_wrap_arounds_at_nr_minus_one_events() {
    // nr = 4 slots, at most 3 events; batches of every size make head and tail wrap at
    // every offset.
    let (ring, _mem) = new_ring(3);
    let c = CView::of(&ring);
    let (mut next_in, mut next_out) = (0u64, 0u64);
    for round in 0..24 {
        let fill = 1 + round % 3;
        for _ in 0..fill {
            ring.push(ev(next_in));
            next_in += 1;
        }
        assert_eq!(ring.pending(), fill as u32);
        assert!(c.head() < 4 && c.tail() < 4, "indices stay below nr");
        // Take one fewer than there are every other round, so some stay across pushes.
        let take = if round % 2 == 0 { fill } else { fill - 1 };
        let mut out = vec![IoEvent::default(); take as usize];
        assert_eq!(ring.pop_into(&mut out), take as usize);
        for e in out {
            assert_eq!(e, ev(next_out));
            next_out += 1;
        }
        for e in pop_all(&ring) {
            assert_eq!(e, ev(next_out));
            next_out += 1;
        }
        assert_eq!(ring.pending(), 0);
    }
    assert_eq!(next_in, next_out);
    assert!(next_in > 12, "went round the 4 slots several times");
}

#[test]
fn a_full_ring_holds_nr_minus_one_events() {
    let (ring, _mem) = new_ring(5);
    for i in 0..5 {
        ring.push(ev(i));
    }
    assert_eq!(ring.pending(), 5);
    let got = pop_all(&ring);
    assert_eq!(got, (0..5).map(ev).collect::<Vec<_>>());
    assert_eq!(ring.pending(), 0);
}

#[test]
fn pop_into_an_empty_slice_takes_nothing_and_leaves_head() {
    let (ring, _mem) = new_ring(3);
    ring.push(ev(1));
    assert_eq!(ring.pop_into(&mut []), 0);
    assert_eq!(CView::of(&ring).head(), 0);
    assert_eq!(ring.pending(), 1);
}

#[test]
fn a_head_corrupted_by_a_client_is_clamped_into_the_ring() {
    let (ring, _mem) = new_ring(3);
    let c = CView::of(&ring);
    ring.push(ev(0));
    ring.push(ev(1));
    // A client writes nonsense into head: 4 slots, so 4 * k + 1 means slot 1.
    c.word(8).store(4 * 1000 + 1, Ordering::Release);
    assert_eq!(ring.pending(), 1, "head taken modulo nr");
    assert_eq!(pop_all(&ring), vec![ev(1)]);
    assert_eq!(c.head(), 2, "a consumer stores a head inside the ring");
    // A head past the tail reads as a wrapped ring, never as more than nr - 1 events,
    // and popping reads only slots inside the allocation.
    c.word(8).store(u32::MAX, Ordering::Release);
    assert!(ring.pending() < 4);
    let got = pop_all(&ring);
    assert!(got.len() < 4);
    assert!(c.head() < 4);
}

#[test]
fn retire_clears_the_magic_and_keeps_the_events() {
    let (ring, _mem) = new_ring(3);
    ring.push(ev(9));
    ring.retire();
    let c = CView::of(&ring);
    assert_eq!(c.magic(), 0);
    assert_eq!(c.nr(), 4);
    assert_eq!(ring.pending(), 1);
}

#[test]
fn a_c_client_reaps_what_push_published_and_the_ring_continues_from_its_head() {
    let (ring, _mem) = new_ring(5);
    let c = CView::of(&ring);
    for i in 0..4 {
        ring.push(ev(i));
    }
    assert_eq!(c.reap(3), vec![ev(0), ev(1), ev(2)]);
    assert_eq!(
        ring.pending(),
        1,
        "the ring sees the head the client stored"
    );
    for i in 4..8 {
        ring.push(ev(i));
    }
    // The client and the library take turns; tail has wrapped past slot 5.
    assert_eq!(pop_all(&ring), (3..8).map(ev).collect::<Vec<_>>());
    ring.push(ev(8));
    assert_eq!(c.reap(16), vec![ev(8)]);
    assert_eq!(c.head(), c.tail());
}

/// How many events the two-thread tests pass through a ring of 4 slots.
const STREAM: u64 = if cfg!(miri) { 120 } else { 50_000 };

/// One producer pushes `STREAM` events, waiting while the ring is full (as the context
/// only pushes when there is room); `consume` takes them on this thread.
fn stream(consume: impl Fn(&UserRing) -> Vec<IoEvent>) {
    let (ring, _mem) = new_ring(3);
    let ring = Arc::new(ring);
    let done = Arc::new(AtomicBool::new(false));
    let producer = {
        let (ring, done) = (Arc::clone(&ring), Arc::clone(&done));
        std::thread::spawn(move || {
            for i in 0..STREAM {
                while ring.pending() == ring.nr() - 1 {
                    std::thread::yield_now();
                }
                ring.push(ev(i));
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut next = 0;
    while next < STREAM {
        // Once the producer is seen finished, every push is visible: an empty take then
        // means events were lost.
        let finished = done.load(Ordering::Acquire);
        let got = consume(&ring);
        if got.is_empty() {
            assert!(!finished, "{} events never arrived", STREAM - next);
            std::thread::yield_now();
        }
        for e in got {
            assert_eq!(e, ev(next), "events arrive once each, in order");
            next += 1;
        }
    }
    producer.join().unwrap();
    assert_eq!(ring.pending(), 0);
}

#[test]
fn a_producer_thread_and_a_pop_into_consumer_pass_every_event_once_in_order() {
    stream(|ring| {
        let mut out = [IoEvent::default(); 2];
        let n = ring.pop_into(&mut out);
        out[..n].to_vec()
    });
}

#[test]
fn a_producer_thread_and_a_c_client_reading_the_ring_pass_every_event_once_in_order() {
    stream(|ring| CView::of(ring).reap(2));
}
