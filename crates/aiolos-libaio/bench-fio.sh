#!/bin/sh
# Compares fio --ioengine=libaio on the system's libaio.so.1 and on ours, side by side:
# every case runs once per round on each library, alternating, and the figures are the
# medians over the rounds (with the per-round ratios, taken from runs a few seconds apart).
#
# Usage: [CASES="direct ..."] bench-fio.sh OURLIBDIR FILE [ROUNDS [SECONDS]]
#   OURLIBDIR  directory holding our libaio.so.1 (build-so.sh OURLIBDIR)
#   FILE       an existing file to read, much larger than what SECONDS of random 4 KiB
#              reads touch (its cache is dropped before each buffered run: fio --invalidate=1)
# Cases (4 KiB random reads, iodepth 32):
#   direct            O_DIRECT; ours on AIOLOS_ENGINE=native
#   buffered-cold     page cache dropped first; ours on uring; fio's default fadvise_hint
#                     (POSIX_FADV_RANDOM: no readahead)
#   buffered-cold-ra  the same with --fadvise_hint=0 (readahead as the kernel decides)
#   reap-uring/reap-threads  O_DIRECT with --userspace_reap=1 (ours on uring / threads)
#   qd1-direct        the device's O_DIRECT rate at iodepth 1 on the system library: a cold
#                     buffered run of the system library should come close to it
set -eu
ours=$1
file=$2
rounds=${3:-3}
secs=${4:-5}
size=$(stat -c %s "$file")
cases=${CASES:-direct buffered-cold buffered-cold-ra reap-uring reap-threads}
command -v fio >/dev/null && command -v jq >/dev/null || { echo "needs fio and jq" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run LIB ENGINE OUTNAME fio-args...   (LIB: "system" or a directory)
run() {
    lib=$1 eng=$2 out=$3
    shift 3
    # Engine options (--userspace_reap) must follow --ioengine: the case's own arguments
    # come last.
    set -- --name=r --filename="$file" --size="$size" --ioengine=libaio --rw=randread \
        --bs=4k --runtime="$secs" --time_based --output-format=json --output="$tmp/j" "$@"
    if [ "$lib" = system ]; then
        env -u LD_LIBRARY_PATH -u AIOLOS_ENGINE fio "$@" >/dev/null 2>&1
    else
        env LD_LIBRARY_PATH="$lib" AIOLOS_ENGINE="$eng" fio "$@" >/dev/null 2>&1
    fi || { echo 0 >>"$tmp/$out"; return; }
    jq '.jobs[0].read.iops' "$tmp/j" >>"$tmp/$out"
}

for r in $(seq "$rounds"); do
    echo "round $r/$rounds (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    run system - qd1 --iodepth=1 --direct=1
    for c in $cases; do
        case $c in
            direct) eng=native; args="--direct=1" ;;
            buffered-cold) eng=uring; args="--direct=0 --invalidate=1" ;;
            buffered-cold-ra) eng=uring; args="--direct=0 --invalidate=1 --fadvise_hint=0" ;;
            reap-uring) eng=uring; args="--direct=1 --userspace_reap=1" ;;
            reap-threads) eng=threads; args="--direct=1 --userspace_reap=1" ;;
        esac
        # Alternate which library goes first, so neither always follows the other.
        if [ $((r % 2)) = 1 ]; then
            # shellcheck disable=SC2086
            run system - "$c.sys" --iodepth=32 $args
            # shellcheck disable=SC2086
            run "$ours" "$eng" "$c.ours" --iodepth=32 $args
        else
            # shellcheck disable=SC2086
            run "$ours" "$eng" "$c.ours" --iodepth=32 $args
            # shellcheck disable=SC2086
            run system - "$c.sys" --iodepth=32 $args
        fi
    done
done

median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# ratio: of the medians; round-median: the median of the per-round ratios (each from two
# runs seconds apart, so less affected by other load on a shared machine).
printf '%-18s %9s %9s %6s %12s  %s\n' case system ours ratio round-median "per-round ratios"
for c in $cases; do
    s=$(median "$tmp/$c.sys")
    o=$(median "$tmp/$c.ours")
    paste "$tmp/$c.ours" "$tmp/$c.sys" | awk '{printf "%.2f\n", ($2>0?$1/$2:0)}' >"$tmp/$c.ratio"
    printf '%-18s %9.0f %9.0f %6.2f %12.2f  %s\n' "$c" "$s" "$o" \
        "$(echo "$o $s" | awk '{print ($2>0?$1/$2:0)}')" "$(median "$tmp/$c.ratio")" \
        "$(tr '\n' ' ' <"$tmp/$c.ratio")"
done
printf '%-18s %10.0f\n' qd1-direct "$(median "$tmp/qd1")"
