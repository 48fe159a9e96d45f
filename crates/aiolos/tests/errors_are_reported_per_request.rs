//! A request the kernel refuses fails alone, with its own errno; the rest of the batch
//! completes.
mod common;
use aiolos::{EngineKind, Op};
use common::*;
use std::fs::OpenOptions;
use std::time::Duration;

fn a_read_on_a_write_only_descriptor_fails_with_ebadf_alone(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 16) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 8192);
    let wo: aiolos::Fd = OpenOptions::new().write(true).open(&path).unwrap().into();
    let rw: aiolos::Fd = open_rw(&path, false).into();
    ring.push(Op::read(&rw, Vec::with_capacity(100), 0).user_data(1))
        .unwrap();
    ring.push(Op::read(&wo, Vec::with_capacity(100), 0).user_data(2))
        .unwrap();
    ring.push(Op::read(&rw, Vec::with_capacity(100), 100).user_data(3))
        .unwrap();
    ring.submit().unwrap();
    let mut done = ring.wait(3, 3, Some(Duration::from_secs(10))).unwrap();
    done.sort_by_key(|c| c.user_data);
    assert_eq!(bytes(&done[0]), 100);
    let err = done[1].result.as_ref().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_ebadf()), "got {err}");
    assert_eq!(bytes(&done[2]), 100);
    assert_eq!(done[2].bufs_as_slice(), &pattern(100, 100)[..]);
}

fn a_read_at_a_negative_offset_is_refused_and_the_rest_goes_on(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 16) else {
        return;
    };
    let dir = scratch_dir();
    let path = dir.path().join("f");
    patterned_file(&path, 4096);
    let rw: aiolos::Fd = open_rw(&path, false).into();
    // Offsets are signed in the kernel: one past 2^63 - 1 is refused before submission
    // (io_uring would read u64::MAX as "the current position"), with the limit named.
    let refused = ring
        .push(Op::read(&rw, Vec::with_capacity(100), u64::MAX - 10).user_data(1))
        .unwrap_err();
    assert!(matches!(refused.error, aiolos::Error::InvalidRequest(_)));
    assert!(
        refused.to_string().contains("largest file offset"),
        "{refused}"
    );
    ring.push(Op::read(&rw, Vec::with_capacity(100), 0).user_data(2))
        .unwrap();
    let done = ring.wait(1, 2, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(bytes(&done[0]), 100);
}

fn libc_ebadf() -> i32 {
    9
}

trait BufsAsSlice {
    fn bufs_as_slice(&self) -> &[u8];
}
impl BufsAsSlice for aiolos::Completion<Vec<u8>> {
    fn bufs_as_slice(&self) -> &[u8] {
        match &self.bufs {
            aiolos::Buffers::One(b) => b,
            _ => &[],
        }
    }
}

on_every_engine!(
    a_read_on_a_write_only_descriptor_fails_with_ebadf_alone,
    a_read_at_a_negative_offset_is_refused_and_the_rest_goes_on,
);
