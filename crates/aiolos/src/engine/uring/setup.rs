//! Setting up an io_uring: the flags aiolos asks for, and what it does when the kernel
//! refuses one (see the parent module's "Setup flags").

use super::*;

/// Options for an io_uring ring, from [`RingBuilder`](crate::RingBuilder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UringOptions {
    /// `IORING_SETUP_SQPOLL` with this idle time in milliseconds.
    pub sqpoll_idle_ms: Option<u32>,
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`: one thread uses the ring.
    pub single_issuer: bool,
    /// Whether buffered reads go to io-wq (`IOSQE_ASYNC`).
    pub async_buffered: AsyncBuffered,
}

/// Files and buffers to register with a new ring (`RingBuilder::register_files`,
/// `RingBuilder::register_buffers`).
#[derive(Clone, Debug, Default)]
pub(crate) struct ToRegister {
    pub files: Option<Vec<crate::Fd>>,
    pub buffers: Option<crate::FixedBufs>,
}

impl Uring {
    /// Creates an io_uring for `capacity` outstanding requests.
    pub(crate) fn new(
        capacity: u32,
        opts: UringOptions,
        reg: &ToRegister,
    ) -> Result<Uring, crate::Error> {
        let sq_entries = capacity
            .saturating_add(SQ_RESERVE)
            .next_power_of_two()
            .min(MAX_SQ_ENTRIES);
        // Up to two completions per request (the request and its eventfd write), plus
        // wakes and cancels; the kernel clamps, and keeps overflow (IORING_FEAT_NODROP).
        let cq_entries = capacity
            .saturating_mul(2)
            .saturating_add(2 * SQ_RESERVE)
            .max(2 * sq_entries);
        let unavailable = |reason: String| crate::Error::EngineUnavailable {
            kind: EngineKind::Uring,
            reason,
        };
        // Newest flags first; a kernel that does not know one says EINVAL.
        let attempts = [
            (opts.single_issuer, true, true),
            (false, true, true),
            (false, false, true),
            (false, false, false),
        ];
        let mut last = None;
        let mut ring = None;
        let mut deferred = false;
        for (defer, coop, submit_all) in attempts {
            let mut b = IoUring::builder();
            // A fork child does not map the rings (MADV_DONTFORK): nothing it runs can
            // write into the parent's queues.
            b.dontfork().setup_clamp().setup_cqsize(cq_entries);
            if coop {
                b.setup_coop_taskrun();
            }
            if defer {
                b.setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_taskrun_flag();
            }
            if submit_all {
                b.setup_submit_all();
            }
            if let Some(idle) = opts.sqpoll_idle_ms {
                b.setup_sqpoll(idle);
            }
            match b.build(sq_entries) {
                Ok(r) => {
                    ring = Some(r);
                    deferred = defer;
                    break;
                }
                Err(e) if errno_of(&e) == Errno::INVAL => last = Some(errno_of(&e)),
                Err(e) => {
                    return Err(unavailable(crate::engine::probe::explain_setup(errno_of(
                        &e,
                    ))))
                }
            }
        }
        let Some(ring) = ring else {
            return Err(unavailable(crate::engine::probe::explain_setup(
                last.unwrap_or(Errno::INVAL),
            )));
        };
        if opts.single_issuer && !deferred {
            // SINGLE_ISSUER / DEFER_TASKRUN refused (before Linux 6.1): reported when asked.
            crate::engine::log(
                "io_uring refused IORING_SETUP_DEFER_TASKRUN; the single-issuer ring runs \
                 without it",
            );
        }
        let params = ring.params();
        if !params.is_feature_ext_arg() || !params.is_feature_nodrop() {
            return Err(unavailable(
                "the kernel's io_uring lacks IORING_FEAT_EXT_ARG or IORING_FEAT_NODROP \
                 (Linux 5.11 or later is needed)"
                    .into(),
            ));
        }
        let notify = eventfd::new().map_err(|e| crate::Error::Sys("eventfd", e))?;
        ring.submitter()
            .register_eventfd(notify.as_raw_fd())
            .map_err(|e| crate::Error::Sys("io_uring_register (eventfd)", errno_of(&e)))?;
        let (fixed_files, files, files_res) = register_files(&ring, reg.files.as_deref());
        let (fixed_bufs, bufs_res) = register_buffers(&ring, reg.buffers.as_ref());
        for why in [&files_res, &bufs_res]
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_ref().err())
        {
            crate::engine::log(why);
        }
        Ok(Uring {
            fixed_files,
            _files: files,
            fixed_bufs,
            registration: super::super::Registration {
                files: files_res,
                buffers: bufs_res,
            },
            kernel_ops: KernelOps::probe(&ring),
            helper: Helper::new(capacity),
            sqpoll: opts.sqpoll_idle_ms.is_some(),
            deferred,
            fork_generation: crate::sys::fork_generation(),
            ring,
            sq: Mutex::new(SqState {
                // With SQPOLL the kernel thread, not the caller, pays for inline reads.
                policy: ReadPolicy::new(
                    if opts.sqpoll_idle_ms.is_some() {
                        AsyncBuffered::Never
                    } else {
                        opts.async_buffered
                    },
                    Budget::DEFAULT,
                ),
                fds: FdKinds::default(),
            }),
            cq: Mutex::new(CqState {
                links: vec![Link::Idle; capacity as usize],
            }),
            notify,
            linked: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            woken: AtomicBool::new(false),
            waiting_for: AtomicUsize::new(0),
            submit_syscalls: AtomicU64::new(0),
            reap_syscalls: AtomicU64::new(0),
            reaped_in_memory: AtomicU64::new(0),
            punted_reads: AtomicU64::new(0),
        })
    }
}

type FileTable = (
    Vec<(RawFd, u32)>,
    Vec<crate::Fd>,
    Option<Result<usize, String>>,
);

/// Registers the descriptors of `files` (owned ones: a borrowed number may be closed and
/// reused, and a registration would keep the old file). On refusal the ring goes on with
/// plain descriptors and the reason is kept.
fn register_files(ring: &IoUring, files: Option<&[crate::Fd]>) -> FileTable {
    let Some(files) = files else {
        return (Vec::new(), Vec::new(), None);
    };
    let mut keep: Vec<crate::Fd> = files.iter().filter(|f| !f.is_borrowed()).cloned().collect();
    keep.sort_by_key(|f| f.as_raw());
    keep.dedup_by_key(|f| f.as_raw());
    if keep.is_empty() {
        let why =
            "no file registered: only descriptors the ring may keep open (owned `Fd`s) can be";
        return (Vec::new(), Vec::new(), Some(Err(why.into())));
    }
    let raw: Vec<RawFd> = keep.iter().map(|f| f.as_raw()).collect();
    match ring.submitter().register_files(&raw) {
        Ok(()) => {
            let table = raw
                .iter()
                .enumerate()
                .map(|(i, &fd)| (fd, i as u32))
                .collect();
            (table, keep, Some(Ok(raw.len())))
        }
        Err(e) => (
            Vec::new(),
            Vec::new(),
            Some(Err(format!(
                "io_uring refused IORING_REGISTER_FILES ({e}); the ring uses plain descriptors"
            ))),
        ),
    }
}

/// Registers the buffers of `pool`. The kernel pins their pages and charges them to
/// `RLIMIT_MEMLOCK` (unless the process has `CAP_IPC_LOCK`); on refusal the ring goes on
/// with plain reads and writes and the reason is kept.
fn register_buffers(
    ring: &IoUring,
    pool: Option<&crate::FixedBufs>,
) -> (
    Option<std::sync::Arc<crate::buf::fixed::Region>>,
    Option<Result<usize, String>>,
) {
    let Some(pool) = pool else {
        return (None, None);
    };
    let iov = pool.region().iovecs();
    // SAFETY: `IoVec` has `struct iovec`'s layout (asserted in `sys`); the table is read
    // during the call only.
    let table = unsafe { std::slice::from_raw_parts(iov.as_ptr().cast(), iov.len()) };
    // SAFETY: the buffers stay allocated while the ring lives: the engine keeps the
    // pool's region (an Arc) until it is dropped, after the ring has drained.
    match unsafe { ring.submitter().register_buffers(table) } {
        Ok(()) => (
            Some(std::sync::Arc::clone(pool.region())),
            Some(Ok(iov.len())),
        ),
        Err(e) => {
            let bytes = pool.count() * pool.buf_size();
            let why = if errno_of(&e) == Errno::NOMEM {
                let limit = rustix::process::getrlimit(rustix::process::Resource::Memlock)
                    .current
                    .map_or("unlimited".to_string(), |l| format!("{l} bytes"));
                format!(
                    "io_uring refused IORING_REGISTER_BUFFERS ({e}): the pool's {bytes} bytes \
                     exceed what RLIMIT_MEMLOCK ({limit}) lets this process pin; raise it \
                     (ulimit -l) or register fewer buffers. The ring uses plain reads and writes"
                )
            } else {
                format!(
                    "io_uring refused IORING_REGISTER_BUFFERS ({e}); the ring uses plain reads \
                     and writes"
                )
            };
            (None, Some(Err(why)))
        }
    }
}
