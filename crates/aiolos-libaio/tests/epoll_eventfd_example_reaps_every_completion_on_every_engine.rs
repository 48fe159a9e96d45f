//! examples/epoll_eventfd.c, built against our header (as C, C++ and with 64-bit file
//! offsets) and run on our library on every engine: 64 writes and 64 reads, each
//! signalling an eventfd watched by epoll, all complete and the data read back is what
//! was written.
mod common;

use common::{Variant, ENGINES};

#[test]
fn epoll_eventfd_example_reaps_every_completion_on_every_engine() {
    let src = common::crate_dir().join("examples/epoll_eventfd.c");
    let dir = common::scratch_dir();
    for variant in Variant::ALL {
        let exe = common::compile_source(&src, variant);
        for engine in ENGINES {
            let out = common::run_in(&exe, &[], dir.path(), &[("AIOLOS_ENGINE", engine)]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let what = format!(
                "epoll_eventfd ({variant:?}) on {engine}:\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{what}");
            let wakeups: u64 = stdout
                .strip_prefix("128 completions in ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected output of {what}"));
            assert!(
                (1..=128).contains(&wakeups),
                "{wakeups} eventfd wake-ups for 128 completions: {what}"
            );
            assert!(stdout.contains("all data verified"), "{what}");
            let file = std::fs::read(dir.path().join("epoll_eventfd.dat")).expect("data file");
            assert_eq!(file.len(), 64 * 4096, "{what}");
        }
    }
}
