//! The crate's error type: every variant carries what a person needs to fix the problem.

use crate::engine::EngineKind;
use crate::sys::Errno;
use std::fmt;
use std::io;

/// An aiolos error. Converts into [`io::Error`] with a fitting [`io::ErrorKind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    Sys(&'static str, Errno),
    /// `io_setup` refused: usually the system-wide `fs.aio-max-nr` limit.
    IoSetup {
        /// The kernel's error.
        errno: Errno,
        /// How many events were asked for.
        requested: u32,
        /// `fs.aio-nr` when it failed (events in use system-wide), if readable.
        aio_nr: Option<u64>,
        /// `fs.aio-max-nr` (the limit), if readable.
        aio_max_nr: Option<u64>,
    },
    /// The engine cannot be used here.
    EngineUnavailable {
        /// Which engine.
        kind: EngineKind,
        /// Why, in words that name the cause and the fix.
        reason: String,
    },
    /// The ring was closed; no new requests are accepted and waiters are released.
    Closed,
    /// Every slot of the ring is taken: reap completions before pushing more.
    QueueFull {
        /// The ring's capacity.
        capacity: u32,
    },
    /// The token does not name a request of this ring that is still outstanding.
    InvalidToken,
    /// The request cannot be expressed (too many buffers, unsupported operation, ...).
    InvalidRequest(String),
    /// Waiting for more completions than there are outstanding requests would never end.
    WouldWaitForever {
        /// Completions asked for.
        wanted: usize,
        /// Requests that can still complete.
        outstanding: usize,
    },
    /// The ring was created by another process (this process is a `fork` child).
    Forked,
    /// A single-issuer ring ([`RingBuilder::single_issuer`](crate::RingBuilder::single_issuer))
    /// was used from a thread other than the one that built it.
    WrongThread,
}

fn read_sysctl(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/fs/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Error {
    pub(crate) fn io_setup(errno: Errno) -> Error {
        Error::IoSetup {
            errno,
            requested: 0,
            aio_nr: read_sysctl("aio-nr"),
            aio_max_nr: read_sysctl("aio-max-nr"),
        }
    }

    pub(crate) fn io_setup_for(errno: Errno, requested: u32) -> Error {
        match Error::io_setup(errno) {
            Error::IoSetup {
                errno,
                aio_nr,
                aio_max_nr,
                ..
            } => Error::IoSetup {
                errno,
                requested,
                aio_nr,
                aio_max_nr,
            },
            other => other,
        }
    }

    /// The kernel errno behind this error, if there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys(_, e) | Error::IoSetup { errno: e, .. } => Some(*e),
            _ => None,
        }
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys(call, e) if *e == Errno::MFILE || *e == Errno::NFILE => write!(
                f,
                "{call} failed: {e}: out of file descriptors ({}); close descriptors or \
                 raise the limit (`ulimit -n`, LimitNOFILE= in systemd)",
                if *e == Errno::MFILE {
                    "EMFILE: this process reached RLIMIT_NOFILE"
                } else {
                    "ENFILE: the system-wide fs.file-max is reached"
                }
            ),
            Error::Sys(call, e) => write!(f, "{call} failed: {e}"),
            Error::IoSetup {
                errno,
                requested,
                aio_nr,
                aio_max_nr,
            } if *errno == Errno::AGAIN => write!(
                f,
                "io_setup for {requested} entries failed: {errno}: the system-wide limit of kernel AIO \
                 events is reached (fs.aio-nr = {}, fs.aio-max-nr = {}); ask for fewer \
                 entries, close other AIO contexts, or raise the limit with \
                 `sysctl fs.aio-max-nr=<n>`",
                opt(*aio_nr),
                opt(*aio_max_nr)
            ),
            Error::IoSetup {
                errno, requested, ..
            } => write!(f, "io_setup for {requested} entries failed: {errno}"),
            Error::EngineUnavailable { kind, reason } => {
                write!(f, "the {kind} engine is unavailable: {reason}")
            }
            Error::Closed => f.write_str("the ring is closed"),
            Error::QueueFull { capacity } => write!(
                f,
                "all {capacity} slots of the ring are in use: reap completions before pushing more"
            ),
            Error::InvalidToken => f.write_str(
                "the token names no outstanding request of this ring (already reaped, or from another ring)",
            ),
            Error::InvalidRequest(what) => write!(f, "invalid request: {what}"),
            Error::WouldWaitForever {
                wanted,
                outstanding,
            } => write!(
                f,
                "waiting for {wanted} completions, but only {outstanding} requests are outstanding"
            ),
            Error::Forked => f.write_str(
                "this ring belongs to the parent process: a fork child must create its own ring",
            ),
            Error::WrongThread => f.write_str(
                "this ring is single-issuer: submit, wait, cancel and close only from the \
                 thread that built it",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sys(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Sys(_, errno) => io::Error::from_raw_os_error(errno.0).kind(),
            Error::IoSetup { errno, .. } => io::Error::from_raw_os_error(errno.0).kind(),
            Error::EngineUnavailable { .. } => io::ErrorKind::Unsupported,
            Error::Closed => io::ErrorKind::BrokenPipe,
            Error::QueueFull { .. } => io::ErrorKind::WouldBlock,
            Error::InvalidToken | Error::InvalidRequest(_) | Error::WouldWaitForever { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::Forked | Error::WrongThread => io::ErrorKind::Unsupported,
        };
        io::Error::new(kind, e)
    }
}
