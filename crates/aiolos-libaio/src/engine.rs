//! Which engine new contexts use, read once per process from `AIOLOS_ENGINE`
//! (`native|uring|threads`, as every aiolos ring reads it), with kernel AIO as the default
//! (this library is libaio). Nothing is written to the program's stderr unless
//! `AIOLOS_LOG` is set: then the choice, and an `AIOLOS_ENGINE` value that names no
//! engine (which means `native`).
//!
//! Unlike [`EngineKind::resolve`], this does not probe io_uring here: a probe ring made
//! and closed on a program thread makes the kernel queue clean-up work to that thread,
//! which shows as one `EINTR` in the program's next blocking call. The engine thread sets
//! io_uring up instead, and falls back to `threads` there where it is refused
//! (`emulated::shared`).
//!
//! On `uring` and `threads`, buffered reads the page cache serves are done inside
//! `io_submit`, as kernel AIO does them; only those that would wait for the disk reach the
//! engine, and on io_uring they go straight to the kernel's worker threads.

use aiolos::EngineKind;

/// The engine `AIOLOS_ENGINE` names (`native` when unset or unknown), or `native` for a
/// program that reaps with system calls of its own ([`crate::imports`]): the kernel's
/// `io_getevents` knows only kernel contexts.
pub fn from_environment() -> EngineKind {
    let value = std::env::var(aiolos::engine::ENGINE_VAR).unwrap_or_default();
    let mut kind = match value.parse::<EngineKind>() {
        Ok(kind) => kind,
        Err(e) => {
            if !value.is_empty() && aiolos::engine::log_enabled() {
                eprintln!("aiolos: {e}; libaio.so.1 uses native");
            }
            EngineKind::Native
        }
    };
    #[cfg(not(miri))]
    if kind != EngineKind::Native {
        if let Some(object) = crate::imports::raw_reaper() {
            if aiolos::engine::log_enabled() {
                eprintln!(
                    "aiolos: {object} calls io_setup but not io_getevents: it reaps with \
                     system calls of its own, which reach only kernel contexts, so \
                     libaio.so.1 runs on native instead of {kind}"
                );
            }
            kind = EngineKind::Native;
        }
    }
    if aiolos::engine::log_enabled() {
        eprintln!("aiolos: libaio.so.1 runs on {kind}");
    }
    kind
}

/// The engine chosen for this process.
#[cfg(not(test))]
pub fn configured() -> EngineKind {
    static KIND: std::sync::OnceLock<EngineKind> = std::sync::OnceLock::new();
    *KIND.get_or_init(from_environment)
}

/// Unit tests drive the emulated context logic on the `threads` engine, the one engine
/// that needs neither kernel AIO nor io_uring (so it runs under Miri too).
#[cfg(test)]
pub fn configured() -> EngineKind {
    EngineKind::Threads
}
