//! The one place an engine is chosen: [`EngineKind::resolve`]. The Ring, `aiolos::fs`, the
//! libaio drop-in and the `aiolos` command all use it, so `AIOLOS_ENGINE` and the fallback
//! rule mean the same everywhere:
//!
//! 1. an engine the program names (an API call, a command-line flag) is used as named; if it
//!    cannot run here, building the ring fails with the cause;
//! 2. else `AIOLOS_ENGINE=uring|native|threads`; a value that names no engine is an error;
//! 3. else the default: io_uring, probed (never guessed from the kernel version).
//!
//! io_uring asked for by the environment or the default falls back to the thread pool when
//! the probe finds it refused (a seccomp filter, `kernel.io_uring_disabled`, the memlock or
//! descriptor limit, an old kernel), never to kernel AIO, which performs buffered I/O inside
//! the submitting call. The reason is part of the answer ([`EngineChoice::reason`], shown by
//! `aiolos probe`); a library does not write to its program's stderr, so it is printed only
//! when `AIOLOS_LOG` is set (to anything but `0`).

use super::probe::probe_uring;
use super::EngineKind;
use crate::error::Error;
use std::fmt;

/// The environment variable that names the engine.
pub const ENGINE_VAR: &str = "AIOLOS_ENGINE";
/// The environment variable that asks aiolos to report its choices on stderr.
pub const LOG_VAR: &str = "AIOLOS_LOG";

/// Who asked for the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoiceSource {
    /// The program named it (an API call or a command-line option).
    Program,
    /// `AIOLOS_ENGINE`.
    Environment,
    /// Nobody: the default.
    Default,
}

/// The engine a ring runs on, who asked for it, and why it is that one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineChoice {
    /// The engine.
    pub kind: EngineKind,
    /// Who asked for an engine.
    pub source: ChoiceSource,
    /// Why this engine, in words: what was asked for, what was probed, what was found.
    pub reason: String,
    /// The engine asked for that could not be used, and the cause.
    pub fallback_from: Option<(EngineKind, String)>,
}

impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

impl EngineChoice {
    /// The engine a program named, used as named.
    pub fn named(kind: EngineKind) -> EngineChoice {
        EngineChoice {
            kind,
            source: ChoiceSource::Program,
            reason: format!("{kind} was asked for by the program"),
            fallback_from: None,
        }
    }
}

/// Whether `AIOLOS_LOG` asks for reports on stderr.
pub fn log_enabled() -> bool {
    std::env::var_os(LOG_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Prints `what` on stderr if `AIOLOS_LOG` asks for it.
pub(crate) fn log(what: impl fmt::Display) {
    if log_enabled() {
        eprintln!("aiolos: {what}");
    }
}

/// io_uring if the probe allows it, else the thread pool, with the reason.
fn uring_or_threads(source: ChoiceSource, asked: &str) -> EngineChoice {
    match probe_uring() {
        Ok(()) => EngineChoice {
            kind: EngineKind::Uring,
            source,
            reason: format!(
                "{asked}; io_uring is available: a probe ring was created and the kernel \
                 supports every operation aiolos submits"
            ),
            fallback_from: None,
        },
        Err(cause) => EngineChoice {
            kind: EngineKind::Threads,
            source,
            reason: format!(
                "{asked}, but io_uring is unavailable ({cause}); using the thread pool, which \
                 keeps buffered I/O off the submitting thread (kernel AIO would block on it)"
            ),
            fallback_from: Some((EngineKind::Uring, cause)),
        },
    }
}

/// The probed default, as [`EngineKind::suggest`] reports it.
pub(crate) fn default_choice() -> EngineChoice {
    uring_or_threads(ChoiceSource::Default, "io_uring is the default")
}

impl EngineKind {
    /// Chooses the engine: `explicit` if given, else `AIOLOS_ENGINE`, else io_uring where
    /// it can run here and the thread pool where it cannot. An engine the program names is
    /// used as named; io_uring asked for by `AIOLOS_ENGINE` or by default falls back to
    /// the thread pool, never to kernel AIO, with the reason in [`EngineChoice::reason`].
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when `AIOLOS_ENGINE` names no engine.
    ///
    /// # Examples
    /// ```
    /// use aiolos::{EngineKind, Ring};
    /// let choice = EngineKind::resolve(None)?;
    /// println!("{choice}"); // the engine and why
    /// assert_ne!(choice.kind, EngineKind::Native); // never kernel AIO unless asked for
    /// let named = EngineKind::resolve(Some(EngineKind::Threads))?;
    /// assert_eq!(named.kind, EngineKind::Threads);
    /// # Ok::<(), aiolos::Error>(())
    /// ```
    pub fn resolve(explicit: Option<EngineKind>) -> Result<EngineChoice, Error> {
        EngineKind::resolve_or(explicit, None)
    }

    /// As [`EngineKind::resolve`], with `default` used when neither the program nor the
    /// environment names an engine (the libaio drop-in defaults to kernel AIO, as libaio
    /// is). `None` means the probed default.
    ///
    /// # Errors
    /// As [`EngineKind::resolve`].
    pub fn resolve_or(
        explicit: Option<EngineKind>,
        default: Option<EngineKind>,
    ) -> Result<EngineChoice, Error> {
        if let Some(kind) = explicit {
            return Ok(EngineChoice::named(kind));
        }
        let choice = match std::env::var(ENGINE_VAR) {
            Ok(v) if !v.is_empty() => {
                let kind = v
                    .parse::<EngineKind>()
                    .map_err(|e| Error::InvalidRequest(format!("{ENGINE_VAR}={v:?}: {e}")))?;
                let asked = format!("{ENGINE_VAR}={v} asked for {kind}");
                match kind {
                    EngineKind::Uring => uring_or_threads(ChoiceSource::Environment, &asked),
                    kind => EngineChoice {
                        kind,
                        source: ChoiceSource::Environment,
                        reason: asked,
                        fallback_from: None,
                    },
                }
            }
            _ => match default {
                Some(kind @ (EngineKind::Native | EngineKind::Threads)) => EngineChoice {
                    kind,
                    source: ChoiceSource::Default,
                    reason: format!("{kind} is the default here ({ENGINE_VAR} is not set)"),
                    fallback_from: None,
                },
                _ => default_choice(),
            },
        };
        if choice.fallback_from.is_some() {
            log(&choice.reason);
        }
        Ok(choice)
    }
}
