//! Helpers shared by the cp and probe tests.
#![allow(dead_code)]

/// The loop-device fixture is the library's, shared rather than copied.
#[path = "../../../aiolos/tests/common/loopdev.rs"]
#[allow(dead_code)]
pub mod loopdev;

/// The small tmpfs fixture is the library's too.
#[path = "../../../aiolos/tests/common/tmpfs.rs"]
pub mod tmpfs;

use std::io::Read;
use std::path::Path;
use std::process::Command;

/// The `aiolos` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aiolos"))
}

/// A scratch directory on the disk under the target directory (not on a tmpfs /tmp).
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("aiolos-cp-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create scratch dir")
}

/// Writes `len` bytes of a position-dependent pattern: every 8-byte word holds its own
/// offset, mixed, so no two blocks are alike and a misplaced block shows.
pub fn write_pattern(path: &Path, len: u64) {
    let mut data = Vec::with_capacity(len as usize + 8);
    for word in 0..len.div_ceil(8) {
        data.extend_from_slice(&(word.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ word).to_le_bytes());
    }
    data.truncate(len as usize);
    std::fs::write(path, data).expect("write source");
}

/// Asserts that two files hold the same bytes, naming the first difference.
pub fn assert_same_bytes(a: &Path, b: &Path) {
    let (ma, mb) = (std::fs::metadata(a).unwrap(), std::fs::metadata(b).unwrap());
    assert_eq!(ma.len(), mb.len(), "sizes of {a:?} and {b:?}");
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut off = 0u64;
    loop {
        let n = read_full(&mut fa, &mut x);
        let m = read_full(&mut fb, &mut y);
        assert_eq!(n, m, "short read at {off}");
        if x[..n] != y[..n] {
            let i = x[..n]
                .iter()
                .zip(&y[..n])
                .position(|(p, q)| p != q)
                .unwrap_or(0);
            panic!("{a:?} and {b:?} differ at byte {}", off + i as u64);
        }
        if n == 0 {
            return;
        }
        off += n as u64;
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// Runs `aiolos ARGS`, asserting success; returns stderr.
pub fn run_ok(args: &[&std::ffi::OsStr]) -> String {
    let out = bin().args(args).output().expect("run aiolos");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "aiolos {args:?} failed: {err}");
    err
}

/// Runs `aiolos ARGS`, asserting failure; returns stderr.
pub fn run_err(args: &[&std::ffi::OsStr]) -> String {
    let out = bin().args(args).output().expect("run aiolos");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "aiolos {args:?} succeeded: {err}");
    err
}

/// Names in `dir` that look like cp's temporary files.
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".aiolos-cp"))
        .collect()
}
