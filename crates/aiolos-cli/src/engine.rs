//! Engine names on the command line, and the engine used when none is named.
//!
//! Names are parsed once, by [`EngineKind`]'s `FromStr` (the names `AIOLOS_ENGINE` takes
//! too); `bench` adds `all` on top of it. The default comes from the library's one
//! resolution ([`default_engine`]), so every command, and every aiolos ring, picks the same
//! engine for the same reason.

use aiolos::EngineKind;

/// Parses an engine name for clap: `uring`, `native` or `threads` (and their aliases).
///
/// # Errors
/// An unknown name, with the list of known ones.
pub fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse()
}

/// `bench --engine`: one engine, or every engine side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// One engine.
    One(EngineKind),
    /// Every engine available here, interleaved.
    All,
}

/// Parses `all` or an engine name.
///
/// # Errors
/// An unknown name, with the list of known ones.
pub fn parse_engine_choice(s: &str) -> Result<EngineChoice, String> {
    if s == "all" {
        return Ok(EngineChoice::All);
    }
    parse_engine(s)
        .map(EngineChoice::One)
        .map_err(|e| format!("{e}, or all"))
}

/// The engine a command uses when none is named, and why: the library's one resolution
/// ([`EngineKind::resolve`]): `AIOLOS_ENGINE` if set, else io_uring where it works here, else
/// the thread pool (never kernel AIO by default).
///
/// # Errors
/// `AIOLOS_ENGINE` names no engine.
pub fn default_engine() -> Result<aiolos::EngineChoice, aiolos::Error> {
    EngineKind::resolve(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_are_the_librarys_and_all_is_the_benchs_own() {
        assert_eq!(parse_engine("uring"), Ok(EngineKind::Uring));
        assert_eq!(parse_engine("aio"), Ok(EngineKind::Native));
        assert_eq!(
            parse_engine_choice("threads"),
            Ok(EngineChoice::One(EngineKind::Threads))
        );
        assert_eq!(parse_engine_choice("all"), Ok(EngineChoice::All));
        let e = parse_engine_choice("nope").unwrap_err();
        assert!(e.contains("uring, native, threads, or all"), "{e}");
        assert!(parse_engine("all").is_err());
    }
}
