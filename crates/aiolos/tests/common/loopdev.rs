//! Loop-device fixture: a block device with a chosen logical sector size, backed by an
//! image file, optionally formatted with ext4 and mounted. Everything is torn down on drop
//! (also on panic): unmount, detach the loop device, remove the image.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An attached loop device (and, after [`LoopDev::mount_ext4`], a mounted ext4 on it).
pub struct LoopDev {
    dev: PathBuf,
    dir: tempfile::TempDir,
    mounted: Option<PathBuf>,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{cmd:?} not runnable: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl LoopDev {
    /// A loop device of `size` bytes with `sector` byte logical blocks and direct I/O to
    /// its image, or `None` after printing a skip when loop devices cannot be created here.
    pub fn create(size: u64, sector: u32) -> Option<LoopDev> {
        let dir = tempfile::Builder::new()
            .prefix("aiolos-loop-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("create loop scratch dir");
        let img = dir.path().join("disk.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(size))
            .expect("create image");
        let attached = run(Command::new("losetup")
            .args([
                "-f",
                "--show",
                "--sector-size",
                &sector.to_string(),
                "--direct-io=on",
            ])
            .arg(&img));
        match attached {
            Ok(dev) => Some(LoopDev {
                dev: PathBuf::from(dev),
                dir,
                mounted: None,
            }),
            Err(e) => {
                eprintln!("SKIP: cannot create a {sector}-byte-sector loop device: {e}");
                None
            }
        }
    }

    /// The device node, e.g. `/dev/loop3`.
    pub fn dev(&self) -> &Path {
        &self.dev
    }

    /// Formats the device with ext4 and mounts it; returns the mount point, or `None`
    /// after printing a skip when mkfs or mount is not possible.
    pub fn mount_ext4(&mut self) -> Option<PathBuf> {
        if let Err(e) = run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&self.dev)) {
            eprintln!("SKIP: mkfs.ext4 on a loop device: {e}");
            return None;
        }
        let mnt = self.dir.path().join("mnt");
        std::fs::create_dir(&mnt).expect("create mount point");
        if let Err(e) = run(Command::new("mount").arg(&self.dev).arg(&mnt)) {
            eprintln!("SKIP: mounting ext4 from a loop device: {e}");
            return None;
        }
        self.mounted = Some(mnt.clone());
        Some(mnt)
    }

    /// Unmounts and mounts the file system again (after a shutdown, say); returns the
    /// mount point. Panics if either step fails: a mounted file system was expected.
    pub fn remount(&mut self) -> PathBuf {
        // Still recorded as mounted until the unmount succeeds, so that a panic here
        // leaves the unmount to `Drop`.
        let mnt = self
            .mounted
            .clone()
            .expect("remount of a device that is not mounted");
        // The file system can stay busy for a moment after the test closed its file: the
        // kernel tears a dropped io_uring ring down asynchronously, and a child forked by a
        // test on another thread holds copies of our descriptors until it execs. Seen once
        // under ThreadSanitizer on a loaded machine ("target is busy"). Retry that for a
        // while; any other error is fatal.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match run(Command::new("umount").arg(&mnt)) {
                Ok(_) => break,
                Err(e) if e.contains("busy") && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("unmount for remount: {e}"),
            }
        }
        self.mounted = None;
        run(Command::new("mount").arg(&self.dev).arg(&mnt)).expect("mount again");
        self.mounted = Some(mnt.clone());
        mnt
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        if let Some(mnt) = self.mounted.take() {
            if let Err(e) = run(Command::new("umount").arg(&mnt)) {
                eprintln!("warning: {e}; trying a lazy unmount");
                let _ = run(Command::new("umount").arg("-l").arg(&mnt));
            }
        }
        if let Err(e) = run(Command::new("losetup").arg("-d").arg(&self.dev)) {
            eprintln!("warning: detaching {}: {e}", self.dev.display());
        }
    }
}
