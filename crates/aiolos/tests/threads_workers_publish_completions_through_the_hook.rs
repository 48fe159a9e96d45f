//! `Ring::set_completion_hook`: on the thread pool, the worker that finishes a request calls
//! the hook, which reaps; completions reach the sink with no thread of the program waiting
//! or driving the ring, each exactly once, with the data read. The engines whose
//! completions come from the kernel refuse a hook.
mod common;
use aiolos::{EngineKind, Fd, Op, Ring};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the sink got: (user_data, the bytes read).
type Read = (u64, Vec<u8>);

/// A ring shared between threads.
type Shared = Arc<Ring<Vec<u8>>>;

/// A thread-pool ring with `threads` workers, and a patterned file of `blocks` 4 KiB
/// blocks (in the returned directory) opened for it.
fn pool_and_file(threads: usize, blocks: usize) -> (Shared, tempfile::TempDir, Fd) {
    let ring = Ring::builder()
        .entries(64)
        .engine(EngineKind::Threads)
        .threads(threads)
        .build()
        .expect("thread-pool ring");
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, blocks * 4096);
    let file: Fd = open_rw(&path, false).into();
    (Arc::new(ring), dir, file)
}

#[test]
fn pool_workers_reap_through_the_hook_and_the_sink_gets_every_completion_once() {
    let (ring, _dir, file) = pool_and_file(4, 64);
    let data = pattern(0, 64 * 4096);

    let got: Arc<Mutex<Vec<Read>>> = Arc::default();
    let sink_got = Arc::clone(&got);
    ring.set_sink(move |c| {
        let n = *c.result.as_ref().expect("read succeeds");
        let user_data = c.user_data;
        let mut buf = c.into_buf().expect("one buffer");
        buf.truncate(n);
        sink_got.lock().unwrap().push((user_data, buf));
    });
    // Calls made, and calls still running: the ring is dropped only once every worker is
    // out of the hook (a worker must never hold the last reference).
    let calls = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let (hook_calls, hook_running) = (Arc::clone(&calls), Arc::clone(&running));
    let weak = Arc::downgrade(&ring);
    assert!(ring.set_completion_hook(move || {
        hook_running.fetch_add(1, Ordering::SeqCst);
        if let Some(r) = weak.upgrade() {
            let _ = r.drive(Some(Duration::ZERO));
        }
        hook_calls.fetch_add(1, Ordering::SeqCst);
        hook_running.fetch_sub(1, Ordering::SeqCst);
    }));
    assert!(!ring.set_completion_hook(|| {}), "a second hook is refused");

    for i in 0..64u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), i * 4096).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    // Nobody here waits or drives: the workers' hook is the only reaper.
    let deadline = Instant::now() + Duration::from_secs(20);
    let settled = || {
        got.lock().unwrap().len() == 64
            && calls.load(Ordering::SeqCst) == 64
            && running.load(Ordering::SeqCst) == 0
    };
    while !settled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut got = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(
        got.len(),
        64,
        "every completion reached the sink through the hook"
    );
    got.sort_by_key(|(u, _)| *u);
    for (i, (user_data, buf)) in got.iter().enumerate() {
        assert_eq!(*user_data, i as u64, "each request exactly once");
        assert_eq!(
            buf[..],
            data[i * 4096..(i + 1) * 4096],
            "the data of block {i}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        64,
        "one hook call per completion"
    );
    assert_eq!(ring.outstanding(), 0);
}

#[test]
fn engines_that_complete_in_the_kernel_refuse_a_hook() {
    for kind in [EngineKind::Uring, EngineKind::Native] {
        let Ok(ring) = Ring::builder().engine(kind).build::<Vec<u8>>() else {
            eprintln!("skipping {kind:?}: not available here");
            continue;
        };
        assert!(!ring.set_completion_hook(|| {}), "{kind:?} took a hook");
    }
}

/// A hook may let go of the ring's last reference: the ring is then dropped on a pool
/// worker, which must neither wait for itself (a join of its own thread) nor for the
/// request it would otherwise have taken already; every request is handed back once
/// (run, or cancelled by the drop) before the drop returns.
#[test]
fn a_hook_that_drops_the_last_reference_drops_the_ring_on_the_worker() {
    let (ring, _dir, file) = pool_and_file(2, 8);
    // Each completion: its result (the drop cancels what no worker has started yet).
    let seen: Arc<Mutex<Vec<Result<usize, i32>>>> = Arc::default();
    let sink_seen = Arc::clone(&seen);
    ring.set_sink(move |c| {
        let r = c
            .result
            .as_ref()
            .map(|n| *n)
            .map_err(|e| e.raw_os_error().unwrap_or(0));
        sink_seen.lock().unwrap().push(r);
    });
    // The only strong reference ends up in the hook, which gives it up after the first
    // completion (the mutex's guard is gone before the ring is dropped).
    let holder: Arc<Mutex<Option<Shared>>> = Arc::default();
    // Set once this thread holds no reference any more: the hook waits for it, so the
    // reference it takes is certainly the last.
    let released = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (hook_holder, hook_released, hook_dropped) = (
        Arc::clone(&holder),
        Arc::clone(&released),
        Arc::clone(&dropped),
    );
    assert!(ring.set_completion_hook(move || {
        while hook_released.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let taken = hook_holder.lock().unwrap().take();
        if let Some(r) = taken {
            assert_eq!(
                Arc::strong_count(&r),
                1,
                "the hook holds the last reference"
            );
            let _ = r.drive(Some(Duration::ZERO));
            drop(r);
            hook_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }));
    for i in 0..8u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), i * 4096).user_data(i))
            .unwrap();
    }
    ring.submit().unwrap();
    *holder.lock().unwrap() = Some(ring);
    released.store(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(20);
    while dropped.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the ring was dropped on a worker and the drop returned"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        8,
        "every request handed back once before the ring went"
    );
    for r in seen.iter() {
        assert!(
            matches!(r, Ok(4096) | Err(125)),
            "a request either ran or was cancelled by the drop: {r:?}"
        );
    }
}
