//! Which engine new contexts use: `AIOLOS_ENGINE=native|uring|threads` (default `native`),
//! read once per process. An unknown value means `native`.

use aiolos::EngineKind;

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
