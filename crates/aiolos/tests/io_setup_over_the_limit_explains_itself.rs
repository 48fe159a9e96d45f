//! Asking kernel AIO for more events than `fs.aio-max-nr` allows gives an error that names
//! the limit, the current use and the fix. The test asks for more than the limit in one
//! context; it never drains the system-wide pool.
use aiolos::{EngineKind, Error, Ring};

#[test]
fn a_native_ring_larger_than_aio_max_nr_fails_with_an_error_naming_the_limit() {
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/aio-max-nr")
        .expect("read fs.aio-max-nr")
        .trim()
        .parse()
        .expect("parse fs.aio-max-nr");
    if max >= 1 << 20 {
        eprintln!("SKIP: fs.aio-max-nr = {max} is above the largest ring aiolos builds");
        return;
    }
    let err = Ring::builder()
        .entries(max as u32 + 1)
        .engine(EngineKind::Native)
        .build::<Vec<u8>>()
        .err()
        .expect("a ring over fs.aio-max-nr must be refused");
    assert!(matches!(err, Error::IoSetup { .. }), "got {err:?}");
    let msg = err.to_string();
    assert!(msg.contains("fs.aio-max-nr"), "{msg}");
    assert!(msg.contains(&max.to_string()), "{msg}");
    assert!(msg.contains("fs.aio-nr"), "{msg}");
    assert!(msg.contains("sysctl"), "{msg}");
}
