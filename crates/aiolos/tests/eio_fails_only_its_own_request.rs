//! A device error (EIO) lands on the request that hit it; the rest of the batch completes.
mod common;
use aiolos::{EngineKind, Op};
use common::faultfs::{FaultFs, Faults};
use common::*;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

fn one_failing_read_in_a_batch_of_sixteen_fails_alone(kind: EngineKind) {
    let faults = Faults {
        size: 1 << 20,
        eio: Some((5 * 4096, 4096)),
        ..Faults::default()
    };
    let Some(fs) = FaultFs::mount_or_skip(&faults) else {
        return;
    };
    let Some(ring) = ring::<Vec<u8>>(kind, 32) else {
        return;
    };
    let file: aiolos::Fd = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(aiolos::sys::O_DIRECT)
        .open(fs.data())
        .unwrap()
        .into();
    for i in 0..16u64 {
        ring.push(Op::read(&file, Vec::with_capacity(4096), i * 4096).user_data(i))
            .unwrap();
    }
    ring.push(Op::write(&file, vec![1u8; 4096], 5 * 4096).user_data(100))
        .unwrap();
    ring.push(Op::write(&file, vec![2u8; 4096], 6 * 4096).user_data(101))
        .unwrap();
    ring.submit().unwrap();
    let mut n = 0;
    while n < 18 {
        for c in ring.wait(1, 32, Some(Duration::from_secs(10))).unwrap() {
            n += 1;
            match c.user_data {
                5 | 100 => assert_eq!(c.result.as_ref().unwrap_err().raw_os_error(), Some(5)),
                101 => assert_eq!(bytes(&c), 4096),
                i => {
                    assert_eq!(bytes(&c), 4096, "read {i}");
                    let buf = c.into_buf().unwrap();
                    // Block 6 may have been rewritten by the concurrent write.
                    if i != 6 {
                        assert_eq!(buf, pattern(i * 4096, 4096));
                    }
                }
            }
        }
    }
}

on_every_engine!(one_failing_read_in_a_batch_of_sixteen_fails_alone);
