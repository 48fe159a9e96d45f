//! aiolos-libaio: a drop-in `libaio.so.1` built on aiolos.
//!
//! This crate is linked (as a static library, by `build-so.sh`) into a shared library that
//! exports exactly libaio 0.3.113's functions with its symbol versions, and nothing else.
//! C programs written for libaio run on it unchanged, with our `include/libaio.h` or
//! libaio's own header.
//!
//! - [`abi`]: the C types (`io_context_t`, `struct iocb`, `struct io_event`, callbacks).
//! - [`caller`]: reads and writes of memory named by callers' pointers, directly where it
//!   is certainly mapped, else through the kernel (`EFAULT`, never a crash; [`bounce`]).
//! - [`ffi`]: the one place where a `Result` becomes a C return value (negative errno,
//!   `errno` untouched) and where panics are stopped before they reach C.
//! - [`exports`]: the exported functions and their symbol versions.
//! - [`context`]: which contexts this library created, so that a context's completion ring
//!   is only read while it is known to be mapped.
//! - [`native`]: the `native` engine: the kernel's own AIO context, passed through.
//! - [`region`]: which caller memory the library may read or write itself without risking
//!   a fault.
//! - [`fds`]: descriptor numbers from iocbs, which may be closed or -1, and eventfds.
//! - [`sigmask`]: `io_pgetevents`'s signal mask on the emulated engines (`ppoll`).
//! - [`sys`]: the drop-in's own system calls.
//! - [`forklocal`]: the library's locked globals, which a `fork` child starts afresh (a
//!   lock held by a parent's thread at the fork would be held in the child for ever).
//!
//! - [`dispatch`]: routes each call to the engine serving its context.
//! - [`emulated`] and [`userring`]: the `uring` and `threads` engines, whose
//!   `io_context_t` is a user-space ring with the kernel ring's layout.
//!
//! Engine choice ([`engine`]): `AIOLOS_ENGINE=native|uring|threads`, default `native`.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod abi;
pub mod bounce;
pub mod caller;
pub mod context;
pub mod dispatch;
pub mod emulated;
pub mod engine;
pub mod exports;
pub mod fds;
pub mod ffi;
pub mod forklocal;
pub mod imports;
pub mod native;
pub mod region;
pub mod sigmask;
pub mod sys;
#[cfg(test)]
mod test_support;
pub mod userring;
