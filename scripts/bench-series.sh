#!/usr/bin/env bash
# The whole performance series of #16 and #13 in one command, for a quiet machine: every
# row of scripts/bench-vs-fio.sh that docs/benchmarks.md reports, the before/after table
# of the Ring redesign (AIOLOS_BEFORE), the async layer against tokio::fs (criterion) and
# the libaio drop-in under fio, each table printed in Markdown as docs/benchmarks.md shows
# it, with the load average before and after each part.
#
# Usage: scripts/bench-series.sh [OUT.md]          (default: bench-series-<date>.md)
# Environment:
#   RUNTIME=4 ROUNDS=3      per run, per row (medians over the rounds)
#   SIZE=1g FILE=/var/tmp/aiolos-bench-series.dat   (created once, removed at the end)
#   AIOLOS_BEFORE=/work/wt-before/target/release/aiolos   the build to compare against
#   BEFORE_TREE=/work/wt-before    its source tree, for the async bench's before figures
#                                  (empty: skip them)
#   MAX_LOAD=1.0            refuse to start when the 1-minute load average is at or above
#   FORCE=0                 1: run anyway (the output says the load it ran at)
#   PARTS="direct fixed write seq warm cold jobs async dropin"   which parts to run
#
# Needs: fio, jq (the drop-in part), a C compiler (the drop-in's build-so.sh), cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-bench-series-$(date +%Y%m%d-%H%M).md}
RUNTIME=${RUNTIME:-4} ROUNDS=${ROUNDS:-3} SIZE=${SIZE:-1g}
FILE=${FILE:-/var/tmp/aiolos-bench-series.dat}
AIOLOS_BEFORE=${AIOLOS_BEFORE-/work/wt-before/target/release/aiolos}
BEFORE_TREE=${BEFORE_TREE-/work/wt-before}
MAX_LOAD=${MAX_LOAD:-1.0} FORCE=${FORCE:-0}
PARTS=${PARTS:-direct fixed write seq warm cold jobs async dropin}
export RUNTIME ROUNDS SIZE FILE KEEP=1 FORMAT=md

load() { cut -d' ' -f1-3 /proc/loadavg; }
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; then
  if [ "$FORCE" != 1 ]; then
    echo "load average $(load) is at or above $MAX_LOAD: figures taken now are not" \
      "trustworthy (earlier ones at load 5-14 flattered aiolos). Wait for a quiet machine," \
      "or FORCE=1 to run anyway." >&2
    exit 3
  fi
  echo "warning: running at load $(load) (FORCE=1); say so next to the figures" >&2
fi
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }

cargo build --release -p aiolos-cli >&2
before=()
if [ -n "$AIOLOS_BEFORE" ]; then
  [ -x "$AIOLOS_BEFORE" ] || { echo "AIOLOS_BEFORE=$AIOLOS_BEFORE is not an executable" >&2; exit 1; }
  before=(AIOLOS_BEFORE="$AIOLOS_BEFORE")
fi
created=0
if [ ! -e "$FILE" ]; then
  target/release/aiolos bench --file "$FILE" --size "$SIZE" --runtime 0.1 --buffered >/dev/null
  created=1
fi
trap '[ "$created" = 1 ] && rm -f "$FILE"' EXIT

{
  echo "# aiolos bench series, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) CPUs, $(uname -r); aiolos $(git rev-parse --short HEAD);" \
    "before: ${AIOLOS_BEFORE:-none}. ${RUNTIME} s per run, ${ROUNDS} rounds, medians;" \
    "file $FILE ($SIZE). Load average at the start: $(load)."
} >"$OUT"

# row TITLE VAR=VALUE...: one bench-vs-fio.sh table under a heading.
row() {
  local title=$1; shift
  echo "== $title (load $(load))" >&2
  {
    echo
    echo "### $title"
    echo
    echo "Load average before: $(load)."
    echo
    env "$@" scripts/bench-vs-fio.sh
  } >>"$OUT"
}

has() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if has direct; then
  for qd in 1 32 128; do
    row "O_DIRECT 4 KiB random read, QD $qd (with the before build)" QD=$qd "${before[@]}"
  done
fi
if has fixed; then
  for qd in 32 128; do
    row "O_DIRECT 4 KiB random read, QD $qd, registered files and buffers (fio --registerfiles --fixedbufs)" QD=$qd FIXED=1
  done
fi
has write && row "O_DIRECT 4 KiB random write, QD 32" RW=randwrite QD=32
has seq && row "O_DIRECT 1 MiB sequential read, QD 8" RW=read BS=1m QD=8
has warm && row "Buffered warm 4 KiB random read, QD 32 (with the before build)" DIRECT=0 WARM=1 QD=32 "${before[@]}"
if has cold; then
  row "Buffered cold 4 KiB random read, QD 32 (both with POSIX_FADV_RANDOM)" DIRECT=0 COLD=1 QD=32
  # A submit's latency grows with its batch (each cold read starts its disk read inside
  # the call); fio submits each request alone (its submit p99 is per request).
  row "Buffered cold 4 KiB random read, QD 32, aiolos submitting at most 4 per call (--batch-submit 4)" \
    DIRECT=0 COLD=1 QD=32 AIOLOS_ARGS="--batch-submit 4"
  row "Buffered cold 4 KiB random read, QD 32, aiolos submitting each request alone (--batch-submit 1, as fio)" \
    DIRECT=0 COLD=1 QD=32 AIOLOS_ARGS="--batch-submit 1"
fi
if has jobs; then
  row "Buffered warm 4 KiB random read, QD 32, 1 job (the base of the scaling ratio)" DIRECT=0 WARM=1 QD=32 JOBS=1
  row "Buffered warm 4 KiB random read, QD 32, 2 jobs" DIRECT=0 WARM=1 QD=32 JOBS=2
  row "O_DIRECT 4 KiB random read, QD 32, 2 jobs" QD=32 JOBS=2
fi

if has async; then
  echo "== async layer (load $(load))" >&2
  {
    echo
    echo "### aiolos::fs on tokio against tokio::fs (cargo bench --bench fs_vs_tokio_fs)"
    echo
    echo "Load average before: $(load). After:"
    echo
    echo '```text'
    cargo bench -p aiolos --bench fs_vs_tokio_fs 2>/dev/null || true
    echo '```'
    if [ -n "$BEFORE_TREE" ] && [ -d "$BEFORE_TREE" ]; then
      echo
      echo "Before ($BEFORE_TREE, load $(load)):"
      echo
      echo '```text'
      (cd "$BEFORE_TREE" && cargo bench -p aiolos --bench fs_vs_tokio_fs 2>/dev/null) || true
      echo '```'
    fi
  } >>"$OUT"
fi

if has dropin; then
  echo "== drop-in (load $(load))" >&2
  lib=$(mktemp -d)
  {
    echo
    echo "### The libaio drop-in under fio (crates/aiolos-libaio/bench-fio.sh)"
    echo
    echo "Load average before: $(load)."
    echo
    echo '```text'
    if crates/aiolos-libaio/build-so.sh "$lib" >/dev/null 2>&1; then
      crates/aiolos-libaio/bench-fio.sh "$lib" "$FILE" "$ROUNDS" "$RUNTIME" 2>&1 || true
    else
      echo "the drop-in did not build (crates/aiolos-libaio/build-so.sh)"
    fi
    echo '```'
  } >>"$OUT"
  rm -rf "$lib"
fi

echo >>"$OUT"
echo "Load average at the end: $(load)." >>"$OUT"
echo "written: $OUT" >&2
cat "$OUT"
