//! Room for the copy, claimed before any data is written: the blocks of SRC's data regions
//! are allocated in the temporary copy (`fallocate`; holes stay holes), so a file system
//! that is too small fails the copy at once, with the space needed and the space free,
//! instead of after writing all it could. Where `fallocate` is not supported the free space
//! (`statvfs`) is compared instead.

use anyhow::{bail, Result};
use rustix::fs::FallocateFlags;
use rustix::io::Errno;
use std::fs::File;
use std::path::Path;

/// Bytes as `5.0 MiB (5242880 bytes)`.
pub fn bytes(n: u64) -> String {
    let units = [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    match units.iter().find(|(u, _)| n >= *u) {
        Some((u, name)) => format!("{:.1} {name} ({n} bytes)", n as f64 / *u as f64),
        None => format!("{n} bytes"),
    }
}

/// Bytes available to this user on the file system holding `file`.
pub fn free_bytes(file: &File) -> Option<u64> {
    let st = rustix::fs::fstatvfs(file).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The error for a copy that does not fit in `dir`.
pub fn no_space(dir: &Path, needed: u64, free: Option<u64>) -> anyhow::Error {
    anyhow::anyhow!(
        "not enough space for the copy in {}: it needs {}, {} free; free some space or \
         copy elsewhere",
        dir.display(),
        bytes(needed),
        free.map_or_else(|| "an unknown amount".to_string(), bytes)
    )
}

/// Allocates `extents` (`(start, end)` byte ranges) in `file` without changing its size.
///
/// # Errors
/// When the file system in `dir` has less room than the extents need.
pub fn reserve(file: &File, dir: &Path, extents: &[(u64, u64)]) -> Result<()> {
    let needed: u64 = extents.iter().map(|&(s, e)| e - s).sum();
    for &(start, end) in extents {
        match rustix::fs::fallocate(file, FallocateFlags::KEEP_SIZE, start, end - start) {
            Ok(()) => {}
            Err(Errno::NOSPC) | Err(Errno::DQUOT) | Err(Errno::FBIG) => {
                return Err(no_space(dir, needed, free_bytes(file)));
            }
            // No fallocate here (some FUSE and network file systems): compare instead.
            Err(_) => return check_free(file, dir, needed),
        }
    }
    Ok(())
}

/// Fails when fewer than `needed` bytes are free where `file` is.
fn check_free(file: &File, dir: &Path, needed: u64) -> Result<()> {
    match free_bytes(file) {
        Some(free) if free < needed => bail!(no_space(dir, needed, Some(free))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_given_in_binary_units_and_in_bytes() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(5 << 20), "5.0 MiB (5242880 bytes)");
        assert_eq!(bytes(3 << 29), "1.5 GiB (1610612736 bytes)");
    }
}
