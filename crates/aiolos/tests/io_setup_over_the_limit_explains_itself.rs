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

#[test]
fn the_error_names_the_entries_asked_for_not_the_engines_own_count() {
    let max: u64 = std::fs::read_to_string("/proc/sys/fs/aio-max-nr")
        .expect("read fs.aio-max-nr")
        .trim()
        .parse()
        .expect("parse fs.aio-max-nr");
    let asked = aiolos::limits::MAX_ENTRIES;
    if max >= u64::from(asked) * 2 {
        eprintln!("SKIP: fs.aio-max-nr = {max} allows a ring of {asked} entries");
        return;
    }
    let err = Ring::builder()
        .entries(asked)
        .engine(EngineKind::Native)
        .build::<Vec<u8>>()
        .err()
        .expect("a ring over fs.aio-max-nr must be refused");
    let msg = err.to_string();
    assert!(msg.contains(&asked.to_string()), "{msg}");
    assert!(!msg.contains(&(asked + 1).to_string()), "{msg}");
    assert!(matches!(err, Error::IoSetup { requested, .. } if requested == asked));
}
