//! Which engine new contexts use: `AIOLOS_ENGINE=native|uring|threads` (default `native`),
//! read once per process. An unknown value means `native`.
//!
//! On `uring`, `AIOLOS_ASYNC_BUFFERED=auto|always|never` (default `auto`) says whether
//! buffered reads go to the kernel's worker threads ([`aiolos::AsyncBuffered`]). The
//! drop-in defaults to `auto`, unlike the library: measured with fio, buffered cold random
//! reads at iodepth 32 ran 1.4× faster than with `never` (docs/benchmarks.md).

use aiolos::{AsyncBuffered, EngineKind};
use std::sync::OnceLock;

/// The engine chosen for this process.
#[cfg(not(test))]
pub fn configured() -> EngineKind {
    static KIND: std::sync::OnceLock<EngineKind> = std::sync::OnceLock::new();
    *KIND.get_or_init(|| match std::env::var("AIOLOS_ENGINE").as_deref() {
        Ok("uring") | Ok("io_uring") => EngineKind::Uring,
        Ok("threads") | Ok("thread") => EngineKind::Threads,
        _ => EngineKind::Native,
    })
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
