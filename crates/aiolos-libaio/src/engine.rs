//! Which engine new contexts use: `AIOLOS_ENGINE=native|uring|threads` (default `native`),
//! read once per process. An unknown value means `native`.
//!
//! On `uring`, `AIOLOS_ASYNC_BUFFERED=auto|always|never` (default `never`) says whether
//! buffered reads go to the kernel's worker threads ([`aiolos::AsyncBuffered`]).

use aiolos::{AsyncBuffered, EngineKind};
use std::sync::OnceLock;

/// The engine chosen for this process.
pub fn configured() -> EngineKind {
    static KIND: OnceLock<EngineKind> = OnceLock::new();
    *KIND.get_or_init(|| match std::env::var("AIOLOS_ENGINE").as_deref() {
        Ok("uring") | Ok("io_uring") => EngineKind::Uring,
        Ok("threads") | Ok("thread") => EngineKind::Threads,
        _ => EngineKind::Native,
    })
}

/// The io_uring policy for buffered reads chosen for this process. An unknown value means
/// the default.
pub fn async_buffered() -> AsyncBuffered {
    static POLICY: OnceLock<AsyncBuffered> = OnceLock::new();
    *POLICY.get_or_init(|| {
        std::env::var("AIOLOS_ASYNC_BUFFERED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    })
}
