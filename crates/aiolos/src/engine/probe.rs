//! Choosing an engine by probing what this process may use: [`EngineKind::suggest`].
//!
//! The probe creates a tiny io_uring and asks the kernel which operations it knows
//! (`IORING_REGISTER_PROBE`); it never guesses from the kernel version. When io_uring is
//! refused, the error is turned into its cause: `kernel.io_uring_disabled`, a seccomp
//! filter, a kernel without io_uring, the locked-memory limit, or the descriptor limit.

use super::EngineKind;
use crate::sys::Errno;
use io_uring::{opcode, IoUring, Probe};
use std::sync::OnceLock;

/// The engine [`EngineKind::suggest`] chose, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    /// The engine to use.
    pub kind: EngineKind,
    /// Why, in words: what was probed and what was found.
    pub reason: String,
    /// The preferred engine that could not be used, and the cause.
    pub fallback_from: Option<(EngineKind, String)>,
}

/// The operations the io_uring engine submits, by name, for the opcode probe.
const NEEDED: [(u8, &str); 8] = [
    (opcode::Read::CODE, "read"),
    (opcode::Write::CODE, "write"),
    (opcode::Readv::CODE, "readv"),
    (opcode::Writev::CODE, "writev"),
    (opcode::Fsync::CODE, "fsync"),
    (opcode::PollAdd::CODE, "poll_add"),
    (opcode::Nop::CODE, "nop"),
    (opcode::AsyncCancel::CODE, "async_cancel"),
];

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// `kernel.io_uring_disabled` (0, 1 or 2), if the kernel has the sysctl.
fn io_uring_disabled() -> Option<u32> {
    read_trimmed("/proc/sys/kernel/io_uring_disabled")?
        .parse()
        .ok()
}

/// The `Seccomp:` mode of this thread (0 none, 1 strict, 2 filter).
fn seccomp_mode() -> Option<u32> {
    let status =
        read_trimmed("/proc/thread-self/status").or_else(|| read_trimmed("/proc/self/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))?
        .trim()
        .parse()
        .ok()
}

/// The soft `RLIMIT_MEMLOCK`, as `/proc/self/limits` shows it.
fn memlock_limit() -> Option<String> {
    let limits = read_trimmed("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    let soft = line.split_whitespace().nth(3)?;
    Some(match soft.parse::<u64>() {
        Ok(b) => format!("{} KiB", b / 1024),
        Err(_) => soft.to_string(),
    })
}

/// Explains why `io_uring_setup` failed with `errno`, naming the cause and the fix.
pub(crate) fn explain_setup(errno: Errno) -> String {
    let seccomp = match seccomp_mode() {
        Some(2) => " (this thread runs under one)",
        Some(1) => " (this thread runs in strict seccomp mode)",
        _ => "",
    };
    match errno {
        Errno::PERM => match io_uring_disabled() {
            Some(2) => "io_uring_setup failed with EPERM: kernel.io_uring_disabled = 2 \
                        disables io_uring for every process (sysctl kernel.io_uring_disabled)"
                .to_string(),
            Some(1) => "io_uring_setup failed with EPERM: kernel.io_uring_disabled = 1 \
                        allows io_uring only to members of kernel.io_uring_group and to \
                        CAP_SYS_ADMIN"
                .to_string(),
            _ => format!(
                "io_uring_setup failed with EPERM: denied by a seccomp filter{seccomp}; \
                 container runtimes' default profiles deny io_uring: allow io_uring_setup, \
                 io_uring_enter and io_uring_register in the profile to use it"
            ),
        },
        Errno::NOSYS => format!(
            "io_uring_setup failed with ENOSYS: the kernel has no io_uring \
             (CONFIG_IO_URING is off) or a seccomp filter{seccomp} reports it missing"
        ),
        Errno::NOMEM => format!(
            "io_uring_setup failed with ENOMEM: the ring's memory counts against the \
             locked-memory limit (RLIMIT_MEMLOCK, now {}) on this kernel; raise it \
             (`ulimit -l`, LimitMEMLOCK= in systemd) or ask for fewer entries",
            memlock_limit().unwrap_or_else(|| "unknown".into())
        ),
        Errno::MFILE | Errno::NFILE => format!(
            "io_uring_setup failed with {}: out of file descriptors (the ring needs one); \
             close descriptors or raise `ulimit -n`",
            if errno == Errno::MFILE {
                "EMFILE"
            } else {
                "ENFILE"
            }
        ),
        Errno::INVAL => "io_uring_setup failed with EINVAL: the kernel's io_uring is too old \
                         for the parameters aiolos needs"
            .to_string(),
        other => format!("io_uring_setup failed: {other} (errno {})", other.raw()),
    }
}

/// Every io_uring operation the opcode probe is asked about, by its kernel name
/// (`IORING_OP_` + the name in upper case). Codes that several builders share appear once.
const KNOWN: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "nop"),
    (opcode::Readv::CODE, "readv"),
    (opcode::Writev::CODE, "writev"),
    (opcode::Fsync::CODE, "fsync"),
    (opcode::ReadFixed::CODE, "read_fixed"),
    (opcode::WriteFixed::CODE, "write_fixed"),
    (opcode::PollAdd::CODE, "poll_add"),
    (opcode::PollRemove::CODE, "poll_remove"),
    (opcode::SyncFileRange::CODE, "sync_file_range"),
    (opcode::SendMsg::CODE, "sendmsg"),
    (opcode::RecvMsg::CODE, "recvmsg"),
    (opcode::Timeout::CODE, "timeout"),
    (opcode::TimeoutRemove::CODE, "timeout_remove"),
    (opcode::Accept::CODE, "accept"),
    (opcode::AsyncCancel::CODE, "async_cancel"),
    (opcode::LinkTimeout::CODE, "link_timeout"),
    (opcode::Connect::CODE, "connect"),
    (opcode::Fallocate::CODE, "fallocate"),
    (opcode::OpenAt::CODE, "openat"),
    (opcode::Close::CODE, "close"),
    (opcode::FilesUpdate::CODE, "files_update"),
    (opcode::Statx::CODE, "statx"),
    (opcode::Read::CODE, "read"),
    (opcode::Write::CODE, "write"),
    (opcode::Fadvise::CODE, "fadvise"),
    (opcode::Madvise::CODE, "madvise"),
    (opcode::Send::CODE, "send"),
    (opcode::Recv::CODE, "recv"),
    (opcode::OpenAt2::CODE, "openat2"),
    (opcode::EpollCtl::CODE, "epoll_ctl"),
    (opcode::Splice::CODE, "splice"),
    (opcode::ProvideBuffers::CODE, "provide_buffers"),
    (opcode::RemoveBuffers::CODE, "remove_buffers"),
    (opcode::Tee::CODE, "tee"),
    (opcode::Shutdown::CODE, "shutdown"),
    (opcode::RenameAt::CODE, "renameat"),
    (opcode::UnlinkAt::CODE, "unlinkat"),
    (opcode::MkDirAt::CODE, "mkdirat"),
    (opcode::SymlinkAt::CODE, "symlinkat"),
    (opcode::LinkAt::CODE, "linkat"),
    (opcode::MsgRingData::CODE, "msg_ring"),
    (opcode::FSetXattr::CODE, "fsetxattr"),
    (opcode::SetXattr::CODE, "setxattr"),
    (opcode::FGetXattr::CODE, "fgetxattr"),
    (opcode::GetXattr::CODE, "getxattr"),
    (opcode::Socket::CODE, "socket"),
    (opcode::UringCmd16::CODE, "uring_cmd"),
    (opcode::SendZc::CODE, "send_zc"),
    (opcode::SendMsgZc::CODE, "sendmsg_zc"),
    (opcode::ReadMulti::CODE, "read_multishot"),
    (opcode::WaitId::CODE, "waitid"),
    (opcode::FutexWait::CODE, "futex_wait"),
    (opcode::FutexWake::CODE, "futex_wake"),
    (opcode::FutexWaitV::CODE, "futex_waitv"),
    (opcode::FixedFdInstall::CODE, "fixed_fd_install"),
    (opcode::Ftruncate::CODE, "ftruncate"),
    (opcode::Bind::CODE, "bind"),
    (opcode::Listen::CODE, "listen"),
    (opcode::RecvZc::CODE, "recv_zc"),
    (opcode::EpollWait::CODE, "epoll_wait"),
    (opcode::ReadvFixed::CODE, "readv_fixed"),
    (opcode::WritevFixed::CODE, "writev_fixed"),
    (opcode::Pipe::CODE, "pipe"),
];

/// What io_uring offers this process, for diagnostics such as `aiolos probe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UringProbe {
    /// Every operation the kernel's opcode probe was asked about, by its kernel name
    /// (`IORING_OP_` + the name in upper case), in opcode order, with whether the kernel
    /// supports it.
    pub ops: Vec<(&'static str, bool)>,
    /// Whether the io_uring engine can run here: `Err` names the operation or feature
    /// that is missing.
    pub usable: Result<(), String>,
}

impl UringProbe {
    /// The names of the supported operations.
    pub fn supported(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.ops.iter().filter(|(_, ok)| *ok).map(|(n, _)| *n)
    }
}

/// Creates a tiny io_uring and asks the kernel which operations it supports
/// (`IORING_REGISTER_PROBE`), and whether the aiolos engine can use it.
///
/// # Errors
/// When no ring can be created or the probe is refused: the cause in words
/// (`kernel.io_uring_disabled`, a seccomp filter, no io_uring in the kernel, the
/// locked-memory or descriptor limit), with the fix.
///
/// # Examples
/// ```
/// match aiolos::engine::uring_probe() {
///     Ok(p) => println!("io_uring ops: {}", p.supported().collect::<Vec<_>>().join(" ")),
///     Err(why) => println!("no io_uring: {why}"),
/// }
/// ```
pub fn uring_probe() -> Result<UringProbe, String> {
    let ring: IoUring = IoUring::builder()
        .build(2)
        .map_err(|e| explain_setup(e.raw_os_error().map_or(Errno::INVAL, Errno)))?;
    let mut probe = Probe::new();
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        return Err(format!(
            "the io_uring opcode probe (IORING_REGISTER_PROBE) failed: {e}; the kernel's \
             io_uring is too old"
        ));
    }
    let mut ops: Vec<(u8, &'static str, bool)> = KNOWN
        .iter()
        .map(|&(code, name)| (code, name, probe.is_supported(code)))
        .collect();
    ops.sort_by_key(|&(code, _, _)| code);
    ops.dedup_by_key(|&mut (code, _, _)| code);
    let params = ring.params();
    let missing: Vec<&str> = NEEDED
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code))
        .map(|(_, name)| *name)
        .collect();
    let usable = if !params.is_feature_ext_arg() || !params.is_feature_nodrop() {
        Err(
            "the kernel's io_uring lacks IORING_FEAT_EXT_ARG or IORING_FEAT_NODROP \
             (Linux 5.11 or later is needed)"
                .to_string(),
        )
    } else if !missing.is_empty() {
        Err(format!(
            "the kernel's io_uring lacks operations aiolos needs: {}",
            missing.join(", ")
        ))
    } else {
        Ok(())
    };
    Ok(UringProbe {
        ops: ops.into_iter().map(|(_, n, ok)| (n, ok)).collect(),
        usable,
    })
}

/// Probes io_uring: `Ok(())` if a ring can be created here with every operation and
/// feature the engine needs, otherwise the cause. Probed once per process.
pub(crate) fn probe_uring() -> Result<(), String> {
    static PROBED: OnceLock<Result<(), String>> = OnceLock::new();
    PROBED
        .get_or_init(|| uring_probe().and_then(|p| p.usable))
        .clone()
}

impl EngineKind {
    /// Probes which engine this process can use by default and returns it, with the
    /// reason: io_uring where a probe ring can be created and the kernel supports every
    /// operation aiolos submits, else the thread pool (kernel AIO would perform buffered
    /// I/O inside the submitting call). `AIOLOS_ENGINE` is not consulted: see
    /// [`EngineKind::resolve`], which is what rings use. Nothing is printed.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Ring};
    /// let s = EngineKind::suggest();
    /// println!("{}: {}", s.kind, s.reason);
    /// assert_ne!(s.kind, EngineKind::Native); // never kernel AIO by default
    /// let ring: Ring<Vec<u8>> = Ring::builder().engine(s.kind).build()?;
    /// assert_eq!(ring.engine_kind(), s.kind);
    /// # Ok::<(), aiolos::Error>(())
    /// ```
    pub fn suggest() -> Suggestion {
        let c = super::resolve::default_choice();
        Suggestion {
            kind: c.kind,
            reason: c.reason,
            fallback_from: c.fallback_from,
        }
    }
}
