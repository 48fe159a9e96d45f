//! Shared helpers for the conformance suite: every behaviour test runs on every engine.
#![allow(dead_code)]

pub mod faultfs;
pub mod fs;
pub mod loopdev;
pub mod quarantine;
pub mod seccomp;
pub mod tmpfs;

use aiolos::{EngineKind, Error, IoBufMut, Ring};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Generates one `#[test]` per engine that calls `$body(kind)`.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod native {
            $( #[test] fn $name() { super::$name(aiolos::EngineKind::Native) } )*
        }
        mod uring {
            $( #[test] fn $name() { super::$name(aiolos::EngineKind::Uring) } )*
        }
        mod threads {
            $( #[test] fn $name() { super::$name(aiolos::EngineKind::Threads) } )*
        }
    };
}

/// A ring on `kind`, or `None` with a printed skip when the engine cannot run here.
pub fn ring<B: IoBufMut>(kind: EngineKind, entries: u32) -> Option<Ring<B>> {
    match Ring::builder().entries(entries).engine(kind).build::<B>() {
        Ok(r) => Some(r),
        Err(Error::EngineUnavailable { kind, reason }) => {
            eprintln!("SKIP: engine {kind} unavailable: {reason}");
            None
        }
        Err(e) => panic!("creating a {kind} ring failed: {e}"),
    }
}

/// A deterministic byte pattern: byte i of a file is a function of its offset.
pub fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let x = offset + i;
            (x ^ (x >> 8) ^ (x >> 16)).wrapping_mul(31) as u8
        })
        .collect()
}

/// A directory for test files on the file system that holds the build (a real disk
/// file system, so O_DIRECT works), removed on drop.
pub fn scratch_dir() -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tempfile::Builder::new()
        .prefix("aiolos-test-")
        .tempdir_in(base)
        .expect("create scratch dir")
}

/// Creates `path` filled with `pattern(0, len)`.
pub fn patterned_file(path: &Path, len: usize) {
    let mut f = File::create(path).expect("create file");
    f.write_all(&pattern(0, len)).expect("fill file");
    f.sync_all().expect("sync");
}

/// Opens for reading and writing, optionally with O_DIRECT.
pub fn open_rw(path: &Path, direct: bool) -> File {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true);
    if direct {
        o.custom_flags(aiolos::sys::O_DIRECT);
    }
    o.open(path).expect("open")
}

/// Drops `file`'s clean pages from the page cache (`posix_fadvise(POSIX_FADV_DONTNEED)`), so
/// the next buffered read goes to the device.
pub fn drop_page_cache(file: impl std::os::fd::AsFd) {
    rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed).expect("posix_fadvise");
}

/// The completion's byte count, panicking with the error otherwise.
pub fn bytes<B>(c: &aiolos::Completion<B>) -> usize {
    match &c.result {
        Ok(n) => *n,
        Err(e) => panic!("request {:?} failed: {e}", c.token),
    }
}

/// Eventfds for tests, on `rustix` as the library's own are.
pub mod eventfd {
    use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::Duration;

    /// A non-blocking eventfd with counter 0.
    pub fn eventfd() -> OwnedFd {
        rustix::event::eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).expect("eventfd")
    }

    /// Reads and resets the counter; 0 if nothing was signalled.
    pub fn eventfd_drain(fd: impl AsFd) -> u64 {
        let mut buf = [0u8; 8];
        match rustix::io::read(fd, &mut buf) {
            Ok(_) => u64::from_ne_bytes(buf),
            Err(rustix::io::Errno::AGAIN) => 0,
            Err(e) => panic!("reading the eventfd: {e}"),
        }
    }

    /// Whether `fd` becomes readable within `timeout` (one `poll`).
    pub fn readable(fd: impl AsFd, timeout: Duration) -> bool {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let ts = Timespec::try_from(timeout).expect("timeout");
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => fds[0].revents().contains(PollFlags::IN),
            Err(e) => panic!("poll: {e}"),
        }
    }
}
