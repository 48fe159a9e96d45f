//! The `aiolos` command's modules (`bench`, `cp`, `probe`, `run`), as a library so that its fuzz
//! targets and tests reach the parsers and the copy planning the binary runs. Not a stable
//! API: the command line is the interface (`src/main.rs` is a thin front end).
#![deny(unsafe_code)]
#![doc(hidden)]

pub mod bench;
pub mod cp;
pub mod engine;
pub mod interrupt;
pub mod kernelfs;
pub mod probe;
pub mod program;
pub mod run;
pub mod rusage;
