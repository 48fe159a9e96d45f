//! `--verify`: SRC and the copy read back from the start and compared, the copy from the
//! device rather than the page cache.

use super::progress::progress_bar;
use super::Plan;
use crate::interrupt::{self, Interrupted};
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{self, Read};
use tempfile::NamedTempFile;

/// What comparing two streams found.
#[derive(Debug, PartialEq, Eq)]
pub enum Compared {
    /// Equal, this many bytes each.
    Same(u64),
    /// They differ first at this offset (or one ends there before the other).
    DiffersAt(u64),
    /// `stop` said to stop before the end.
    Stopped,
}

/// Reads `a` and `b` from the start and compares them, 1 MiB at a time, asking `stop`
/// before each piece.
///
/// # Errors
/// Read errors.
pub fn first_difference(
    a: &mut impl Read,
    b: &mut impl Read,
    pb: &ProgressBar,
    stop: &dyn Fn() -> bool,
) -> io::Result<Compared> {
    const CHUNK: usize = 1 << 20;
    let (mut x, mut y) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut off = 0u64;
    loop {
        if stop() {
            return Ok(Compared::Stopped);
        }
        let n = read_full(a, &mut x)?;
        let m = read_full(b, &mut y)?;
        let common = n.min(m);
        if let Some(i) = x[..common]
            .iter()
            .zip(&y[..common])
            .position(|(p, q)| p != q)
        {
            return Ok(Compared::DiffersAt(off + i as u64));
        }
        if n != m {
            return Ok(Compared::DiffersAt(off + common as u64));
        }
        if n == 0 {
            return Ok(Compared::Same(off));
        }
        off += n as u64;
        pb.inc(n as u64);
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Compares the copy in `tmp`, read from the device, with SRC; returns the bytes compared.
///
/// # Errors
/// A difference (naming the first differing offset), read errors, and
/// [`Interrupted`](crate::interrupt::Interrupted) on Ctrl-C.
pub fn verify(plan: &Plan, tmp: &NamedTempFile) -> Result<u64> {
    let tmp_file = tmp
        .reopen()
        .context("cannot reopen the copy to verify it")?;
    // Read the copy from the device, not from the page cache (a no-op after O_DIRECT).
    let _ = rustix::fs::fadvise(&tmp_file, 0, None, rustix::fs::Advice::DontNeed);
    let mut src = File::open(&plan.src)
        .with_context(|| format!("cannot reopen SRC {} to verify", plan.src.display()))?;
    let pb = progress_bar(plan.size(), "verifying");
    let compared = first_difference(
        &mut src,
        &mut io::BufReader::new(tmp_file),
        &pb,
        &interrupt::interrupted,
    )
    .context("verifying the copy")?;
    pb.finish_and_clear();
    match compared {
        Compared::Same(n) => Ok(n),
        Compared::DiffersAt(off) => bail!(
            "verify failed: the copy differs from SRC {} at byte offset {off}; DST was not written",
            plan.src.display()
        ),
        Compared::Stopped => Err(Interrupted(
            "cp interrupted while verifying the copy; the copy was removed and DST was not written"
                .into(),
        )
        .into()),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_first_differing_offset() {
        let a = vec![7u8; 3 << 20];
        let mut b = a.clone();
        b[(2 << 20) + 5] = 0;
        let pb = ProgressBar::hidden();
        let go = &|| false;
        assert_eq!(
            first_difference(&mut &a[..], &mut &b[..], &pb, go).unwrap(),
            Compared::DiffersAt((2 << 20) + 5)
        );
        assert_eq!(
            first_difference(&mut &a[..], &mut &a[..], &pb, go).unwrap(),
            Compared::Same(3 << 20)
        );
        assert_eq!(
            first_difference(&mut &a[..], &mut &a[..10], &pb, go).unwrap(),
            Compared::DiffersAt(10)
        );
        assert_eq!(
            first_difference(&mut &a[..], &mut &a[..], &pb, &|| true).unwrap(),
            Compared::Stopped
        );
    }
}
