//! Which engine new contexts use, resolved once per process as every aiolos ring resolves
//! its engine ([`EngineKind::resolve_or`]): `AIOLOS_ENGINE=native|uring|threads`, with
//! kernel AIO as the default (this library is libaio); `uring` falls back to `threads`
//! where io_uring is refused. Nothing is written to the program's stderr unless
//! `AIOLOS_LOG` is set: then the choice and its reason, and an `AIOLOS_ENGINE` value that
//! names no engine (which means `native`).
//!
//! On `uring`, `AIOLOS_ASYNC_BUFFERED=auto|always|never` (default `auto`) says whether
//! buffered reads go to the kernel's worker threads ([`aiolos::AsyncBuffered`]). The
//! drop-in defaults to `auto`, unlike the library: measured with fio, buffered cold random
//! reads at iodepth 32 ran 1.4× faster than with `never` (docs/benchmarks.md).

use aiolos::{AsyncBuffered, EngineChoice, EngineKind};
use std::sync::OnceLock;

/// The engine chosen for this process, and why.
pub fn choice() -> &'static EngineChoice {
    static CHOICE: OnceLock<EngineChoice> = OnceLock::new();
    CHOICE.get_or_init(|| {
        let choice = EngineKind::resolve_or(None, Some(EngineKind::Native)).unwrap_or_else(|e| {
            EngineChoice {
                kind: EngineKind::Native,
                source: aiolos::ChoiceSource::Default,
                reason: format!("{e}; using native"),
                fallback_from: None,
            }
        });
        if aiolos::engine::log_enabled() {
            eprintln!("aiolos: libaio.so.1 runs on {choice}");
        }
        choice
    })
}

/// The engine chosen for this process.
#[cfg(not(test))]
pub fn configured() -> EngineKind {
    choice().kind
}

/// Unit tests drive the emulated context logic on the `threads` engine, the one engine
/// that needs neither kernel AIO nor io_uring (so it runs under Miri too).
#[cfg(test)]
pub fn configured() -> EngineKind {
    EngineKind::Threads
}

/// The io_uring policy for buffered reads chosen for this process: `auto` unless
/// `AIOLOS_ASYNC_BUFFERED` names another. An unknown value means `auto`.
pub fn async_buffered() -> AsyncBuffered {
    static POLICY: OnceLock<AsyncBuffered> = OnceLock::new();
    *POLICY.get_or_init(|| {
        std::env::var("AIOLOS_ASYNC_BUFFERED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(AsyncBuffered::Auto)
    })
}
