//! The differential test of the C ABI: generated programs (`program`), the C runner that
//! runs them on any `libaio.so.1` (`runner.c`), the checks on its traces (`trace`) and the
//! list of known differences (`known`).
pub mod known;
pub mod program;
pub mod trace;
