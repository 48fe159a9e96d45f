//! [`RingBuilder`]: the engine and its options, chosen before a [`Ring`] exists.

use super::Ring;
use crate::buf::IoBufMut;
use crate::engine::threads::{self, Threads};
use crate::engine::uring::{Uring, UringOptions};
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
        let mut ring = Ring::with_engine(engine, self.entries);
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
            EngineKind::Uring => Box::new(Uring::new(self.entries, self.uring)?),
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
        }
    }
}
