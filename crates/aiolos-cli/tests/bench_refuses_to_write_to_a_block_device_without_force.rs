//! Writing to a block device destroys it: the bench refuses unless --force is given.

use assert_cmd::Command;
use predicates::str::contains;
use std::process::Command as Std;

/// A loop device over a file, detached on drop (also when the test fails).
struct Loop(String);

impl Loop {
    fn new(backing: &std::path::Path) -> Result<Loop, String> {
        let out = Std::new("losetup")
            .args(["-f", "--show"])
            .arg(backing)
            .output()
            .map_err(|e| format!("cannot run losetup: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Loop(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Std::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn writing_to_a_block_device_needs_force_and_reading_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("disk");
    std::fs::write(&backing, vec![0u8; 8 << 20]).unwrap();
    let dev = match Loop::new(&backing) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP: cannot create a loop device: {e}");
            return;
        }
    };
    Command::cargo_bin("aiolos")
        .unwrap()
        .args([
            "bench",
            "--engine",
            "native",
            "--rw",
            "randwrite",
            "--runtime",
            "1",
        ])
        .args(["--file", &dev.0])
        .assert()
        .failure()
        .stderr(contains("refusing to write to the block device"))
        .stderr(contains("--force"));
    assert!(
        std::fs::read(&backing).unwrap().iter().all(|&b| b == 0),
        "nothing was written"
    );
    Command::cargo_bin("aiolos")
        .unwrap()
        .args([
            "bench",
            "--engine",
            "native",
            "--rw",
            "randread",
            "--runtime",
            "0.3",
        ])
        .args(["--file", &dev.0])
        .assert()
        .success();
    Command::cargo_bin("aiolos")
        .unwrap()
        .args([
            "bench",
            "--engine",
            "native",
            "--rw",
            "randwrite",
            "--runtime",
            "0.3",
        ])
        .args(["--force", "--file", &dev.0])
        .assert()
        .success();
}
