//! The [`Driver`]: one [`Ring`] shared by every [`File`](super::File) opened on it, and the
//! table that connects each request's completion to the future waiting for it.
//!
//! Requests carry a key into the waker table as their `user_data`. Whoever reaps the ring
//! (a completion thread, a tokio task watching the ring's notification descriptor, or the
//! program through [`Driver::run_once`]) takes the table lock once per batch, stores each
//! completion in its entry and wakes the entry's waker after unlocking. Futures take the
//! same lock when they register and when they collect, so there is no lock per request.
//!
//! # Batched submission
//!
//! A future's first poll only pushes its request onto the ring's queue and marks a
//! submission as pending; it makes no system call. The reaper submits everything queued
//! in one call per pass, just before it collects completions, so a burst of futures that
//! start together (typically those the previous pass woke) costs one submission. The first
//! push after a pass wakes the reaper if it sleeps: the completion-thread and manual
//! reapers sleep in `poll(2)` on the ring's notification descriptor and a wake eventfd
//! (written only while a reaper sleeps there); the tokio reaper waits on the descriptor
//! and a `tokio::sync::Notify`. A push either sees the reaper asleep and wakes it, or is
//! seen by the reaper before it sleeps (both sides use sequentially consistent flags), so
//! no request stays queued while its reaper sleeps.
//!
//! A future dropped while its request is in flight marks its entry abandoned and asks the
//! ring to cancel the request. The ring keeps owning the buffer until the kernel is done;
//! the completion then comes back through the reaper like any other, which frees the entry
//! and the buffer. (The ring's `detach` would free it inside the ring instead; routing it
//! through the reaper keeps one path that also wakes tasks waiting for a free slot.)

use super::erased::ErasedBuf;
use super::handshake::{self, Handshake, Reaper};
use super::File;
use crate::engine::EngineKind;
use crate::error::Error;
use crate::eventfd;
use crate::ring::{Completion, Ring};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// How many completions one reaping pass takes at most.
const BATCH: usize = 256;

/// Names an entry of the waker table; travels as a request's `user_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    pub(crate) fn user_data(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }
    fn from_user_data(v: u64) -> Key {
        Key {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

enum EntryState {
    Free,
    /// Registered; the request may or may not have been pushed yet.
    Waiting(Waker),
    /// The completion arrived and waits for its future.
    Done(Completion<ErasedBuf>),
    /// The future is gone; the completion is dropped when it arrives.
    Abandoned,
}

struct Entry {
    generation: u32,
    state: EntryState,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Tasks waiting for a free slot in the ring.
    space: Vec<Waker>,
}

impl Table {
    fn entry(&mut self, key: Key) -> Option<&mut Entry> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|e| e.generation == key.generation)
    }

    fn release(&mut self, key: Key) {
        if let Some(e) = self.entry(key) {
            e.state = EntryState::Free;
            e.generation = e.generation.wrapping_add(1);
            self.free.push(key.index);
        }
    }
}

/// What a dropped future left behind.
pub(crate) enum Abandoned {
    /// The completion had already arrived (dropped by the caller, outside the lock).
    Finished(Completion<ErasedBuf>),
    /// Still in flight: the reaper drops the completion when it arrives.
    InFlight,
}

/// How a push wakes a sleeping reaper.
pub(crate) enum Kick {
    /// The reaper sleeps in `poll(2)` on the ring's notification descriptor and `fd`.
    Fd {
        /// Written by the first push after a pass while the reaper sleeps.
        fd: OwnedFd,
    },
    /// The tokio reaper task waits on this as well as on the notification descriptor.
    #[cfg(feature = "tokio")]
    Tokio(::tokio::sync::Notify),
}

/// The state every handle, future and reaper shares.
pub(crate) struct Shared {
    pub(crate) ring: Ring<ErasedBuf>,
    table: Mutex<Table>,
    /// Pushers and the sleeping reaper (the completion thread, and any thread in
    /// [`Driver::run_once`]) meet here.
    handshake: Handshake,
    pub(crate) kick: Kick,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Every mutation of the table completes before anything that can panic runs.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates an entry for a request about to be pushed.
    pub(crate) fn register(&self, waker: &Waker) -> Key {
        let mut t = self.lock();
        let index = match t.free.pop() {
            Some(i) => i,
            None => {
                t.entries.push(Entry {
                    generation: 0,
                    state: EntryState::Free,
                });
                (t.entries.len() - 1) as u32
            }
        };
        let e = &mut t.entries[index as usize];
        e.state = EntryState::Waiting(waker.clone());
        Key {
            index,
            generation: e.generation,
        }
    }

    /// Frees the entry of a request that was never accepted by the ring.
    pub(crate) fn unregister(&self, key: Key) {
        self.lock().release(key);
    }

    /// Takes the completion if it has arrived, else records the current waker.
    pub(crate) fn poll_key(&self, key: Key, cx: &Context<'_>) -> Poll<Completion<ErasedBuf>> {
        let mut t = self.lock();
        let Some(e) = t.entry(key) else {
            unreachable!("a pending request's entry lives until its future takes it")
        };
        match &mut e.state {
            EntryState::Waiting(w) => {
                if !w.will_wake(cx.waker()) {
                    *w = cx.waker().clone();
                }
                Poll::Pending
            }
            EntryState::Done(_) => {
                let EntryState::Done(c) = std::mem::replace(&mut e.state, EntryState::Free) else {
                    unreachable!()
                };
                t.release(key);
                Poll::Ready(c)
            }
            EntryState::Free | EntryState::Abandoned => {
                unreachable!("only the future abandons or frees its entry")
            }
        }
    }

    /// The future of an accepted request is being dropped.
    pub(crate) fn abandon(&self, key: Key) -> Abandoned {
        let mut t = self.lock();
        let Some(e) = t.entry(key) else {
            return Abandoned::InFlight;
        };
        match std::mem::replace(&mut e.state, EntryState::Abandoned) {
            EntryState::Done(c) => {
                t.release(key);
                Abandoned::Finished(c)
            }
            _ => Abandoned::InFlight,
        }
    }

    /// Wakes `waker` the next time completions are reaped (a slot may then be free).
    pub(crate) fn wait_for_space(&self, waker: &Waker) {
        self.lock().space.push(waker.clone());
    }

    /// Hands completions to their futures (draining `batch`) and wakes the tasks waiting
    /// for a free slot. Buffers of abandoned requests are freed after the lock is released.
    pub(crate) fn dispatch(&self, batch: &mut Vec<Completion<ErasedBuf>>) {
        let mut wake = Vec::new();
        let mut trash = Vec::new();
        {
            let mut t = self.lock();
            for c in batch.drain(..) {
                let key = Key::from_user_data(c.user_data);
                let Some(e) = t.entry(key) else {
                    trash.push(c);
                    continue;
                };
                match std::mem::replace(&mut e.state, EntryState::Free) {
                    EntryState::Waiting(w) => {
                        e.state = EntryState::Done(c);
                        wake.push(w);
                    }
                    EntryState::Abandoned => {
                        t.release(key);
                        trash.push(c);
                    }
                    other => {
                        e.state = other;
                        trash.push(c);
                    }
                }
            }
            wake.append(&mut t.space);
        }
        for w in wake {
            w.wake();
        }
        drop(trash);
    }

    /// After a push: marks a submission as pending and, if the push is the first since the
    /// reaper's last pass and the reaper sleeps, wakes it.
    pub(crate) fn pushed(&self) {
        match &self.kick {
            Kick::Fd { fd } => self.handshake.after_push(|| {
                let _ = eventfd::signal(fd.as_fd());
            }),
            #[cfg(feature = "tokio")]
            Kick::Tokio(notify) => {
                // Only the first push of a batch needs to: later ones find it notified.
                if self.handshake.pushed() {
                    notify.notify_one();
                }
            }
        }
    }

    /// Wakes a reaper sleeping in [`Shared::turn`] (or the tokio reaper) unconditionally.
    fn kick(&self) {
        match &self.kick {
            Kick::Fd { fd, .. } => {
                let _ = eventfd::signal(fd.as_fd());
            }
            #[cfg(feature = "tokio")]
            Kick::Tokio(notify) => notify.notify_one(),
        }
    }

    /// Submits everything queued (one system call for the whole batch) and hands out the
    /// completions that are ready, without blocking. Returns how many were handed out.
    ///
    /// The ring's zero-timeout wait does both: it submits the queue first, then collects
    /// (from shared memory where the engine has it, so without a system call).
    pub(crate) fn submit_and_reap(
        &self,
        batch: &mut Vec<Completion<ErasedBuf>>,
    ) -> Result<usize, Error> {
        self.handshake.pass_begins();
        let mut total = 0;
        loop {
            let r = self.ring.wait_into(batch, 0, BATCH, Some(Duration::ZERO));
            let n = batch.len();
            self.dispatch(batch);
            total += n;
            match r {
                Ok(_) if n == BATCH => continue,
                Ok(_) => return Ok(total),
                Err(e) => return Err(e),
            }
        }
    }

    /// Collects whatever is ready without blocking and hands it out; returns the count.
    /// Clears the notification descriptor first: a completion that lands from here on
    /// signals it again.
    pub(crate) fn reap_ready(
        &self,
        batch: &mut Vec<Completion<ErasedBuf>>,
    ) -> Result<usize, Error> {
        let _ = eventfd::drain(self.ring.notify_fd());
        self.submit_and_reap(batch)
    }

    /// One pass of the completion thread or of [`Driver::run_once`]: submits what futures
    /// queued and hands out what completed; when nothing did, sleeps until a completion,
    /// a push or `timeout` (forever with `None`), then does the same once more.
    fn turn(
        &self,
        batch: &mut Vec<Completion<ErasedBuf>>,
        timeout: Option<Duration>,
    ) -> Result<usize, Error> {
        // Without the tokio feature `Kick` has one variant and this always matches.
        #[allow(irrefutable_let_patterns)]
        let Kick::Fd { fd } = &self.kick
        else {
            return self.submit_and_reap(batch);
        };
        handshake::turn(&FdReaper { shared: self, fd }, batch, timeout)
    }
    /// Closes the ring (waiting for what is in flight) and hands out what is left.
    pub(crate) fn shut_down(&self) {
        let _ = self.ring.close();
        let mut batch = Vec::new();
        let _ = self.reap_ready(&mut batch);
        // Anyone still waiting for space gets Closed from its next push.
        self.dispatch(&mut batch);
        // A reaper asleep wakes, finds the ring closed and stops.
        self.kick();
    }
}

/// The driver's side of [`handshake::turn`]: a reaper that sleeps in `poll(2)` on the
/// ring's notification descriptor and the wake eventfd `fd`.
struct FdReaper<'a> {
    shared: &'a Shared,
    fd: &'a OwnedFd,
}

impl Reaper for FdReaper<'_> {
    type Batch = Vec<Completion<ErasedBuf>>;

    fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }

    fn submit_and_reap(&self, batch: &mut Self::Batch) -> Result<usize, Error> {
        self.shared.submit_and_reap(batch)
    }

    fn reap_ready(&self, batch: &mut Self::Batch) -> Result<usize, Error> {
        self.shared.reap_ready(batch)
    }

    fn sleep(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let ready =
            eventfd::wait_readable([self.shared.ring.notify_fd(), self.fd.as_fd()], timeout)
                .map_err(|e| Error::Sys("poll", e))?;
        if ready[1] {
            let _ = eventfd::drain(self.fd.as_fd());
        }
        Ok(())
    }
}

/// The completion thread of [`DriverBuilder::build`].
fn completion_thread(shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match shared.turn(&mut batch, None) {
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
    Tokio(::tokio::task::JoinHandle<()>),
}

struct Handle {
    shared: Arc<Shared>,
    mode: Mode,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shut_down();
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
            Mode::Tokio(task) => task.abort(),
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
/// let file = File::options().read(true).write(true).driver(&driver).open(&path)?;
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
}

impl Default for DriverBuilder {
    fn default() -> DriverBuilder {
        DriverBuilder {
            entries: 1024,
            engine: None,
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

    /// Which engine to use. By default the `AIOLOS_ENGINE` environment variable decides,
    /// else the first of [`EngineKind::ALL`] that runs here.
    pub fn engine(mut self, kind: EngineKind) -> DriverBuilder {
        self.engine = Some(kind);
        self
    }

    fn ring(&self) -> io::Result<Ring<ErasedBuf>> {
        let from_env = std::env::var("AIOLOS_ENGINE")
            .ok()
            .and_then(|s| s.parse::<EngineKind>().ok());
        let choices: Vec<EngineKind> = match self.engine.or(from_env) {
            Some(k) => vec![k],
            None => EngineKind::ALL.to_vec(),
        };
        let mut last = None;
        for kind in choices {
            match Ring::builder()
                .entries(self.entries)
                .engine(kind)
                .build::<ErasedBuf>()
            {
                Ok(r) => return Ok(r),
                Err(e @ Error::EngineUnavailable { .. }) => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.map_or_else(|| io::Error::other("no engine to try"), io::Error::from))
    }

    fn shared(&self, kick: Kick) -> io::Result<Arc<Shared>> {
        Ok(Arc::new(Shared {
            ring: self.ring()?,
            table: Mutex::new(Table::default()),
            handshake: Handshake::default(),
            kick,
        }))
    }

    fn shared_with_fd(&self) -> io::Result<Arc<Shared>> {
        let fd = eventfd::new().map_err(|e| Error::Sys("eventfd", e))?;
        self.shared(Kick::Fd { fd })
    }

    /// A driver with a completion thread, usable from any executor.
    ///
    /// # Errors
    /// When no ring can be created (see [`RingBuilder::build`](crate::RingBuilder::build))
    /// or the thread cannot be spawned.
    pub fn build(self) -> io::Result<Driver> {
        let shared = self.shared_with_fd()?;
        let for_thread = Arc::clone(&shared);
        let join = std::thread::Builder::new()
            .name("aiolos-fs".into())
            .spawn(move || completion_thread(for_thread))?;
        Ok(Driver {
            handle: Arc::new(Handle {
                shared,
                mode: Mode::Thread(Some(join)),
            }),
        })
    }

    /// A driver that reaps only when the program calls [`Driver::run_once`] or
    /// [`Driver::block_on`].
    ///
    /// # Errors
    /// When no ring can be created.
    pub fn build_manual(self) -> io::Result<Driver> {
        Ok(Driver {
            handle: Arc::new(Handle {
                shared: self.shared_with_fd()?,
                mode: Mode::Manual,
            }),
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
        let shared = self.shared(Kick::Tokio(::tokio::sync::Notify::new()))?;
        let task = super::tokio::spawn_reaper(Arc::clone(&shared))?;
        Ok(Driver {
            handle: Arc::new(Handle {
                shared,
                mode: Mode::Tokio(task),
            }),
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

    /// The process-wide driver (with a completion thread) used by
    /// [`File::open`](super::File::open), [`File::create`](super::File::create) and the
    /// whole-file helpers. Created on first use; never closed.
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

    /// A tokio-driven driver with default settings (see [`DriverBuilder::build_tokio`]).
    ///
    /// # Errors
    /// As [`DriverBuilder::build_tokio`].
    #[cfg(feature = "tokio")]
    pub fn tokio() -> io::Result<Driver> {
        DriverBuilder::default().build_tokio()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// The engine under this driver's ring.
    pub fn engine_kind(&self) -> EngineKind {
        self.handle.shared.ring.engine_kind()
    }

    /// Requests accepted by the ring and not yet handed to their futures.
    pub fn outstanding(&self) -> usize {
        self.handle.shared.ring.outstanding()
    }

    /// Opens a file on this driver for reading (as [`File::open`](super::File::open)).
    ///
    /// # Errors
    /// As [`std::fs::File::open`].
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        File::options().read(true).driver(self).open(path)
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
        let shared = &self.handle.shared;
        let mut batch = Vec::with_capacity(BATCH);
        if shared.ring.outstanding() == 0 {
            return Ok(0);
        }
        if matches!(shared.kick, Kick::Fd { .. }) {
            return Ok(shared.turn(&mut batch, timeout)?);
        }
        // The tokio reaper sleeps on its own; wait in the ring like any other thread.
        let n = shared.submit_and_reap(&mut batch)?;
        if n > 0 || timeout == Some(Duration::ZERO) {
            return Ok(n);
        }
        let r = shared.ring.wait_into(&mut batch, 1, BATCH, timeout);
        let n = batch.len();
        shared.dispatch(&mut batch);
        match r {
            Ok(_) | Err(Error::WouldWaitForever { .. }) => Ok(n),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs a future to completion on the calling thread. On a manual driver this thread
    /// also reaps completions; on the others it sleeps until woken.
    ///
    /// # Examples
    /// ```
    /// use aiolos::fs::Driver;
    ///
    /// let driver = Driver::builder().build_manual()?;
    /// let file = driver.open("/dev/zero")?;
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
