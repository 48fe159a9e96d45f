//! Which engine new contexts use: `AIOLOS_ENGINE=native|uring|threads` (default `native`),
//! read once per process. An unknown value means `native`.

use aiolos::EngineKind;
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
