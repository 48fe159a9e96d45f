//! Which parts of SRC to copy: its data regions (holes are skipped), widened to the
//! O_DIRECT unit, cut into requests of at most `--bs` bytes.

use aiolos::align;
use rustix::fs::SeekFrom;
use rustix::io::Errno;
use std::fs::File;

/// The data regions of the first `size` bytes of `file`, as `(start, end)`; the whole
/// file as one region where the file system cannot tell (no `SEEK_DATA`).
pub fn data_extents(file: &File, size: u64) -> Vec<(u64, u64)> {
    let whole = if size == 0 { vec![] } else { vec![(0, size)] };
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < size {
        let start = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(s) if s < size => s,
            Ok(_) | Err(Errno::NXIO) => break,
            Err(_) => return whole,
        };
        let end = match rustix::fs::seek(file, SeekFrom::Hole(start)) {
            Ok(e) => e.min(size),
            Err(Errno::NXIO) => size,
            Err(_) => return whole,
        };
        if end <= start {
            return whole;
        }
        out.push((start, end));
        pos = end;
    }
    out
}

/// Widens every region to whole units of `unit` bytes and merges those that then touch.
pub fn align_extents(extents: &[(u64, u64)], unit: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &(s, e) in extents {
        let (s, e) = (align::align_down(s, unit), align::align_up(e, unit));
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The requests to make: `(offset, length)` pieces of at most `bs` bytes.
pub fn chunks(extents: Vec<(u64, u64)>, bs: u64) -> impl Iterator<Item = (u64, u64)> {
    extents.into_iter().flat_map(move |(s, e)| {
        (s..e)
            .step_by(bs as usize)
            .map(move |off| (off, bs.min(e - off)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn aligned_extents_cover_whole_units_and_merge_when_they_touch() {
        let e = align_extents(&[(10, 20), (600, 700), (5000, 5001)], 512);
        assert_eq!(e, vec![(0, 1024), (4608, 5120)]);
    }

    #[test]
    fn chunks_split_each_extent_at_the_block_size() {
        let c: Vec<_> = chunks(vec![(0, 10), (20, 25)], 4).collect();
        assert_eq!(c, vec![(0, 4), (4, 4), (8, 2), (20, 4), (24, 1)]);
    }
    #[test]
    fn data_extents_of_a_sparse_file_skip_its_hole() {
        let f = tempfile::tempfile().unwrap();
        let size = 64 << 20;
        f.set_len(size).unwrap();
        f.write_all_at(&[1u8; 4096], 32 << 20).unwrap();
        let e = data_extents(&f, size);
        let total: u64 = e.iter().map(|(s, e)| e - s).sum();
        if e == vec![(0, size)] {
            eprintln!("SKIP: this file system does not report holes (SEEK_DATA)");
            return;
        }
        assert!(total < size / 2, "{e:?}");
        assert!(
            e.iter()
                .any(|&(s, end)| s <= 32 << 20 && end >= (32 << 20) + 4096),
            "{e:?}"
        );
    }
}
