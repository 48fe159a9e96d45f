//! Ctrl-C (`SIGINT`) and `SIGTERM`, turned into a flag that every phase of a command polls:
//! a copy, a verify, a bench's fill and its runs all stop at their next check, remove their
//! temporary files and exit with status 130.
//!
//! The handler stays installed: a second (or tenth) signal only sets the flag again, so it
//! never kills the process halfway through its clean-up. `SIGKILL` and `SIGQUIT` still end
//! it at once.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a command stopped by a signal (128 + `SIGINT`, as shells report it).
pub const EXIT_STATUS: u8 = 130;

/// Installs the handler for `SIGINT` and `SIGTERM`.
///
/// # Errors
/// When the handler cannot be installed.
pub fn catch() -> std::io::Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, &INTERRUPTED)?;
    }
    Ok(())
}

/// Whether `SIGINT` or `SIGTERM` arrived since [`catch`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The error of a phase that stopped because of a signal; `main` turns it into exit status
/// [`EXIT_STATUS`]. It says what was interrupted and what was cleaned up.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// `Err(Interrupted(what))` once a signal has arrived, else `Ok`.
///
/// # Errors
/// [`Interrupted`], carrying `what`.
pub fn check(what: impl FnOnce() -> String) -> Result<(), Interrupted> {
    if interrupted() {
        Err(Interrupted(what()))
    } else {
        Ok(())
    }
}
