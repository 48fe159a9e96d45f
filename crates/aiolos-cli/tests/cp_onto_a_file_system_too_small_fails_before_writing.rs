//! A copy that cannot fit fails before any data is written, naming the directory, the
//! space the copy needs and the space free (not "No space left" at some offset).

mod common;
use common::tmpfs::SmallTmpfs;
use common::{run_err, scratch, write_pattern};
use std::ffi::OsStr;

#[test]
fn the_error_names_the_directory_the_size_needed_and_the_space_free() {
    let Some(fs) = SmallTmpfs::mount() else {
        return;
    };
    let d = scratch();
    let src = d.path().join("src");
    write_pattern(&src, 5 << 20);
    for mode in ["--qd=32", "--buffered"] {
        let dst = fs.path().join("dst");
        let err = run_err(&[
            OsStr::new("cp"),
            OsStr::new(mode),
            src.as_os_str(),
            dst.as_os_str(),
        ]);
        assert!(err.contains("not enough space"), "{mode}: {err}");
        assert!(
            err.contains(&fs.path().display().to_string()),
            "{mode}: {err}"
        );
        assert!(
            err.contains("needs 5.0 MiB (5242880 bytes)"),
            "{mode}: {err}"
        );
        assert!(err.contains(" free"), "{mode}: {err}");
        assert!(
            !err.contains("offset"),
            "{mode}: failed while writing: {err}"
        );
        assert_eq!(std::fs::read_dir(fs.path()).unwrap().count(), 0, "{mode}");
    }
}

#[test]
fn a_sparse_source_needs_only_its_data_and_fits() {
    let Some(fs) = SmallTmpfs::mount() else {
        return;
    };
    let d = scratch();
    let src = d.path().join("sparse");
    let f = std::fs::File::create(&src).unwrap();
    f.set_len(64 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[7u8; 4096], 32 << 20).unwrap();
    let dst = fs.path().join("dst");
    let out = common::bin()
        .arg("cp")
        .arg(&src)
        .arg(&dst)
        .output()
        .unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not enough space"), "{err}");
        eprintln!("SKIP: holes are not reported (SEEK_DATA) on the scratch file system");
        return;
    }
    common::assert_same_bytes(&src, &dst);
}
