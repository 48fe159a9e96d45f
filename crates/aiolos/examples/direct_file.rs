//! `DirectFile`: O_DIRECT without the alignment rules. Writes and reads at odd offsets and
//! lengths (the library reads and patches the partial blocks), then the zero-copy path
//! with an aligned buffer, and checks every byte against a plain in-memory copy.
//!
//!     cargo run --example direct_file [PATH]
//!
//! Without PATH, a temporary file is used. PATH must be on a file system with O_DIRECT
//! (ext4, xfs, btrfs, tmpfs on recent kernels).

use aiolos::{BufResult, DirectFile};
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| dir.path().join("direct_file.dat"), Into::into);
    let file = DirectFile::create(&path)?;
    let align = file.alignment();
    println!(
        "{}: memory alignment {}, offset alignment {}",
        path.display(),
        align.mem(),
        align.offset()
    );

    // The expected contents, kept in memory.
    let mut model = Vec::new();

    // Unaligned writes: inside one block, across a block boundary, and a large one that
    // starts and ends mid-block. Each is one call; no buffer needs special memory.
    let writes: [(usize, usize, u8); 4] = [
        (1, 10, b'a'),
        (500, 30, b'b'),
        (3, 9000, b'c'),
        (8191, 2, b'd'),
    ];
    for (at, len, byte) in writes {
        let data = vec![byte; len];
        let n = file.write_at(&data, at as u64)?;
        assert_eq!(n, len);
        put(&mut model, &data, at);
    }
    assert_eq!(file.len()?, model.len() as u64);

    // Unaligned reads: any offset, any length, into an ordinary buffer.
    for (at, len) in [(0, 1), (7, 13), (499, 33), (8000, 300), (0, model.len())] {
        let mut buf = vec![0u8; len];
        let n = file.read_at(&mut buf, at as u64)?;
        assert_eq!(n, len.min(model.len() - at));
        assert_eq!(
            &buf[..n],
            &model[at..at + n],
            "read of {len} bytes at {at} differs"
        );
    }

    // The zero-copy path: an aligned buffer at an aligned offset goes straight to the
    // kernel; the buffer comes back with the result.
    let at = file.align_up(model.len() as u64);
    let mut buf = file.alloc_buf(align.offset());
    buf.iter_mut().for_each(|b| *b = b'z');
    let BufResult(n, buf) = file.write_aligned(buf, at);
    assert_eq!(n?, buf.len());
    put(&mut model, &buf, at as usize);
    let BufResult(n, back) = file.read_aligned(file.alloc_buf(buf.len()), at);
    assert_eq!(&back[..n?], &buf[..]);

    // Misaligned input to the zero-copy path is refused with the required alignment.
    let BufResult(err, _) = file.read_aligned(file.alloc_buf(align.offset()), 1);
    let err = err.expect_err("offset 1 is never aligned for O_DIRECT");
    println!("as expected: {err}");

    let mut all = vec![0u8; model.len()];
    assert_eq!(file.read_at(&mut all, 0)?, model.len());
    assert!(all == model, "the file differs from the model");
    println!(
        "{} bytes written and read back at unaligned offsets, all verified",
        model.len()
    );
    Ok(())
}

/// Writes `data` at `at` into the in-memory model of the file.
fn put(model: &mut Vec<u8>, data: &[u8], at: usize) {
    if model.len() < at + data.len() {
        model.resize(at + data.len(), 0);
    }
    model[at..at + data.len()].copy_from_slice(data);
}
