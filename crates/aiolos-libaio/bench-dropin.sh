#!/usr/bin/env bash
# The drop-in against the system's libaio, side by side in one run: the comparisons of
# issue #14 (fio, sysbench's async fileio, stressapptest's disk test), each library and
# engine measured in turn within every round, rounds interleaved, medians and ratios
# printed as a Markdown table. `uptime` is printed before every series: figures taken
# under load are not the library's.
#
# Usage: bench-dropin.sh [DIR [ROUNDS [SECONDS]]]
#   DIR      a directory on the storage to measure (default <target>/bench); needs about
#            COLD_GB + 1.5 GiB free
#   ROUNDS   rounds per series (default 3); SECONDS per run (default 10)
# Env: CASES (default: all of fio-warm fio-cold fio-direct fio-direct-write sysbench-warm
#      sysbench-direct sat), COLD_GB (size of the cold file, default 4: more than a run
#      reads), AIOLOS_LIBAIO_DIR (a built library; default: build it with build-so.sh),
#      AB_DIRECT=1 (the O_DIRECT cases also run uring-eng and threads-eng: the emulated
#      engines with AIOLOS_DIRECT=engine, O_DIRECT on their io_uring or pool).
#
# Needs fio, sysbench and stressapptest (Debian: apt-get install fio sysbench stressapptest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
dir=${1:-$target/bench}
rounds=${2:-3}
secs=${3:-10}
cases=${CASES:-fio-warm fio-cold fio-direct fio-direct-write sysbench-warm sysbench-direct sat}
cold_gb=${COLD_GB:-4}
for t in fio sysbench stressapptest; do
  command -v "$t" >/dev/null || { echo "bench-dropin.sh: $t is not installed" >&2; exit 2; }
done
lib=${AIOLOS_LIBAIO_DIR:-}
if [ -z "$lib" ]; then
  lib=$(dirname "$("$here/build-so.sh")")
fi
mkdir -p "$dir"
cd "$dir"
warm=warm-1g.dat
cold=cold-${cold_gb}g.dat
[ -f "$warm" ] || dd if=/dev/urandom of="$warm" bs=1M count=1024 status=none
[ -f "$cold" ] || dd if=/dev/urandom of="$cold" bs=1M count=$((cold_gb * 1024)) status=none
sync

echo "# drop-in benchmark: $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs"
echo "library: $lib ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "system:  $(readlink -f /usr/lib/x86_64-linux-gnu/libaio.so.1 2>/dev/null || echo '?')"
echo "dir:     $dir ($(df -T . | awk 'NR == 2 { print $2 " on " $1 }'))"
echo "rounds $rounds x $secs s; fio $(fio --version), $(sysbench --version)"

# run VARIANT CMD...: runs CMD for VARIANT (sys: the system library; native, uring,
# threads: the drop-in on that engine; fio-uring: fio's own io_uring engine, in CMD) and
# prints "value cpu_seconds".
run() {
  local variant=$1; shift
  local envs=()
  case $variant in
    sys|fio-uring) ;;
    *-eng) envs=(LD_LIBRARY_PATH="$lib" AIOLOS_ENGINE="${variant%-eng}" AIOLOS_DIRECT=engine) ;;
    *) envs=(LD_LIBRARY_PATH="$lib" AIOLOS_ENGINE="$variant") ;;
  esac
  local t0 out
  t0=$(mktemp)
  out=$(env "${envs[@]}" /usr/bin/time -f '%U %S' -o "$t0" "$@" 2>&1) || true
  local cpu
  cpu=$(awk '{ print $1 + $2 }' "$t0")
  rm -f "$t0"
  printf '%s %s\n' "$(parse "$out")" "$cpu"
}

kind=
# The measured value: fio IOPS (read or write), sysbench reads/s, stressapptest MB/s.
parse() {
  case $kind in
    fio-read) awk -F';' '/^3;/ { print $8 }' <<<"$1" ;;
    fio-write) awk -F';' '/^3;/ { print $49 }' <<<"$1" ;;
    sysbench) awk '/reads\/s:/ { print $2 }' <<<"$1" ;;
    sat) sed -n 's/.*Disk: .* at \([0-9.]*\)MB\/s.*/\1/p' <<<"$1" ;;
  esac
}


series() { # series CASE VARIANTS...: measures every variant ROUNDS times, interleaved
  local case=$1; shift
  local -A values=() cpus=()
  echo
  echo "## $case   ($(uptime | sed 's/.*load/load/'))"
  for ((r = 1; r <= rounds; r++)); do
    for v in "$@"; do
      local res
      res=$(measure "$case" "$v")
      values[$v]+="${res%% *} "
      cpus[$v]+="${res##* } "
    done
  done
  local base
  base=$(median ${values[sys]:-0})
  kind=$(kind_of "$case")
  printf '| %-10s | %12s | %8s | %12s | %s |\n' variant median "x sys" "CPU us/op" "runs"
  printf '|------------|-------------:|---------:|-------------:|------|\n'
  for v in "$@"; do
    local m c
    m=$(median ${values[$v]})
    c=$(median ${cpus[$v]})
    printf '| %-10s | %12s | %8s | %12s | %s|\n' "$v" "$m" "$(ratio "$m" "$base")" \
      "$(per_op "$c" "$m")" "${values[$v]}"
  done
  if [ -n "${values[fio-uring]:-}" ] && [ -n "${values[uring]:-}" ]; then
    echo "emulation cost: uring / fio's io_uring = $(ratio "$(median ${values[uring]})" "$(median ${values[fio-uring]})")"
  fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# CPU microseconds (user + system, every thread of the program) per 4 KiB operation.
per_op() { awk -v c="$1" -v v="$2" -v s="$secs" -v k="$kind" 'BEGIN { ops = v * s; if (k == "sat") ops *= 256; if (ops > 0) printf "%.1f", c * 1e6 / ops; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

kind_of() {
  case $1 in
    fio-direct-write) echo fio-write ;;
    fio-*) echo fio-read ;;
    sysbench-*) echo sysbench ;;
    sat) echo sat ;;
  esac
}

measure() { # measure CASE VARIANT -> "value cpu"
  local case=$1 v=$2 eng=libaio
  [ "$v" = fio-uring ] && eng=io_uring
  local fio_job=(fio --name=bench --ioengine="$eng" --bs=4k --iodepth=32 --runtime="$secs"
    --time_based --output-format=terse --terse-version=3)
  case $case in
    fio-warm)
      kind=fio-read
      cat "$warm" >/dev/null
      run "$v" "${fio_job[@]}" --filename="$warm" --rw=randread --direct=0 --invalidate=0 ;;
    fio-cold)
      kind=fio-read
      run "$v" "${fio_job[@]}" --filename="$cold" --rw=randread --direct=0 --invalidate=1 ;;
    fio-direct)
      kind=fio-read
      run "$v" "${fio_job[@]}" --filename="$warm" --rw=randread --direct=1 ;;
    fio-direct-write)
      kind=fio-write
      run "$v" "${fio_job[@]}" --filename="$warm" --rw=randwrite --direct=1 ;;
    sysbench-warm)
      kind=sysbench
      run "$v" sysbench fileio --file-total-size=1G --file-num=1 --file-test-mode=rndrd \
        --file-io-mode=async --file-fsync-freq=0 --time="$secs" run ;;
    sysbench-direct)
      kind=sysbench
      run "$v" sysbench fileio --file-total-size=1G --file-num=1 --file-test-mode=rndrd \
        --file-io-mode=async --file-extra-flags=direct --file-fsync-freq=0 --time="$secs" run ;;
    sat)
      kind=sat
      run "$v" stressapptest -s "$secs" -M 64 -m 0 -d ./sat.dat --cache-size 8 \
        --segment-size 33554432 --read-block-size 4096 --write-block-size 4096 --destructive ;;
  esac
}

ab=()
[ "${AB_DIRECT:-0}" = 1 ] && ab=(uring-eng threads-eng)
for c in $cases; do
  case $c in
    fio-warm) series "$c" sys native uring threads ;;
    fio-cold) series "$c" sys native uring threads fio-uring ;;
    fio-direct) series "$c" sys native uring threads "${ab[@]}" fio-uring ;;
    fio-direct-write) series "$c" sys native uring threads "${ab[@]}" ;;
    sysbench-warm | sysbench-direct)
      [ -f test_file.0 ] || sysbench fileio --file-total-size=1G --file-num=1 prepare >/dev/null
      cat test_file.0 >/dev/null
      if [ "$c" = sysbench-direct ]; then
        series "$c" sys native uring threads "${ab[@]}"
      else
        series "$c" sys native uring threads
      fi ;;
    sat)
      [ -f sat.dat ] || dd if=/dev/zero of=sat.dat bs=1M count=256 status=none
      series "$c" sys native uring threads "${ab[@]}" ;;
    *) echo "bench-dropin.sh: unknown case $c" >&2; exit 2 ;;
  esac
done
