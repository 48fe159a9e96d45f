//! Helpers for the `aiolos::fs` tests: drivers of each kind on a chosen engine, an aligned
//! buffer for O_DIRECT, a tiny random-number generator.

use aiolos::fs::{Driver, DriverBuilder};
use aiolos::{EngineKind, IoBuf, IoBufMut};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;

/// How futures are driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A completion thread reaps; the test thread blocks in `Driver::block_on`.
    Thread,
    /// Nothing reaps until the test thread calls `Driver::block_on`.
    Manual,
    /// A tokio current-thread runtime.
    TokioCurrentThread,
    /// A tokio multi-thread runtime with 2 workers.
    TokioMultiThread,
}

pub const MODES: [Mode; 4] = [
    Mode::Thread,
    Mode::Manual,
    Mode::TokioCurrentThread,
    Mode::TokioMultiThread,
];

/// Builds a driver, or `None` with a printed skip when the engine cannot run here.
pub fn driver(
    kind: EngineKind,
    entries: u32,
    build: impl FnOnce(DriverBuilder) -> io::Result<Driver>,
) -> Option<Driver> {
    match build(Driver::builder().engine(kind).entries(entries)) {
        Ok(d) => Some(d),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            eprintln!("SKIP: engine {kind} unavailable: {e}");
            None
        }
        Err(e) => panic!("creating a {kind} driver failed: {e}"),
    }
}

/// Runs `body(driver)` to completion in `mode` on engine `kind`; false when skipped.
pub fn run<F, Fut>(kind: EngineKind, mode: Mode, entries: u32, body: F) -> bool
where
    F: FnOnce(Driver) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    match mode {
        Mode::Thread | Mode::Manual => {
            let Some(d) = driver(kind, entries, |b| {
                if mode == Mode::Thread {
                    b.build()
                } else {
                    b.build_manual()
                }
            }) else {
                return false;
            };
            d.block_on(body(d.clone()));
            true
        }
        Mode::TokioCurrentThread | Mode::TokioMultiThread => {
            let rt = if mode == Mode::TokioCurrentThread {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
            }
            .expect("tokio runtime");
            let Some(d) = rt.block_on(async { driver(kind, entries, |b| b.build_tokio()) }) else {
                return false;
            };
            let fut = body(d.clone());
            rt.block_on(async move { tokio::spawn(fut).await.expect("test task panicked") });
            true
        }
    }
}

/// A zeroed heap buffer aligned for O_DIRECT.
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
    init: usize,
}

// SAFETY: the buffer owns its allocation exclusively.
unsafe impl Send for AlignedBuf {}

pub const DIRECT_ALIGN: usize = 4096;

impl AlignedBuf {
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len.max(1), DIRECT_ALIGN).expect("layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        AlignedBuf { ptr, len, init: 0 }
    }
    /// A full buffer holding `data`.
    pub fn from_slice(data: &[u8]) -> AlignedBuf {
        let mut b = AlignedBuf::new(data.len());
        b.as_mut_slice().copy_from_slice(data);
        b.init = data.len();
        b
    }
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is a live zeroed allocation of len bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, borrowed mutably through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
    pub fn initialised(&self) -> usize {
        self.init
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len.max(1), DIRECT_ALIGN).expect("layout");
        // SAFETY: allocated in new() with this layout.
        unsafe { dealloc(self.ptr, layout) }
    }
}

// SAFETY: the allocation does not move with the value; init <= len bytes are initialised
// (all len bytes are, being zeroed).
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn bytes_init(&self) -> usize {
        self.init
    }
}

// SAFETY: all len bytes of the allocation are writable.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
    unsafe fn set_init(&mut self, n: usize) {
        self.init = self.init.max(n.min(self.len));
    }
}

/// xorshift64*: reproducible pseudo-random numbers without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An aligned buffer that counts its drops, to check that a buffer is freed exactly once.
pub struct CountedBuf {
    pub vec: AlignedBuf,
    drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountedBuf {
    pub fn new(
        capacity: usize,
        drops: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> CountedBuf {
        CountedBuf {
            vec: AlignedBuf::new(capacity),
            drops: drops.clone(),
        }
    }
}

impl Drop for CountedBuf {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

// SAFETY: delegates to the Vec, whose heap memory does not move with the value.
unsafe impl IoBuf for CountedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.vec.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.vec.bytes_init()
    }
}

// SAFETY: as above.
unsafe impl IoBufMut for CountedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.vec.stable_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.vec.bytes_total()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: forwarded contract.
        unsafe { self.vec.set_init(n) }
    }
}

/// Polls a future once with a waker that does nothing (to submit its request).
pub fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx).is_ready()
}

/// Waits until the kernel is done with every request of the driver (or panics after
/// `limit`); completions nobody takes (forgotten futures) stay outstanding.
pub fn drain_in_flight(driver: &Driver, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while driver.in_flight() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} requests still in flight after {limit:?}",
            driver.in_flight()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Waits until the driver has handed out every completion (or panics after `limit`).
pub fn drain(driver: &Driver, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while driver.outstanding() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} requests still outstanding after {limit:?}",
            driver.outstanding()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Polls every future until all are done (a minimal join for executors without one).
pub struct JoinAll<F: std::future::Future + ?Sized>(pub Vec<Option<std::pin::Pin<Box<F>>>>);

impl<F: std::future::Future + ?Sized> std::future::Future for JoinAll<F> {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut pending = false;
        for slot in self.0.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    }
}

/// A patterned file of `len` bytes named `data` in a fresh scratch directory.
pub fn data_file(len: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = super::scratch_dir();
    let path = dir.path().join("data");
    super::patterned_file(&path, len);
    (dir, path)
}

/// Opens `path` for reading on `driver` (blocking).
pub fn open_read(driver: &Driver, path: &std::path::Path) -> aiolos::fs::File {
    aiolos::fs::File::options()
        .read(true)
        .driver(driver)
        .open_blocking(path)
        .expect("open")
}
