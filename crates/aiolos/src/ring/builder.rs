//! [`RingBuilder`]: the engine and its options, chosen before a [`Ring`] exists.

use super::submit::Split;
use super::Ring;
use crate::buf::IoBufMut;
use crate::engine::threads::{self, Threads};
use crate::engine::uring::{ToRegister, Uring, UringOptions};
use crate::engine::{
    native::Native, AsyncBuffered, ChoiceSource, Engine, EngineChoice, EngineKind,
};
use crate::error::Error;

/// Builds a [`Ring`].
#[derive(Clone, Debug)]
pub struct RingBuilder {
    entries: u32,
    engine: Option<EngineKind>,
    threads: Option<usize>,
    uring: UringOptions,
    split: Option<Split>,
    register: ToRegister,
}

impl RingBuilder {
    /// How many requests may be outstanding at once (queued, in flight or waiting to be
    /// reaped). Default 256.
    pub fn entries(mut self, entries: u32) -> RingBuilder {
        self.entries = entries;
        self
    }

    /// Which engine to use, as named: if it cannot run here, [`RingBuilder::build`] fails
    /// with the cause. Without this, [`EngineKind::resolve`] chooses: `AIOLOS_ENGINE`, else
    /// io_uring where it runs, else the thread pool ([`Ring::engine_choice`] says which
    /// and why).
    pub fn engine(mut self, kind: EngineKind) -> RingBuilder {
        self.engine = Some(kind);
        self
    }

    /// How many I/O threads the [`EngineKind::Threads`] engine runs (default
    /// `min(4, 2 × cores)`). Other engines ignore it.
    pub fn threads(mut self, threads: usize) -> RingBuilder {
        self.threads = Some(threads);
        self
    }

    /// io_uring only: a kernel thread polls the submission queue
    /// (`IORING_SETUP_SQPOLL`), so submitting makes no system call while the thread is
    /// awake; it sleeps after `idle_ms` milliseconds without work. It costs a busy
    /// kernel thread per ring. Other engines ignore it.
    pub fn sqpoll(mut self, idle_ms: u32) -> RingBuilder {
        self.uring.sqpoll_idle_ms = Some(idle_ms);
        self
    }

    /// io_uring only: the ring is used by one thread, the one that calls
    /// [`RingBuilder::build`] (`IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`).
    /// The kernel then does completion work only when that thread asks for completions,
    /// which costs less CPU per request and wakes a waiter once per batch instead of once
    /// per completion. [`Ring::submit`], [`Ring::wait`], [`Ring::cancel`] and
    /// [`Ring::close`] from any other thread fail with [`Error::WrongThread`]; dropping the
    /// ring on another thread while requests are in flight leaks their buffers rather than
    /// free memory the kernel may still write. Where the kernel lacks these flags (before
    /// Linux 6.1) the ring runs without them and says so on stderr. Other engines ignore it.
    pub fn single_issuer(mut self, on: bool) -> RingBuilder {
        self.uring.single_issuer = on;
        self
    }

    /// io_uring only: how buffered (not O_DIRECT) reads of regular files and block devices
    /// are submitted. A buffered read that misses the page cache starts readahead inside
    /// `io_uring_enter`, so a submit can take hundreds of microseconds; handing the read to
    /// the kernel's worker threads (`IOSQE_ASYNC`) keeps the submit short but costs a
    /// thread hand-off per read. [`AsyncBuffered::Auto`] decides per batch from how long
    /// inline submits take. Default: [`AsyncBuffered::Never`]. Ignored with
    /// [`RingBuilder::sqpoll`] (the kernel thread pays for inline reads there) and by
    /// other engines. See `docs/benchmarks.md` for measurements.
    pub fn async_buffered(mut self, policy: AsyncBuffered) -> RingBuilder {
        self.uring.async_buffered = policy;
        self
    }

    /// io_uring and kernel AIO: how many requests each system call of a submit carries.
    /// The first call of a batch carries at most `first`, each later call at most `then`
    /// (0: no limit; `submit_split(0, 0)` sends a whole batch in one call). Default: 2,
    /// then 8.
    ///
    /// Why not one call for everything queued: the kernel holds the requests of a
    /// submission of more than two behind a block plug until it has issued the last of
    /// them (`io_submit_sqes`, `io_submit`), so after a wait that freed many slots the
    /// device gets nothing for as long as the whole refill takes to issue (about 2.5 µs per
    /// 4 KiB O_DIRECT read here), and sits idle. Two requests go out unplugged at once,
    /// and chunks of 8 keep the device fed while the next chunk is issued; the price is
    /// one system call per 8 requests instead of per batch. Measured at QD 32 (4 KiB
    /// O_DIRECT random reads, `docs/benchmarks.md`): one call per batch reached 0.79× fio's
    /// IOPS, 2 then 8 reached 0.98-1.0× at less CPU per I/O. The thread pool makes no
    /// system call to submit and ignores this, as does a ring with
    /// [`RingBuilder::sqpoll`].
    pub fn submit_split(mut self, first: u32, then: u32) -> RingBuilder {
        self.split = Some(Split {
            first: first as usize,
            then: then as usize,
        });
        self
    }

    /// io_uring only: registers these files with the ring (`IORING_REGISTER_FILES`), so
    /// requests on them skip the per-request file lookup (`IOSQE_FIXED_FILE`). The ring
    /// keeps each `Fd` (and so its descriptor number) open until it is dropped; requests
    /// on other descriptors go as usual. Descriptors from
    /// [`Fd::from_raw`](crate::Fd::from_raw) are not registered (the ring may not keep
    /// them open). Where the kernel refuses, the ring works unregistered and
    /// [`Ring::registration`](super::Ring::registration) says why. Other engines ignore
    /// it (and say so there).
    pub fn register_files(mut self, files: impl IntoIterator<Item = crate::Fd>) -> RingBuilder {
        self.register.files = Some(files.into_iter().collect());
        self
    }

    /// io_uring only: registers the buffers of `pool` with the ring
    /// (`IORING_REGISTER_BUFFERS`). Reads and writes into them then go as `READ_FIXED` /
    /// `WRITE_FIXED`: the kernel pinned the pages once instead of per request. The ring
    /// keeps the pool's memory alive until it is dropped (after every request has
    /// completed), so nothing registered is freed while the kernel may use it. Where the
    /// kernel refuses (`RLIMIT_MEMLOCK` too low for the pool without `CAP_IPC_LOCK`, an old
    /// kernel), the ring works with plain reads and writes and
    /// [`Ring::registration`](super::Ring::registration) says why.
    pub fn register_buffers(mut self, pool: &crate::FixedBufs) -> RingBuilder {
        self.register.buffers = Some(pool.clone());
        self
    }

    /// Creates the ring.
    ///
    /// # Errors
    /// [`Error::IoSetup`] when kernel AIO refuses a context (`fs.aio-max-nr`),
    /// [`Error::EngineUnavailable`] when the engine cannot run here, [`Error::Sys`] for
    /// other system-call failures, [`Error::InvalidRequest`] for 0 entries or a thread
    /// count outside 1 to 1024.
    pub fn build<B: IoBufMut>(self) -> Result<Ring<B>, Error> {
        self.build_with_payload::<B, u64>()
    }

    /// Creates a ring whose requests carry a payload of type `T` (given to
    /// [`Ring::push_with`], handed back in [`Completion::user_data`](super::Completion)).
    ///
    /// # Errors
    /// As [`RingBuilder::build`].
    pub fn build_with_payload<B: IoBufMut, T>(self) -> Result<Ring<B, T>, Error> {
        if self.entries == 0 || self.entries > crate::limits::MAX_ENTRIES {
            return Err(Error::InvalidRequest(format!(
                "ring entries must be between 1 and {}, not {}",
                crate::limits::MAX_ENTRIES,
                self.entries
            )));
        }
        let mut choice = EngineKind::resolve(self.engine)?;
        let engine: Box<dyn Engine> = match self.engine_for(choice.kind) {
            Ok(engine) => engine,
            // io_uring that the environment or the default asked for, refused only now (the
            // probe passed: descriptors or locked memory ran out since): the thread pool,
            // as the rule says, with the cause.
            Err(Error::EngineUnavailable { kind, reason })
                if kind == EngineKind::Uring && choice.source != ChoiceSource::Program =>
            {
                choice = EngineChoice {
                    kind: EngineKind::Threads,
                    source: choice.source,
                    reason: format!(
                        "io_uring could not be set up ({reason}); using the thread pool"
                    ),
                    fallback_from: Some((EngineKind::Uring, reason)),
                };
                crate::engine::log(&choice.reason);
                self.engine_for(EngineKind::Threads)?
            }
            Err(e) => return Err(e),
        };
        let registration = match choice.kind {
            EngineKind::Uring => engine.registration(),
            other => {
                let why = |what: &str| {
                    Err(format!(
                        "{other} has no registered {what} (io_uring only); the ring works without"
                    ))
                };
                crate::engine::Registration {
                    files: self.register.files.as_ref().map(|_| why("files")),
                    buffers: self.register.buffers.as_ref().map(|_| why("buffers")),
                }
            }
        };
        let mut ring = Ring::with_engine(engine, self.entries);
        ring.registration = registration;
        ring.split = match choice.kind {
            EngineKind::Threads => Split::NONE,
            EngineKind::Uring if self.uring.sqpoll_idle_ms.is_some() => Split::NONE,
            _ => self.split.unwrap_or(Split::DEFAULT),
        };
        ring.choice = choice;
        Ok(ring)
    }

    fn engine_for(&self, kind: EngineKind) -> Result<Box<dyn Engine>, Error> {
        Ok(match kind {
            EngineKind::Native => Box::new(Native::new(self.entries)?),
            EngineKind::Threads => {
                let n = self.threads.unwrap_or_else(threads::default_threads);
                if !(1..=crate::limits::MAX_POOL_THREADS).contains(&n) {
                    return Err(Error::InvalidRequest(format!(
                        "the thread pool needs 1 to {} threads, not {n}",
                        crate::limits::MAX_POOL_THREADS
                    )));
                }
                Box::new(Threads::new(self.entries, n)?)
            }
            EngineKind::Uring => Box::new(Uring::new(self.entries, self.uring, &self.register)?),
        })
    }
}

impl Ring<Vec<u8>> {
    /// A builder with default settings.
    pub fn builder() -> RingBuilder {
        RingBuilder {
            entries: 256,
            engine: None,
            threads: None,
            uring: UringOptions::default(),
            split: None,
            register: ToRegister::default(),
        }
    }
}
