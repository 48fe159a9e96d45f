//! A descriptor closed while its requests are in flight, and its number at once reused by
//! another file: every submitted request still acts on the original file (or fails), and
//! never reads the file that took the number over. Reads are held in flight by a stalling
//! FUSE file system; the descriptor is a raw one (`Fd::from_raw`), as the C ABI passes
//! them, since a shared `Fd` keeps its file open by itself.
mod common;
use aiolos::{EngineKind, Error, Op, Ring};
use common::faultfs::{FaultFs, Faults};
use common::*;
use std::io::Write;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

const BLOCK: usize = 4096;
const READS: u64 = 6;
const DECOY: u8 = 0xBB;

fn requests_in_flight_on_a_closed_and_reused_descriptor_never_touch_the_new_file(kind: EngineKind) {
    let faults = Faults {
        size: 1 << 20,
        stall: Some((0, 1 << 20, Duration::from_millis(500))),
        ..Faults::default()
    };
    let Some(fs) = FaultFs::mount_or_skip(&faults) else {
        return;
    };
    // Two pool threads: the threads engine holds most of the reads in its queue.
    let ring: Ring<Vec<u8>> = match Ring::builder().entries(16).engine(kind).threads(2).build() {
        Ok(r) => r,
        Err(Error::EngineUnavailable { kind, reason }) => {
            eprintln!("SKIP: engine {kind} unavailable: {reason}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let raw = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(fs.data())
        .unwrap()
        .into_raw_fd();
    let scratch = scratch_dir();
    let mut decoy = std::fs::File::create(scratch.path().join("decoy")).unwrap();
    decoy.write_all(&vec![DECOY; 64 << 10]).unwrap();
    let decoy = std::fs::File::open(scratch.path().join("decoy")).unwrap();

    // SAFETY: deliberately broken below (that is the test); no memory depends on it.
    let fd = unsafe { aiolos::Fd::from_raw(raw) };
    for i in 0..READS {
        let off = i * BLOCK as u64;
        ring.push(Op::read(&fd, Vec::with_capacity(BLOCK), off).user_data(i))
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), READS as usize);
    std::thread::sleep(Duration::from_millis(100));
    // Close the number and hand it to the decoy in one step (dup2 closes `raw` first), so
    // no other thread of this test binary can take the number in between.
    // SAFETY: plain dup2 on descriptors this test owns.
    let r = unsafe { libc::dup2(decoy.as_raw_fd(), raw) };
    assert_eq!(r, raw, "dup2: {}", std::io::Error::last_os_error());

    let (mut ok, mut failed) = (0, 0);
    for _ in 0..READS {
        let c = ring.wait(1, 1, Some(Duration::from_secs(20))).unwrap();
        let c = c.into_iter().next().unwrap();
        let i = c.user_data;
        match c.result {
            Ok(n) => {
                let buf = c.into_buf().unwrap();
                assert!(
                    buf != vec![DECOY; n],
                    "read {i} read the file that reused the descriptor number"
                );
                assert_eq!(n, BLOCK, "read {i}");
                assert_eq!(buf, pattern(i * BLOCK as u64, BLOCK), "read {i}");
                ok += 1;
            }
            Err(e) => {
                eprintln!("{kind}: read {i} failed: {e}");
                failed += 1;
            }
        }
    }
    eprintln!("{kind}: {ok} reads acted on the original file, {failed} failed");
    // SAFETY: `raw` is the decoy's duplicate, owned by this test; nothing uses it now.
    unsafe { libc::close(raw) };
    drop(ring);
}

on_every_engine!(requests_in_flight_on_a_closed_and_reused_descriptor_never_touch_the_new_file);
