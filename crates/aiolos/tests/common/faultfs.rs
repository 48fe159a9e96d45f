//! The faultfs fixture: a FUSE file system whose reads and writes fail with EIO or stall
//! on chosen ranges. Built from `tests/fixtures/faultfs.c` on first use; mounted in a
//! temporary directory and unmounted (and its process killed) on drop, also on panic.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the mounted file system does.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub size: u64,
    pub eio: Option<(u64, u64)>,
    pub stall: Option<(u64, u64, Duration)>,
}

/// A mounted faultfs; `data()` is its one file.
pub struct FaultFs {
    dir: tempfile::TempDir,
    /// One byte per stall begun (`FAULTFS_STALL_LOG`).
    stall_log: tempfile::NamedTempFile,
    child: Option<Child>,
}

fn binary() -> Result<PathBuf, String> {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faultfs");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faultfs.c");
    let fresh = match (out.metadata(), src.metadata()) {
        (Ok(o), Ok(s)) => o.modified().ok() >= s.modified().ok(),
        _ => false,
    };
    if fresh {
        return Ok(out);
    }
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "fuse3"])
        .output()
        .map_err(|e| format!("pkg-config not runnable: {e}"))?;
    if !flags.status.success() {
        return Err("libfuse3-dev is not installed (pkg-config fuse3 failed)".into());
    }
    let flags = String::from_utf8_lossy(&flags.stdout).to_string();
    // Build to a unique name, then rename, so parallel test binaries do not race.
    // (Unique per thread too: one test binary runs its tests on several threads.)
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out.with_extension(format!("tmp{}-{n}", std::process::id()));
    let status = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .args(flags.split_whitespace())
        .status()
        .map_err(|e| format!("cc not runnable: {e}"))?;
    if !status.success() {
        return Err("building faultfs failed".into());
    }
    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
    Ok(out)
}

impl FaultFs {
    /// As [`FaultFs::mount`], printing `SKIP: reason` and returning `None` where it cannot.
    pub fn mount_or_skip(f: &Faults) -> Option<FaultFs> {
        FaultFs::mount(f)
            .map_err(|why| eprintln!("SKIP: faultfs unavailable: {why}"))
            .ok()
    }

    /// Mounts a faultfs, or returns why it cannot here (printed as a skip by callers).
    pub fn mount(f: &Faults) -> Result<FaultFs, String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("/dev/fuse is missing".into());
        }
        let bin = binary()?;
        let dir = tempfile::Builder::new()
            .prefix("aiolos-faultfs-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let stall_log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let (eio_off, eio_len) = f.eio.unwrap_or((0, 0));
        let (st_off, st_len, st_dur) = f.stall.unwrap_or((0, 0, Duration::ZERO));
        let child = Command::new(bin)
            .arg("-f")
            .args(["-o", "max_threads=64"])
            .arg(dir.path())
            .env("FAULTFS_SIZE", f.size.max(1).to_string())
            .env("FAULTFS_EIO_OFF", eio_off.to_string())
            .env("FAULTFS_EIO_LEN", eio_len.to_string())
            .env("FAULTFS_STALL_OFF", st_off.to_string())
            .env("FAULTFS_STALL_LEN", st_len.to_string())
            .env("FAULTFS_STALL_MS", st_dur.as_millis().to_string())
            .env("FAULTFS_STALL_LOG", stall_log.path())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting faultfs: {e}"))?;
        let mut fs = FaultFs {
            dir,
            stall_log,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if fs.data().exists() {
                return Ok(fs);
            }
            if let Some(c) = fs.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("faultfs exited: {status}"));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("faultfs did not come up within 10 s".into())
    }

    /// The file with the faults.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// How many requests have reached the file system in the stalled range (each is
    /// stalling now or has stalled).
    pub fn stalls_begun(&self) -> u64 {
        self.stall_log.as_file().metadata().map_or(0, |m| m.len())
    }

    /// Waits until `n` stalled requests have reached the file system; false after `limit`.
    pub fn wait_for_stalls(&self, n: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.stalls_begun() < n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg("-z")
            .arg(self.dir.path())
            .stderr(Stdio::null())
            .status();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
