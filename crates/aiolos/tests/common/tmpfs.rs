//! A small tmpfs fixture: a 1 MiB file system in a temporary directory, for tests that
//! need a disk to fill up. Unmounted on drop, also when the test fails; a printed SKIP where
//! mounting is not allowed.

use std::path::Path;
use std::process::Command;

/// A 1 MiB tmpfs in a temporary directory; unmounted on drop.
pub struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    pub fn mount() -> Option<SmallTmpfs> {
        let dir = tempfile::Builder::new()
            .prefix("aiolos-tmpfs-")
            .tempdir()
            .expect("create mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "aiolos-test"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallTmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIP: cannot mount a 1 MiB tmpfs: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIP: mount is not runnable: {e}");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}
