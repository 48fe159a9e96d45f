//! Verifiable data: every 512-byte sector written by the bench carries a magic number, its
//! own file offset, a seed, and a checksum over the rest, so a read of any sector at any
//! time can tell whether it holds what aiolos wrote there, without remembering history.

/// The unit that carries a stamp.
pub const SECTOR: usize = 512;

const MAGIC: u64 = u64::from_le_bytes(*b"AIOLOSv1");
const K: u64 = 0x9E37_79B9_7F4A_7C15;

fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i * 8..i * 8 + 8]);
    u64::from_le_bytes(w)
}

fn put(b: &mut [u8], i: usize, v: u64) {
    b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x
}

/// The checksum of a sector: every word except the checksum word (index 3).
fn checksum(s: &[u8]) -> u64 {
    let mut h = K;
    for i in (0..SECTOR / 8).filter(|&i| i != 3) {
        h = (h.rotate_left(23) ^ word(s, i)).wrapping_mul(K);
    }
    mix(h)
}

/// Stamps `buf` (a whole number of sectors) as the data for file offset `offset`.
pub fn stamp(buf: &mut [u8], offset: u64, seed: u64) {
    for (n, s) in buf.chunks_exact_mut(SECTOR).enumerate() {
        let off = offset + (n * SECTOR) as u64;
        put(s, 0, MAGIC);
        put(s, 1, off);
        put(s, 2, seed);
        let base = mix(seed ^ off.wrapping_mul(K));
        for i in 4..SECTOR / 8 {
            put(s, i, base ^ (i as u64).wrapping_mul(K));
        }
        let c = checksum(s);
        put(s, 3, c);
    }
}

/// Whether `file` carries the bench's stamp: its first sector starts with the stamp's
/// magic number, as every file the bench creates does (its writes, with or without
/// `--verify`, keep it there).
pub fn is_bench_file(file: &std::fs::File) -> bool {
    let mut head = [0u8; 8];
    std::os::unix::fs::FileExt::read_exact_at(file, &mut head, 0).is_ok()
        && u64::from_le_bytes(head) == MAGIC
}

/// A sector that does not hold what aiolos wrote there.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// File offset of the bad sector.
    pub offset: u64,
    /// What is wrong with it.
    pub what: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "verify failed at offset {} (0x{:x}): {}",
            self.offset, self.offset, self.what
        )
    }
}

/// Checks every sector of `buf`, read from file offset `offset`.
pub fn check(buf: &[u8], offset: u64) -> Result<(), Mismatch> {
    for (n, s) in buf.chunks_exact(SECTOR).enumerate() {
        let off = offset + (n * SECTOR) as u64;
        let bad = |what: String| Mismatch { offset: off, what };
        if word(s, 0) != MAGIC {
            return Err(bad(
                "no aiolos stamp (the file was not written by `aiolos bench`, or the block is corrupt)"
                    .into(),
            ));
        }
        if word(s, 1) != off {
            return Err(bad(format!(
                "the block says it belongs at offset {} (misdirected write or read)",
                word(s, 1)
            )));
        }
        let (want, got) = (word(s, 3), checksum(s));
        if want != got {
            return Err(bad(format!(
                "checksum {got:016x} does not match the stamped {want:016x} (corrupt data)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_block_checks_at_its_own_offset_only() {
        let mut b = vec![0u8; 4 * SECTOR];
        stamp(&mut b, 8192, 7);
        assert_eq!(check(&b, 8192), Ok(()));
        let e = check(&b, 4096).unwrap_err();
        assert_eq!(e.offset, 4096);
    }

    #[test]
    fn a_flipped_bit_is_reported_with_the_offset_of_its_sector() {
        let mut b = vec![0u8; 4 * SECTOR];
        stamp(&mut b, 0, 1);
        b[2 * SECTOR + 100] ^= 1;
        let e = check(&b, 0).unwrap_err();
        assert_eq!(e.offset, 2 * SECTOR as u64);
        assert!(e.what.contains("checksum"), "{e}");
    }

    #[test]
    fn zeroes_are_not_mistaken_for_a_stamp() {
        let b = vec![0u8; SECTOR];
        assert!(check(&b, 0).unwrap_err().what.contains("no aiolos stamp"));
    }
}
