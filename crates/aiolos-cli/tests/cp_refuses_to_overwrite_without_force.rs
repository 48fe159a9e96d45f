//! `aiolos cp` leaves an existing DST alone unless `--force` is given, and names the
//! problem when SRC is missing, DST's directory is missing, or both are the same file.

mod common;

use common::{assert_same_bytes, run_err, run_ok, scratch, write_pattern};
use std::ffi::OsStr;

#[test]
fn an_existing_destination_is_kept_without_force_and_replaced_with_it() {
    let d = scratch();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    write_pattern(&src, 100_000);
    std::fs::write(&dst, b"precious").unwrap();
    let err = run_err(&[OsStr::new("cp"), src.as_os_str(), dst.as_os_str()]);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"precious");
    run_ok(&[
        OsStr::new("cp"),
        OsStr::new("--force"),
        src.as_os_str(),
        dst.as_os_str(),
    ]);
    assert_same_bytes(&src, &dst);
}

#[test]
fn a_missing_source_is_named() {
    let d = scratch();
    let err = run_err(&[
        OsStr::new("cp"),
        d.path().join("nope").as_os_str(),
        d.path().join("x").as_os_str(),
    ]);
    assert!(
        err.contains("SRC") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn a_missing_destination_directory_is_named() {
    let d = scratch();
    let src = d.path().join("src");
    std::fs::write(&src, b"data").unwrap();
    let err = run_err(&[
        OsStr::new("cp"),
        src.as_os_str(),
        d.path().join("no/such/dir/x").as_os_str(),
    ]);
    assert!(
        err.contains("directory of DST") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn copying_a_file_onto_itself_is_refused_even_with_force() {
    let d = scratch();
    let src = d.path().join("src");
    std::fs::write(&src, b"data").unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&src, &link).unwrap();
    let err = run_err(&[
        OsStr::new("cp"),
        OsStr::new("--force"),
        src.as_os_str(),
        link.as_os_str(),
    ]);
    assert!(err.contains("same file"), "{err}");
    assert_eq!(std::fs::read(&src).unwrap(), b"data");
}

#[test]
fn a_directory_destination_receives_the_file_under_its_own_name() {
    let d = scratch();
    let src = d.path().join("src");
    write_pattern(&src, 4097);
    let sub = d.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    run_ok(&[OsStr::new("cp"), src.as_os_str(), sub.as_os_str()]);
    assert_same_bytes(&src, &sub.join("src"));
}
