//! Engines: the kernel interfaces a [`Ring`](crate::Ring) runs on, behind one internal
//! interface (push a batch, submit it in one call, reap completions, cancel, notify).
//!
//! - [`EngineKind::Native`]: kernel AIO (`io_submit`); truly asynchronous for O_DIRECT.
//! - [`EngineKind::Uring`]: io_uring; asynchronous for buffered and direct I/O.
//! - [`EngineKind::Threads`]: a thread pool running `preadv2`/`pwritev2`; the portable
//!   fallback where io_uring is denied.
//!
//! # Safety
//!
//! `Engine::submit` is an `unsafe fn`: the ring vouches that every address in a batch
//! stays valid until that request's completion has been reaped.
#![allow(unsafe_code)]

pub(crate) mod helper;
pub(crate) mod native;
pub(crate) mod probe;
mod resolve;
pub(crate) mod threads;
pub(crate) mod uring;

pub use probe::{uring_probe, Suggestion, UringProbe};
pub(crate) use resolve::log;
pub use resolve::{log_enabled, ChoiceSource, EngineChoice, ENGINE_VAR, LOG_VAR};
pub use uring::AsyncBuffered;

use crate::op::OpCode;
use crate::sys::Errno;
use std::fmt;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

/// Which kernel interface a ring runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// io_uring.
    Uring,
    /// Kernel AIO (`io_setup`/`io_submit`/`io_getevents`).
    Native,
    /// A thread pool doing positional reads and writes.
    Threads,
}

impl EngineKind {
    /// All engines, in order of preference.
    pub const ALL: [EngineKind; 3] = [EngineKind::Uring, EngineKind::Native, EngineKind::Threads];

    /// The engine's short name, as used by `aiolos bench --engine` and `AIOLOS_ENGINE`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Uring => "uring",
            EngineKind::Native => "native",
            EngineKind::Threads => "threads",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<EngineKind, String> {
        match s {
            "uring" | "io_uring" => Ok(EngineKind::Uring),
            "native" | "aio" | "libaio" => Ok(EngineKind::Native),
            "threads" | "thread" => Ok(EngineKind::Threads),
            _ => Err(format!(
                "unknown engine {s:?}: expected one of uring, native, threads"
            )),
        }
    }
}

/// A request prepared for an engine: raw addresses into buffers owned by the ring's
/// in-flight table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sqe {
    /// The ring's token bits, returned in the completion.
    pub user_data: u64,
    /// The in-flight table index (engines may keep per-slot state, e.g. an iocb).
    pub slot: u32,
    pub op: OpCode,
    pub fd: RawFd,
    /// Buffer address, or `iovec` array address for the vectored ops; the path of the
    /// path operations (the old path of a rename or link, the target of a symlink); the
    /// function of a `Blocking` request (a `*const BlockingFn`).
    pub addr: u64,
    /// The second path of a rename, link or symlink; the buffer of a statx.
    pub addr2: u64,
    /// Buffer length, or `iovec` count; poll events for `Poll`; the mode of an open or
    /// mkdir; the mask of a statx; the length of a fallocate or ftruncate.
    pub len: u64,
    pub offset: u64,
    /// `RWF_*` for reads and writes; the flags of an open, statx, unlink, rename or link;
    /// the mode of a fallocate.
    pub rw_flags: i32,
    pub ioprio: Option<u16>,
    /// A per-request eventfd to signal on completion.
    pub resfd: Option<RawFd>,
    /// `fd` and `resfd` are only borrowed ([`Fd::from_raw`](crate::Fd::from_raw)): an
    /// engine that uses them after `submit` returns must hold the files itself, as the
    /// kernel does at submission, so a closed and reused number cannot redirect the
    /// request.
    pub borrowed_fds: bool,
}

/// A completion as an engine reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cqe {
    pub user_data: u64,
    /// Bytes transferred (or poll mask), or a negated errno.
    pub res: i64,
}

/// What a cancel attempt achieved at the engine level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EngineCancel {
    /// The engine will complete the request soon (likely with `ECANCELED`).
    Requested,
    /// The engine cannot cancel it; it completes when the I/O finishes.
    NotCancellable,
}

/// Counters an engine keeps, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// System calls made to submit requests (`io_submit`, `io_uring_enter` for submission).
    pub submit_syscalls: u64,
    /// System calls made to wait for or reap completions.
    pub reap_syscalls: u64,
    /// Completions found in shared memory without a system call.
    pub reaped_without_syscall: u64,
    /// Buffered reads handed to the kernel's worker threads (`IOSQE_ASYNC`) by the
    /// [`AsyncBuffered`] policy (io_uring only).
    pub punted_reads: u64,
    /// Requests a waiting thread ran itself instead of handing them to a worker (thread
    /// pool only: [`Ring::help`](crate::Ring::help)).
    pub run_by_waiter: u64,
}

/// What a ring asked to register with the kernel (registered files and buffers, io_uring
/// only), and what came of it: `None` when nothing was asked for, else the count
/// registered or why nothing was (the ring then works unregistered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// `IORING_REGISTER_FILES`: the files registered, or why not.
    pub files: Option<Result<usize, String>>,
    /// `IORING_REGISTER_BUFFERS`: the buffers registered, or why not.
    pub buffers: Option<Result<usize, String>>,
}

/// What [`Engine::set_completion_hook`] installs.
pub(crate) type CompletionHook = Box<dyn Fn() + Send + Sync>;

/// The interface every engine implements. The ring guarantees that at most one thread
/// calls [`Engine::reap`] at a time and that `submit` calls are serialised.
pub(crate) trait Engine: Send + Sync {
    fn kind(&self) -> EngineKind;

    /// Submits `sqes` in order, in one system call where the engine has one. Returns how
    /// many were accepted. `Err(e)` means the first request was refused with `e`: `EAGAIN`
    /// asks the caller to retry later; any other error belongs to that request alone.
    ///
    /// # Safety
    /// Every address in `sqes` must stay valid until the request's completion is reaped.
    unsafe fn submit(&self, sqes: &[Sqe]) -> Result<usize, Errno>;

    /// Appends completions to `out`: waits until at least `min` are available (up to
    /// `max` in all) or `timeout` passes or [`Engine::wake`] is called.
    fn reap(
        &self,
        out: &mut Vec<Cqe>,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno>;

    /// Asks the engine to cancel the request in `slot` with `user_data`.
    fn cancel(&self, slot: u32, user_data: u64) -> EngineCancel;

    /// Makes a thread blocked in [`Engine::reap`] return soon.
    fn wake(&self);

    /// Runs one submitted request on the calling thread, which would otherwise sleep
    /// until a completion comes, where the engine can and that is quicker (the thread
    /// pool, idle, with a lone request on a local file or block device queued). Returns whether it ran one; its
    /// completion is queued as any other. Engines whose requests run in the kernel have
    /// nothing to hand over.
    fn help(&self) -> bool {
        false
    }

    /// Installs `hook`, which the engine's own threads (the pool's workers) call right
    /// after they queue a completion, in place of signalling [`Engine::notify_fd`]; it is
    /// meant to reap. Once only; returns whether the engine took it (engines whose
    /// completions come from the kernel have no thread to call it on).
    fn set_completion_hook(&self, hook: CompletionHook) -> bool {
        let _ = hook;
        false
    }

    /// A descriptor that becomes readable when completions are ready.
    fn notify_fd(&self) -> BorrowedFd<'_>;

    /// Makes [`Engine::notify_fd`] readable: the ring's own announcement of completions
    /// no engine event announced (or whose announcement was already consumed).
    fn signal_notify(&self) {
        let _ = crate::eventfd::signal(self.notify_fd());
    }

    /// Empties [`Engine::notify_fd`].
    fn drain_notify(&self) {
        let _ = crate::eventfd::drain(self.notify_fd());
    }

    fn stats(&self) -> EngineStats;

    /// What was registered with the kernel ([`Registration`]).
    fn registration(&self) -> Registration {
        Registration::default()
    }

    /// Whether only the thread that created the engine may submit, reap, cancel or wake
    /// (an io_uring set up with `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`).
    fn single_thread(&self) -> bool {
        false
    }
}
