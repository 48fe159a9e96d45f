//! `aiolos cp` gives the copy the source's permission bits.

mod common;

use common::{run_ok, scratch, write_pattern};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;

#[test]
fn the_copy_has_the_mode_of_the_source() {
    let d = scratch();
    for mode in [0o640, 0o755, 0o400] {
        let src = d.path().join(format!("src{mode:o}"));
        let dst = d.path().join(format!("dst{mode:o}"));
        write_pattern(&src, 10_000);
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(mode)).unwrap();
        run_ok(&[OsStr::new("cp"), src.as_os_str(), dst.as_os_str()]);
        let got = std::fs::metadata(&dst).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, mode, "mode of the copy of a {mode:o} file");
    }
}
