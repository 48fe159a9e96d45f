#!/usr/bin/env bash
# One run each of `aiolos cp` (O_DIRECT and buffered), `cp` and `dd bs=1M oflag=direct`
# copying the same file in one session, with the source's page cache dropped before every
# run (`dd iflag=nocache count=0`, which calls posix_fadvise(POSIX_FADV_DONTNEED) on the
# whole file) and the previous copy removed and synced away. Prints seconds, MiB/s and the
# ratio of each tool's time to `aiolos cp`'s.
#
# `aiolos cp` flushes the copy (fsync) before renaming it into place; `cp` and `dd` do not,
# so `cp + sync DST` and `dd ... conv=fsync` are timed as well, for like-for-like figures.
#
# Usage: scripts/bench-cp.sh [DIR] [SIZE_MIB] [ROUNDS]   (default: target/cp-bench, 2048, 1)
# With several rounds the tools run interleaved, one run each per round.
set -euo pipefail
dir=${1:-target/cp-bench}
mib=${2:-2048}
rounds=${3:-1}
aiolos=${AIOLOS:-target/release/aiolos}
mkdir -p "$dir"
src=$dir/src
dst=$dir/dst
if [ "$(stat -c %s "$src" 2>/dev/null || echo 0)" != $((mib << 20)) ]; then
    head -c $((mib << 20)) /dev/urandom >"$src"
    sync "$src"
fi

cold() {
    rm -f "$dst"
    sync
    dd if="$src" iflag=nocache count=0 status=none
}

declare -A secs
run() {
    local name=$1
    shift
    cold
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    secs[$name]=$(echo "$t1 - $t0" | bc -l)
    cmp "$src" "$dst"
    printf '%-34s %7.3f s %8.1f MiB/s\n' "$name" "${secs[$name]}" \
        "$(echo "$mib / ${secs[$name]}" | bc -l)"
}

order=("aiolos cp" "aiolos cp --buffered" "cp" "cp + sync DST" "dd bs=1M oflag=direct"
    "dd bs=1M oflag=direct conv=fsync")
for round in $(seq 1 "$rounds"); do
    echo "round $round"
    run "aiolos cp" "$aiolos" cp "$src" "$dst"
    run "aiolos cp --buffered" "$aiolos" cp --buffered "$src" "$dst"
    run "cp" cp "$src" "$dst"
    run "cp + sync DST" sh -c 'cp "$1" "$2" && sync "$2"' sh "$src" "$dst"
    run "dd bs=1M oflag=direct" dd if="$src" of="$dst" bs=1M oflag=direct status=none
    run "dd bs=1M oflag=direct conv=fsync" \
        dd if="$src" of="$dst" bs=1M oflag=direct conv=fsync status=none
    echo "time relative to aiolos cp in this round (>1: aiolos cp is faster):"
    for name in "${order[@]}"; do
        printf '  %-32s %6.2f\n' "$name" "$(echo "${secs[$name]} / ${secs["aiolos cp"]}" | bc -l)"
    done
done
rm -f "$dst"
