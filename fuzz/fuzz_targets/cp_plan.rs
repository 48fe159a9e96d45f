//! `aiolos cp`'s planning over sparse maps: a source file with data at fuzzer-chosen places
//! and holes elsewhere (on tmpfs, which reports holes exactly and takes O_DIRECT) is copied
//! by the command's own code (`aiolos_cli::cp`), buffered or
//! O_DIRECT, with a fuzzer-chosen block size and queue depth.
//!
//! Checked: `data_extents` covers every byte that holds data, in order, within the file;
//! the copy succeeds and the destination equals the source byte for byte, with the same
//! size.
#![no_main]

use aiolos_cli::cp;

use libfuzzer_sys::fuzz_target;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// The run's scratch directory. A static is never dropped, so a `TempDir` kept in one
/// would outlive the run (one left in /dev/shm per run): it is removed at exit instead
/// (libFuzzer ends a timed run with `exit`).
static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

extern "C" fn remove_dir() {
    if let Some(d) = DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn dir() -> &'static std::path::Path {
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
        let d = tempfile::Builder::new().prefix("aiolos-fuzz-cp-").tempdir_in(base).unwrap().keep();
        // SAFETY: `remove_dir` takes no arguments, reads only `DIR` (set once this
        // initialiser returns, before any exit can run it) and never unwinds.
        let r = unsafe { libc::atexit(remove_dir) };
        assert_eq!(r, 0, "atexit");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (head, rest) = data.split_at(4);
    let size = u64::from(u16::from_le_bytes([head[0], head[1]])) * 64;
    let bs = 1 + u64::from(head[2]) * 997;
    let qd = 1 + u32::from(head[3] % 8);
    let buffered = head[3] & 0x80 != 0;
    let src_path = dir().join("src");
    let dst_path = dir().join("dst");
    let _ = std::fs::remove_file(&src_path);
    let _ = std::fs::remove_file(&dst_path);
    let src = std::fs::File::create(&src_path).unwrap();
    src.set_len(size).unwrap();
    let mut want = vec![0u8; size as usize];
    // Each 4 bytes: where a run of data starts and how long it is.
    for c in rest.chunks_exact(4) {
        if size == 0 {
            break;
        }
        let off = u64::from(u16::from_le_bytes([c[0], c[1]])) * 61 % size;
        let len = (u64::from(c[2]) * 67 + 1).min(size - off);
        let fill = c[3] | 1;
        src.write_all_at(&vec![fill; len as usize], off).unwrap();
        want[off as usize..(off + len) as usize].fill(fill);
    }
    let extents = cp::extents::data_extents(&src, size);
    let mut last = 0;
    for &(s, e) in &extents {
        assert!(last <= s && s < e && e <= size, "extents {extents:?} of a {size}-byte file");
        last = e;
    }
    for (i, &b) in want.iter().enumerate() {
        if b != 0 {
            let i = i as u64;
            assert!(
                extents.iter().any(|&(s, e)| s <= i && i < e),
                "byte {i} holds data outside the extents {extents:?}"
            );
        }
    }
    drop(src);
    let args = cp::CpArgs {
        src: src_path.clone(),
        dst: dst_path.clone(),
        qd,
        bs,
        engine: Some(aiolos::EngineKind::Threads),
        force: true,
        verify: false,
        buffered,
        verbose: false,
    };
    let code = cp::run(args).unwrap_or_else(|e| panic!("cp failed: {e:#}"));
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let got = std::fs::read(&dst_path).unwrap();
    assert_eq!(got.len(), want.len(), "the copy has another size");
    assert!(got == want, "the copy differs from the source");
});
