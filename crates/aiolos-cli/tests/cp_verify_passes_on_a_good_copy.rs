//! `aiolos cp --verify` reads both files back and succeeds when they match.

mod common;

use common::{assert_same_bytes, run_ok, scratch, write_pattern};
use std::ffi::OsStr;

#[test]
fn verify_succeeds_for_direct_and_buffered_copies() {
    let d = scratch();
    let src = d.path().join("src");
    write_pattern(&src, (3 << 20) + 777);
    for (i, mode) in ["--qd=8", "--buffered"].iter().enumerate() {
        let dst = d.path().join(format!("dst{i}"));
        run_ok(&[
            OsStr::new("cp"),
            OsStr::new("--verify"),
            OsStr::new(mode),
            src.as_os_str(),
            dst.as_os_str(),
        ]);
        assert_same_bytes(&src, &dst);
    }
}
