//! Files whose driver has only the old `read`/`write` methods (many procfs and sysfs files)
//! are read and written on every engine as read(2) and write(2) do; kernel AIO refuses them
//! with EINVAL at submission, so the kernel AIO engine runs them on its helper pool. A
//! directory still answers EISDIR.
mod common;
use aiolos::{EngineKind, Fd, Op};
use common::*;
use std::os::unix::fs::FileExt;
use std::time::Duration;

fn a_procfs_file_without_read_iter_is_read(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    // /proc/kallsyms: megabytes of symbols, `seq_read` only.
    let path = "/proc/kallsyms";
    let mut want = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path)
        .and_then(|f| f.read_at(&mut want, 0))
        .expect("read /proc/kallsyms with pread");
    want.truncate(n);
    assert!(n > 0, "/proc/kallsyms is empty here");
    let fd = Fd::from(std::fs::File::open(path).unwrap());
    ring.push(Op::read(&fd, Vec::with_capacity(64 * 1024), 0))
        .unwrap();
    let mut done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    let c = done.remove(0);
    assert_eq!(
        bytes(&c),
        n,
        "{kind}: the read of {path} answered {:?}",
        c.result
    );
    assert_eq!(c.into_buf().unwrap(), want, "{kind}: the bytes of {path}");
}

fn a_procfs_file_without_write_iter_is_written(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    // This thread's name (`comm_write` only); the harness names its threads itself, so
    // nothing else reads it.
    let path = "/proc/thread-self/comm";
    let fd = Fd::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open comm"),
    );
    let name = format!("aiolos-{kind}");
    ring.push(Op::write(&fd, name.as_bytes().to_vec(), 0))
        .unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        bytes(&done[0]),
        name.len(),
        "{kind}: the write to {path} answered {:?}",
        done[0].result
    );
    let now = std::fs::read_to_string(path).unwrap();
    assert_eq!(now.trim_end(), name, "{kind}: the thread's name");
}

fn a_directory_read_is_eisdir(kind: EngineKind) {
    let Some(ring) = ring::<Vec<u8>>(kind, 4) else {
        return;
    };
    let dir = scratch_dir();
    let fd = Fd::from(std::fs::File::open(dir.path()).unwrap());
    ring.push(Op::read(&fd, Vec::with_capacity(512), 0))
        .unwrap();
    let done = ring.wait(1, 1, Some(Duration::from_secs(10))).unwrap();
    let e = done[0]
        .result
        .as_ref()
        .expect_err("a directory cannot be read");
    assert_eq!(e.raw_os_error(), Some(21), "{kind}: {e} (want EISDIR)");
}

on_every_engine!(
    a_procfs_file_without_read_iter_is_read,
    a_procfs_file_without_write_iter_is_written,
    a_directory_read_is_eisdir
);
