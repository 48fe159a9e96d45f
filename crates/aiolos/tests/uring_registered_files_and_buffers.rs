//! Registered files and buffers on io_uring: requests on them read the right data, the
//! ring reports what it registered, and where the kernel refuses (a memlock limit too low
//! for the buffers) the ring works unregistered and says why. Other engines say they have
//! no registration and work as usual.
mod common;
use aiolos::{EngineKind, FixedBufs, Op, Ring};
use common::*;
use std::time::Duration;

fn read_all(ring: &Ring<aiolos::FixedBuf>, file: &aiolos::Fd, pool: &FixedBufs, n: u64) {
    // In rounds as large as the pool: a buffer comes back to it once its completion is taken.
    for round in 0..n.div_ceil(pool.count() as u64) {
        let first = round * pool.count() as u64;
        let last = (first + pool.count() as u64).min(n);
        for i in first..last {
            let buf = pool.get().expect("a free buffer");
            ring.push(Op::read(file, buf, i * 4096).user_data(i))
                .unwrap();
        }
        let mut seen = first;
        while seen < last {
            for c in ring.wait(1, 64, Some(Duration::from_secs(10))).unwrap() {
                assert_eq!(bytes(&c), 4096);
                let off = c.user_data * 4096;
                let buf = c.into_buf().unwrap();
                assert_eq!(&buf[..], &pattern(off, 4096)[..]);
                seen += 1;
            }
        }
    }
}

fn reads_through_registered_files_and_buffers_return_the_file_s_data(kind: EngineKind) {
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 16 * 4096);
    let file: aiolos::Fd = open_rw(&path, false).into();
    let pool = FixedBufs::new(8, 4096, 4096).unwrap();
    let ring = match Ring::builder()
        .entries(8)
        .engine(kind)
        .register_files([file.clone()])
        .register_buffers(&pool)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIP: engine {kind} unavailable: {e}");
            return;
        }
    };
    let reg = ring.registration().clone();
    if kind == EngineKind::Uring {
        assert_eq!(reg.files, Some(Ok(1)));
        assert_eq!(reg.buffers, Some(Ok(8)));
    } else {
        let why = reg.files.unwrap().unwrap_err();
        assert!(why.contains("io_uring only"), "{why}");
        assert!(reg.buffers.unwrap().is_err());
    }
    read_all(&ring, &file, &pool, 16);
    drop(ring);
    // Every buffer is back in the pool once the ring is gone.
    let all: Vec<_> = (0..8).map(|_| pool.get().expect("returned")).collect();
    assert!(pool.get().is_none());
    drop(all);
}

on_every_engine!(reads_through_registered_files_and_buffers_return_the_file_s_data);

/// Set in the child that runs as an unprivileged user.
const CHILD: &str = "AIOLOS_TEST_MEMLOCK_CHILD";

#[test]
fn a_memlock_limit_too_low_for_the_buffers_leaves_the_ring_unregistered_and_says_why() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && std::env::var_os(CHILD).is_none() {
        // Root has CAP_IPC_LOCK, which the kernel's memlock accounting skips: run this test
        // again as nobody, without capabilities.
        let Ok(exe) = std::env::current_exe() else {
            eprintln!("SKIP: cannot find the test binary");
            return;
        };
        let out = std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg("--bounding-set=-all")
            .arg(&exe)
            .args([
                "--exact",
                "a_memlock_limit_too_low_for_the_buffers_leaves_the_ring_unregistered_and_says_why",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("TMPDIR", "/tmp")
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout).to_string()
                    + &String::from_utf8_lossy(&o.stderr);
                assert!(text.contains("1 passed"), "the child ran nothing:\n{text}");
                eprintln!("{text}");
            }
            Ok(o) => panic!(
                "the unprivileged run failed:\n{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("SKIP: setpriv is not available ({e})"),
        }
        return;
    }
    // A limit of 64 KiB, far below the pool's 4 MiB.
    let lim = libc::rlimit {
        rlim_cur: 64 << 10,
        rlim_max: 64 << 10,
    };
    // SAFETY: a valid rlimit; lowering a limit needs no privilege.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) }, 0);
    let pool = FixedBufs::new(64, 64 << 10, 4096).unwrap();
    let ring: Ring<aiolos::FixedBuf> = match Ring::builder()
        .entries(8)
        .engine(EngineKind::Uring)
        .register_buffers(&pool)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIP: engine uring unavailable: {e}");
            return;
        }
    };
    let why = ring
        .registration()
        .buffers
        .clone()
        .expect("asked for")
        .expect_err("a 4 MiB pool cannot be pinned under a 64 KiB memlock limit");
    assert!(why.contains("RLIMIT_MEMLOCK"), "{why}");
    // Unregistered, the ring still reads into the pool's buffers.
    let zero: aiolos::Fd = std::fs::File::open("/dev/zero").unwrap().into();
    let mut buf = pool.get().unwrap();
    buf.resize(16);
    buf[..].fill(7);
    ring.push(Op::read(&zero, buf, 0)).unwrap();
    let c = ring
        .wait(1, 1, Some(Duration::from_secs(10)))
        .unwrap()
        .remove(0);
    assert_eq!(bytes(&c), 64 << 10);
    assert!(c.into_buf().unwrap().iter().all(|&b| b == 0));
}
