//! `aiolos cp` between an ext4 on 512-byte sectors and one on 4096-byte sectors uses the
//! larger alignment and still copies unaligned sizes exactly.

mod common;

use common::loopdev::LoopDev;
use common::{assert_same_bytes, run_ok, scratch, write_pattern};
use std::ffi::OsStr;

#[test]
fn unaligned_files_cross_a_4k_sector_file_system_intact() {
    let Some(mut dev) = LoopDev::create(64 << 20, 4096) else {
        return;
    };
    let Some(mnt) = dev.mount_ext4() else {
        return;
    };
    let d = scratch();
    for len in [1u64, 4095, 4097, (5 << 20) + 123] {
        let src = d.path().join(format!("src{len}"));
        write_pattern(&src, len);
        let there = mnt.join(format!("f{len}"));
        let log = run_ok(&[
            OsStr::new("cp"),
            OsStr::new("-v"),
            OsStr::new("--verify"),
            src.as_os_str(),
            there.as_os_str(),
        ]);
        assert!(log.contains("O_DIRECT (alignment 4096)"), "{log}");
        assert_same_bytes(&src, &there);
        let back = d.path().join(format!("back{len}"));
        run_ok(&[OsStr::new("cp"), there.as_os_str(), back.as_os_str()]);
        assert_same_bytes(&src, &back);
    }
}
