#!/usr/bin/env bash
# aiolos::fs against tokio::fs, tokio's own io_uring file I/O and the blocking Ring, side by
# side in one run (crates/aiolos/benches/fs_vs_tokio_fs.rs): 32 tasks of 4 KiB random reads
# (buffered warm, then O_DIRECT) and the small-file workloads, CPU time per I/O beside every
# figure, the load average before and after.
#
# tokio's io_uring path needs `--cfg tokio_unstable`, which rebuilds everything: it is built
# in its own target directory (target/bench-tokio-unstable) so the normal build stays valid.
#
# Usage: scripts/bench-fs.sh [ENGINES] [SECONDS_PER_CASE] [FILE_MIB] [ROUNDS]
#        (default: uring, 3, 1024, 1; ENGINES is a comma-separated list: uring,native,threads)
# With several rounds every case runs once per round, interleaved with the others, and
# reports its median round: on a busy machine, a change in load then falls on every case.
set -euo pipefail
cd "$(dirname "$0")/.."
engines=${1:-uring}
secs=${2:-3}
mib=${3:-1024}
rounds=${4:-1}
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) cores"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
RUSTFLAGS="${RUSTFLAGS:-} --cfg tokio_unstable" CARGO_TARGET_DIR=target/bench-tokio-unstable \
  AIOLOS_BENCH_SECS=$secs AIOLOS_BENCH_FILE_MB=$mib AIOLOS_BENCH_ROUNDS=$rounds \
  cargo bench --locked -q -p aiolos --bench fs_vs_tokio_fs -- --engine "$engines"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
