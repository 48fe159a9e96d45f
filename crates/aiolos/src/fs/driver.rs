//! The [`Driver`]: one [`Ring`] shared by every [`File`](super::File) opened on it, and
//! whatever reaps it: a completion thread, a task on a tokio runtime watching the ring's
//! notification descriptor, or the program itself ([`Driver::run_once`]).
//!
//! The ring is the only completion table: each request's slot keeps its buffer and the
//! waker of the task that awaits it, and whoever reaps hands each completion to exactly
//! that task (see `shared.rs` for the batching of submissions).
//!
//! A future dropped while its request is in flight detaches the request and asks the ring
//! to cancel it. The ring keeps owning the buffer until the kernel is done, then frees it.

use super::shared::{Kick, Shared};
use super::File;
use crate::engine::EngineKind;
use crate::error::Error;
use crate::eventfd;
use crate::ring::Ring;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// The completion thread of [`DriverBuilder::build`].
fn completion_thread(shared: Arc<Shared>) {
    loop {
        match shared.turn(None) {
            Ok(_) => {}
            Err(Error::Closed) => return,
            Err(_) => {
                // An engine failure: what completed was handed out; don't spin.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

enum Mode {
    Thread(Option<JoinHandle<()>>),
    Manual,
    #[cfg(feature = "tokio")]
    Tokio(Vec<::tokio::task::JoinHandle<()>>),
}

struct Handle {
    /// One ring with its reaper per shard; a request goes to the shard of the thread that
    /// makes it (see [`Driver::shared`]). Thread and manual drivers have one shard.
    shards: Box<[Arc<Shared>]>,
    /// Tells this driver apart in the threads' shard caches.
    id: u64,
    /// The next shard to give a thread that has none yet.
    next_shard: AtomicUsize,
    mode: Mode,
}

static DRIVER_IDS: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The shard this thread uses on the driver it used last: (driver id, shard).
    static SHARD: std::cell::Cell<(u64, usize)> = const { std::cell::Cell::new((0, 0)) };
}

impl Handle {
    fn new(shards: Vec<Arc<Shared>>, mode: Mode) -> Handle {
        Handle {
            shards: shards.into_boxed_slice(),
            id: DRIVER_IDS.fetch_add(1, Ordering::Relaxed),
            next_shard: AtomicUsize::new(0),
            mode,
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        for s in self.shards.iter() {
            s.shut_down();
        }
        match &mut self.mode {
            Mode::Thread(join) => {
                if let Some(j) = join.take() {
                    // A waker that runs its task inline could drop the last handle on the
                    // completion thread itself, which then exits on its own.
                    if j.thread().id() != std::thread::current().id() {
                        let _ = j.join();
                    }
                }
            }
            Mode::Manual => {}
            #[cfg(feature = "tokio")]
            Mode::Tokio(tasks) => {
                for t in tasks {
                    t.abort();
                }
            }
        }
    }
}

/// Reaps a ring's completions and wakes the futures waiting for them.
///
/// Every [`File`](super::File) belongs to a driver; files and their futures on one driver
/// share one [`Ring`]. Three ways to run one:
///
/// - [`Driver::new`] (or [`DriverBuilder::build`]): a completion thread reaps, so futures
///   complete under any executor, or under none with [`Driver::block_on`].
/// - `DriverBuilder::build_tokio` (feature `tokio`): a task on the current tokio runtime
///   watches the ring's notification descriptor; no extra thread.
/// - [`DriverBuilder::build_manual`]: nothing runs by itself; the program calls
///   [`Driver::run_once`] (or [`Driver::block_on`]).
///
/// Cloning is cheap (a reference count). When the last clone and the last file are
/// dropped, the ring is closed: requests that the engine cannot cancel are waited for, so
/// no buffer is freed while the kernel may still use it.
///
/// # Examples
/// ```
/// use aiolos::fs::{Driver, File};
///
/// let driver = Driver::new()?;
/// let path = tempfile::NamedTempFile::new()?.into_temp_path();
/// let file = File::options().read(true).write(true).driver(&driver).open_blocking(&path)?;
/// let aiolos::BufResult(n, _) = driver.block_on(file.write_at(b"hello".to_vec(), 0));
/// assert_eq!(n?, 5);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Driver {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.handle.mode {
            Mode::Thread(_) => "thread",
            Mode::Manual => "manual",
            #[cfg(feature = "tokio")]
            Mode::Tokio(_) => "tokio",
        };
        f.debug_struct("Driver")
            .field("engine", &self.engine_kind())
            .field("mode", &mode)
            .finish()
    }
}

/// Configures a [`Driver`].
#[derive(Clone, Debug)]
pub struct DriverBuilder {
    entries: u32,
    engine: Option<EngineKind>,
    threads: Option<usize>,
    shards: Option<usize>,
}

impl Default for DriverBuilder {
    fn default() -> DriverBuilder {
        DriverBuilder {
            entries: 1024,
            engine: None,
            threads: None,
            shards: None,
        }
    }
}

impl DriverBuilder {
    /// How many requests may be in flight at once (default 1024). Futures beyond that wait
    /// for a free slot.
    pub fn entries(mut self, entries: u32) -> DriverBuilder {
        self.entries = entries;
        self
    }

    /// Which engine to use. By default the engine is resolved as for every ring
    /// ([`EngineKind::resolve`]): `AIOLOS_ENGINE` if set, else io_uring where it can run
    /// here, else the thread pool (never kernel AIO, which blocks on buffered files).
    pub fn engine(mut self, kind: EngineKind) -> DriverBuilder {
        self.engine = Some(kind);
        self
    }

    /// How many I/O threads the thread-pool engine runs (see
    /// [`RingBuilder::threads`](crate::RingBuilder::threads)). Other engines ignore it.
    pub fn threads(mut self, threads: usize) -> DriverBuilder {
        self.threads = Some(threads);
        self
    }

    /// How many rings a tokio driver runs, each with its own reaper task: by default one
    /// per core (at most 8), so that the workers of a multi-thread runtime submit and
    /// complete their requests on rings of their own, in parallel. Each thread uses one
    /// shard (assigned on its first request). Thread and manual drivers have one ring.
    pub fn shards(mut self, shards: usize) -> DriverBuilder {
        self.shards = Some(shards.clamp(1, 64));
        self
    }

    /// The ring and hand-off of one shard; `pool_direct` for the drivers whose reaper runs
    /// by itself (see `shared.rs`).
    fn shared(&self, kick: Kick, pool_direct: bool) -> io::Result<Arc<Shared>> {
        let mut builder = Ring::builder().entries(self.entries);
        if let Some(kind) = self.engine {
            builder = builder.engine(kind);
        }
        if let Some(n) = self.threads {
            builder = builder.threads(n);
        }
        let ring = builder.build_with_payload()?;
        Ok(Shared::new(ring, kick, pool_direct))
    }

    fn shared_with_fd(&self, pool_direct: bool) -> io::Result<Arc<Shared>> {
        let fd = eventfd::new().map_err(|e| Error::Sys("eventfd", e))?;
        self.shared(Kick::Fd { fd }, pool_direct)
    }

    /// A driver with a completion thread, usable from any executor.
    ///
    /// # Errors
    /// When no ring can be created (see [`RingBuilder::build`](crate::RingBuilder::build))
    /// or the thread cannot be spawned.
    pub fn build(self) -> io::Result<Driver> {
        DriverBuilder::thread_on(self.shared_with_fd(true)?)
    }

    /// A completion-thread driver on a ring made elsewhere (`build`, and the blocking
    /// `DirectFile::with_ring`).
    fn thread_on(shared: Arc<Shared>) -> io::Result<Driver> {
        let for_thread = Arc::clone(&shared);
        let join = std::thread::Builder::new()
            .name("aiolos-fs".into())
            .spawn(move || completion_thread(for_thread))?;
        Ok(Driver {
            handle: Arc::new(Handle::new(vec![shared], Mode::Thread(Some(join)))),
        })
    }

    /// A driver that reaps only when the program calls [`Driver::run_once`] or
    /// [`Driver::block_on`].
    ///
    /// # Errors
    /// When no ring can be created.
    pub fn build_manual(self) -> io::Result<Driver> {
        Ok(Driver {
            handle: Arc::new(Handle::new(vec![self.shared_with_fd(false)?], Mode::Manual)),
        })
    }

    /// A driver run by a task on the current tokio runtime: the ring's notification
    /// descriptor is watched with `AsyncFd`, so no thread is added. All worker threads of
    /// a multi-thread runtime share the one ring. The driver stops (its ring is closed)
    /// when the runtime shuts down.
    ///
    /// # Errors
    /// When called outside a tokio runtime, or no ring can be created.
    #[cfg(feature = "tokio")]
    pub fn build_tokio(self) -> io::Result<Driver> {
        let n = self
            .shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));
        // On a current-thread runtime a completion handed out by a pool worker wakes the
        // runtime's one thread each time, where the reaper task hands out a whole batch
        // on it: measured, the worker's hand-out cost more CPU per request there.
        let pool_direct = ::tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() != ::tokio::runtime::RuntimeFlavor::CurrentThread);
        let mut shards = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let shared = self.shared(Kick::Tokio(::tokio::sync::Notify::new()), pool_direct)?;
            tasks.push(super::tokio::spawn_reaper(Arc::clone(&shared))?);
            shards.push(shared);
        }
        Ok(Driver {
            handle: Arc::new(Handle::new(shards, Mode::Tokio(tasks))),
        })
    }
}

struct ThreadWaker {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

static GLOBAL: OnceLock<Driver> = OnceLock::new();

impl Driver {
    /// A driver with default settings and a completion thread.
    ///
    /// # Errors
    /// As [`DriverBuilder::build`].
    pub fn new() -> io::Result<Driver> {
        DriverBuilder::default().build()
    }

    /// A builder.
    pub fn builder() -> DriverBuilder {
        DriverBuilder::default()
    }

    /// The process-wide driver (with a completion thread), which
    /// [`Driver::default_driver`] returns. Created on first use; never closed.
    ///
    /// # Errors
    /// As [`DriverBuilder::build`], on first use.
    pub fn global() -> io::Result<Driver> {
        if let Some(d) = GLOBAL.get() {
            return Ok(d.clone());
        }
        let d = Driver::new()?;
        Ok(GLOBAL.get_or_init(|| d).clone())
    }

    /// The driver that [`File::open`](super::File::open), [`OpenOptions`](super::OpenOptions)
    /// without [`driver`](super::OpenOptions::driver), and the free functions
    /// ([`read`](super::read), [`metadata`](super::metadata), ...) use, so that code
    /// written for `tokio::fs` works unchanged:
    ///
    /// - inside a tokio runtime with I/O enabled (feature `tokio`): that runtime's own
    ///   tokio driver (`DriverBuilder::build_tokio`, one ring per core), made on first
    ///   use and kept until the runtime shuts down. Its reapers are tasks of the runtime,
    ///   so completions wake tasks from the runtime's own workers, with no thread of
    ///   aiolos's in between. A file opened there fails (`BrokenPipe`) once that runtime
    ///   is gone, as work given to a runtime's blocking pool does;
    /// - anywhere else: the [global driver](Driver::global), whose completion thread serves
    ///   any executor, or none.
    ///
    /// # Errors
    /// As [`Driver::global`].
    pub fn default_driver() -> io::Result<Driver> {
        #[cfg(feature = "tokio")]
        if let Some(d) = super::tokio::runtime_driver() {
            return Ok(d);
        }
        Driver::global()
    }

    /// Whether the driver has shut down (its runtime is gone, or it was dropped).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn is_closed(&self) -> bool {
        self.handle.shards.iter().any(|s| s.is_closed())
    }

    /// A tokio-driven driver with default settings (see [`DriverBuilder::build_tokio`]).
    ///
    /// # Errors
    /// As [`DriverBuilder::build_tokio`].
    #[cfg(feature = "tokio")]
    pub fn tokio() -> io::Result<Driver> {
        DriverBuilder::default().build_tokio()
    }

    /// A completion-thread driver on `ring`.
    pub(crate) fn on_ring(ring: Ring<super::erased::ErasedBuf, ()>) -> io::Result<Driver> {
        let fd = eventfd::new().map_err(|e| Error::Sys("eventfd", e))?;
        DriverBuilder::thread_on(Shared::new(ring, Kick::Fd { fd }, true))
    }

    /// The shard of the calling thread: its ring, reaper and hand-off.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        let h = &*self.handle;
        if h.shards.len() == 1 {
            return &h.shards[0];
        }
        let i = SHARD.with(|c| {
            let (id, i) = c.get();
            if id == h.id {
                return i;
            }
            let i = h.next_shard.fetch_add(1, Ordering::Relaxed) % h.shards.len();
            c.set((h.id, i));
            i
        });
        &h.shards[i]
    }

    fn first(&self) -> &Shared {
        &self.handle.shards[0]
    }

    /// The engine under this driver's rings.
    pub fn engine_kind(&self) -> EngineKind {
        self.first().ring.engine_kind()
    }

    /// Requests accepted by the rings and not yet handed to their futures.
    pub fn outstanding(&self) -> usize {
        self.handle
            .shards
            .iter()
            .map(|s| s.ring.outstanding())
            .sum()
    }

    /// How the engine was chosen, and why it is this one.
    pub fn engine_choice(&self) -> &crate::EngineChoice {
        self.first().ring.engine_choice()
    }

    /// How many rings the driver runs (see [`DriverBuilder::shards`]).
    pub fn shards(&self) -> usize {
        self.handle.shards.len()
    }

    /// Requests the engine is still working on (a forgotten future's request stops being
    /// in flight when the kernel is done with it, but stays outstanding: its completion,
    /// and buffer, are never handed out).
    pub fn in_flight(&self) -> usize {
        self.handle.shards.iter().map(|s| s.ring.in_flight()).sum()
    }

    /// Opens a file on this driver for reading (as [`File::open`](super::File::open)).
    ///
    /// # Errors
    /// As [`std::fs::File::open`].
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        File::options().read(true).driver(self).open(path).await
    }

    /// Submits what futures have queued, then waits up to `timeout` (forever with `None`)
    /// for at least one completion, hands every completion that is ready to its future and
    /// returns how many there were. Returns 0 at once when nothing is outstanding.
    ///
    /// This is how a [manual](DriverBuilder::build_manual) driver makes progress; on the
    /// other kinds it is allowed but not needed.
    ///
    /// # Errors
    /// When the engine fails, or the driver has been shut down.
    pub fn run_once(&self, timeout: Option<Duration>) -> io::Result<usize> {
        if let [shared] = &*self.handle.shards {
            return Self::run_shard(shared, timeout);
        }
        // Several shards (a tokio driver, whose reapers also run on their own): collect
        // from each without blocking, then wait on the first if nothing was ready.
        let mut n = 0;
        for s in self.handle.shards.iter() {
            if s.ring.outstanding() > 0 {
                n += s.submit_and_reap()?;
            }
        }
        if n > 0 || timeout == Some(Duration::ZERO) {
            return Ok(n);
        }
        match self.handle.shards.iter().find(|s| s.ring.outstanding() > 0) {
            Some(s) => Ok(s.ring.drive(timeout)?),
            None => Ok(0),
        }
    }

    fn run_shard(shared: &Shared, timeout: Option<Duration>) -> io::Result<usize> {
        if shared.ring.outstanding() == 0 {
            return Ok(0);
        }
        if matches!(shared.kick, Kick::Fd { .. }) {
            return Ok(shared.turn(timeout)?);
        }
        // The tokio reaper sleeps on its own; reap in the ring like any other thread.
        let n = shared.submit_and_reap()?;
        if n > 0 || timeout == Some(Duration::ZERO) {
            return Ok(n);
        }
        Ok(shared.ring.drive(timeout)?)
    }

    /// Runs a future to completion on the calling thread. On a manual driver this thread
    /// also reaps completions; on the others it sleeps until woken.
    ///
    /// # Examples
    /// ```
    /// use aiolos::fs::Driver;
    ///
    /// let driver = Driver::builder().build_manual()?;
    /// let file = driver.block_on(driver.open("/dev/zero"))?;
    /// let aiolos::BufResult(n, buf) = driver.block_on(file.read_at(vec![1u8; 8], 0));
    /// assert_eq!((n?, buf), (8, vec![0u8; 8]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let flag = Arc::new(ThreadWaker {
            woken: AtomicBool::new(false),
            thread: std::thread::current(),
        });
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        let manual = matches!(self.handle.mode, Mode::Manual);
        loop {
            flag.woken.store(false, Ordering::Release);
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            while !flag.woken.load(Ordering::Acquire) {
                if manual && self.outstanding() > 0 {
                    let _ = self.run_once(Some(Duration::from_millis(100)));
                } else {
                    std::thread::park_timeout(Duration::from_millis(100));
                }
            }
        }
    }
}

/// Files and drivers are shared between tasks and threads.
#[allow(dead_code)]
fn files_and_drivers_are_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Driver>();
    is::<File>();
}
