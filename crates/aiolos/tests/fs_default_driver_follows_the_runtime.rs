//! The default driver inside a tokio runtime is that runtime's own: two runtimes alive on
//! one thread each serve their own calls (neither waits for a reaper that the other runtime
//! would have to run), a runtime made after another was dropped gets a new driver, and a
//! file opened in a runtime that is gone fails cleanly instead of hanging.
mod common;
use aiolos::fs;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn each_runtime_gets_its_own_default_driver() {
    let dir = common::scratch_dir();
    let path = dir.path().join("f");
    std::fs::write(&path, b"abc").expect("write");
    let (a, b) = (current_thread(), current_thread());
    for _ in 0..3 {
        assert_eq!(a.block_on(fs::read(&path)).expect("read in a"), b"abc");
        assert_eq!(b.block_on(fs::read(&path)).expect("read in b"), b"abc");
    }
    let kept = a.block_on(fs::File::open(&path)).expect("open in a");
    drop(a);
    // The file's runtime is gone: its driver is shut down.
    let e = b
        .block_on(async { kept.read_at(Vec::with_capacity(8), 0).await.0 })
        .expect_err("a file of a runtime that is gone");
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    // A new runtime on the same thread works.
    let c = current_thread();
    assert_eq!(c.block_on(fs::read(&path)).expect("read in c"), b"abc");
    // Outside any runtime: the global driver.
    let g = fs::Driver::global().expect("global");
    assert_eq!(g.block_on(fs::read(&path)).expect("read outside"), b"abc");
}

#[test]
fn a_runtime_without_io_falls_back_to_the_global_driver() {
    let dir = common::scratch_dir();
    let path = dir.path().join("f");
    std::fs::write(&path, b"xyz").expect("write");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime without I/O");
    assert_eq!(rt.block_on(fs::read(&path)).expect("read"), b"xyz");
}
