//! O_DIRECT reads that stay in flight for seconds (tests/c/o_direct_held_in_flight.c): a
//! loop device whose reads the C program's blkio cgroup throttles to 8 KiB a second, so a
//! 16 KiB read takes about two. Timeouts, signals, io_cancel and io_destroy then meet a
//! request that is really in the kernel, on every engine and build variant; on the emulated
//! engines both where O_DIRECT goes by default (a kernel AIO context of the context's own)
//! and with `AIOLOS_DIRECT=engine`. The cgroup and the loop device go when the test ends,
//! also when it fails.
mod common;
// Only `create` and `dev` are used here.
#[allow(dead_code)]
#[path = "../../aiolos/tests/common/loopdev.rs"]
mod loopdev;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

const PROGRAM: &str = "o_direct_held_in_flight";
/// Bytes a second the throttled cgroup may read from the device.
const READ_BPS: u32 = 8192;

/// A blkio (cgroup v1) group throttling reads from one device; removed on drop.
struct Throttle(PathBuf);

impl Throttle {
    fn create(dev: &std::path::Path) -> Result<Throttle, String> {
        let root = std::path::Path::new("/sys/fs/cgroup/blkio");
        if !root.join("cgroup.procs").exists() {
            return Err("no blkio cgroup (v1) hierarchy at /sys/fs/cgroup/blkio".into());
        }
        let rdev = std::fs::metadata(dev)
            .map_err(|e| format!("{}: {e}", dev.display()))?
            .rdev();
        let dir = root.join(format!("aiolos-test-held-{}-{}", std::process::id(), rdev));
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let group = Throttle(dir);
        let rule = format!("{}:{} {READ_BPS}", libc::major(rdev), libc::minor(rdev));
        std::fs::write(group.0.join("blkio.throttle.read_bps_device"), &rule)
            .map_err(|e| format!("throttling reads ({rule}): {e}"))?;
        Ok(group)
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        // The C program was the only member, and it has exited.
        if let Err(e) = std::fs::remove_dir(&self.0) {
            eprintln!("warning: removing {}: {e}", self.0.display());
        }
    }
}

#[test]
fn o_direct_reads_held_in_flight_answer_as_kernel_aio() {
    let Some(dev) = loopdev::LoopDev::create(8 << 20, 512) else {
        return;
    };
    let throttle = match Throttle::create(dev.dev()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIP: {PROGRAM}: cannot throttle the loop device: {e}");
            return;
        }
    };
    let device = dev.dev().to_string_lossy().into_owned();
    let group = throttle.0.to_string_lossy().into_owned();
    let envs = [
        ("AIOLOS_TEST_DEVICE", device.as_str()),
        ("AIOLOS_TEST_CGROUP", group.as_str()),
    ];
    common::run_c_test_with(PROGRAM, &envs);

    // The emulated engines with O_DIRECT on their own io_uring or pool.
    let exe = common::compile(PROGRAM, common::Variant::C);
    for engine in ["uring", "threads"] {
        let mut all = vec![("AIOLOS_ENGINE", engine), ("AIOLOS_DIRECT", "engine")];
        all.extend_from_slice(&envs);
        if let common::Outcome::Skipped(why) = common::run(&exe, &all) {
            eprintln!("SKIP: {PROGRAM} on {engine} with AIOLOS_DIRECT=engine: {why}");
        }
    }
    drop(throttle);
    drop(dev);
}
