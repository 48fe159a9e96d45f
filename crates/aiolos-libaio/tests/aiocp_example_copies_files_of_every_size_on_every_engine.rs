//! examples/aiocp.c, built against our header (as C, C++ and with 64-bit file offsets) and
//! run on our library on every engine: copies of 0, 1, 4095 and 1 MiB + 17 bytes equal
//! their source byte for byte, with O_DIRECT where the file system has it (the unaligned
//! tail padded and truncated) and on tmpfs when /dev/shm is one.
mod common;

use common::{Variant, ENGINES};
use std::ffi::OsStr;
use std::path::Path;

const SIZES: [usize; 4] = [0, 1, 4095, (1 << 20) + 17];

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 9) ^ seed) as u8)
        .collect()
}

/// Asserts that the program runs on the library under test, not on the system's libaio.
fn assert_links_our_library(exe: &Path) {
    let out = std::process::Command::new(exe)
        .env("LD_LIBRARY_PATH", common::library_dir())
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .expect("ask the dynamic linker");
    let libs = String::from_utf8_lossy(&out.stdout);
    let ours = common::library_dir().to_string_lossy().into_owned();
    assert!(
        libs.lines()
            .any(|l| l.contains("libaio.so.1") && l.contains(&ours)),
        "{} does not load libaio.so.1 from {ours}:\n{libs}",
        exe.display()
    );
}

fn copy_and_compare(exe: &Path, dir: &Path, engine: &str, size: usize, opts: &[&str]) {
    let src = dir.join(format!("src-{size}"));
    let dst = dir.join(format!("dst-{size}"));
    let data = pattern(size, size);
    std::fs::write(&src, &data).expect("write the source");
    let _ = std::fs::remove_file(&dst);
    let mut args: Vec<&OsStr> = opts.iter().map(OsStr::new).collect();
    args.push(src.as_os_str());
    args.push(dst.as_os_str());
    let out = common::run_in(exe, &args, dir, &[("AIOLOS_ENGINE", engine)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let what = format!(
        "aiocp {opts:?} of {size} bytes on {engine} in {}:\n{stdout}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what}");
    assert!(
        stdout.contains(&format!("copied {size} bytes")),
        "no byte count in the output of {what}"
    );
    for line in stdout.lines().take(2) {
        // "PATH: O_DIRECT, memory alignment M, offset alignment O (SOURCE)" or buffered.
        let direct = line.contains(": O_DIRECT, memory alignment ");
        assert!(
            direct || line.contains(": buffered,"),
            "unexpected line {line:?} in {what}"
        );
        if direct {
            let nums: Vec<u64> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|t| t.parse().ok())
                .collect();
            assert!(
                nums.iter()
                    .rev()
                    .take(2)
                    .all(|n| n.is_power_of_two() && *n >= 1),
                "alignments are not powers of two in {line:?}"
            );
        }
    }
    let copy = std::fs::read(&dst).expect("read the copy");
    assert_eq!(copy.len(), size, "size of the copy differs: {what}");
    assert!(copy == data, "the copy differs from its source: {what}");
}

#[test]
fn aiocp_example_copies_files_of_every_size_on_every_engine() {
    let src = common::crate_dir().join("examples/aiocp.c");
    let disk = common::scratch_dir();
    let shm = Path::new("/dev/shm");
    let tmpfs = shm
        .is_dir()
        .then(|| tempfile::tempdir_in(shm).expect("dir in /dev/shm"));
    if tmpfs.is_none() {
        eprintln!("SKIP: no /dev/shm; aiocp runs on the disk file system only");
    }
    for variant in Variant::ALL {
        let exe = common::compile_source(&src, variant);
        assert_links_our_library(&exe);
        for engine in ENGINES {
            for size in SIZES {
                // The default 1 MiB blocks, and 64 KiB blocks so that slots are refilled.
                copy_and_compare(&exe, disk.path(), engine, size, &[]);
                copy_and_compare(&exe, disk.path(), engine, size, &["-b", "65536", "-n", "4"]);
                if let Some(t) = &tmpfs {
                    copy_and_compare(&exe, t.path(), engine, size, &["-b", "4096", "-n", "8"]);
                }
            }
        }
    }
}
