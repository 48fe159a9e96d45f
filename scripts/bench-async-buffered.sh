#!/usr/bin/env bash
# io_uring buffered reads: the `--async-buffered` policies (never, auto, always) side by
# side, interleaved over ROUNDS rounds, with medians. Cases (4 KiB random reads):
#   cold32  page cache dropped before every run (posix_fadvise DONTNEED via dd), QD 32;
#           also aiolos native (kernel AIO) for the submit-time reference
#   warm1   the file read into the page cache before every run, QD 1
#   warm32  the same, QD 32
#   fio32   (FIO=1) fio --ioengine=libaio, buffered, cold (fio drops the cache itself),
#           QD 32, on the system libaio and on ours (target/libaio, AIOLOS_ENGINE=uring)
#           with each AIOLOS_ASYNC_BUFFERED policy; CPU is the whole fio process
#           (every thread, the kernel's io-wq workers included), from bash's `time`.
#
# Parameters (environment): RUNTIME=4 ROUNDS=5 SIZE=1g FIO=1 CASES="cold32 warm1 warm32"
# FILE=/var/tmp/aiolos-bench-async.dat (created if missing, removed unless KEEP=1)
# AIOLOS=target/release/aiolos, LIBDIR=target/libaio (crates/aiolos-libaio/build-so.sh).
#
# Output: every run on stderr, then one line per case and variant on stdout:
#   case variant IOPS submit_p50_us submit_p99_us lat_p50_us cpu_us_per_io punted_pct
# (punted_pct: the share of reads the policy gave to io-wq; `-` where not known).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNTIME=${RUNTIME:-4} ROUNDS=${ROUNDS:-5} SIZE=${SIZE:-1g} FIO=${FIO:-1} KEEP=${KEEP:-0}
CASES=${CASES:-cold32 warm1 warm32}
FILE=${FILE:-/var/tmp/aiolos-bench-async.dat}
AIOLOS=${AIOLOS:-target/release/aiolos} LIBDIR=${LIBDIR:-target/libaio}
[ -x "$AIOLOS" ] || cargo build --release -p aiolos-cli >&2

created=0
if [ ! -e "$FILE" ]; then
  "$AIOLOS" bench --file "$FILE" --size "$SIZE" --runtime 0.1 --buffered >/dev/null
  created=1
fi
results=$(mktemp)
cleanup() { rm -f "$results"; if [ "$created" = 1 ] && [ "$KEEP" != 1 ]; then rm -f "$FILE"; fi; }
trap cleanup EXIT

drop_cache() { dd if="$FILE" iflag=nocache count=0 status=none; }

# aiolos CASE VARIANT ENGINE QD [POLICY]
aiolos() {
  local c=$1 v=$2 engine=$3 qd=$4 policy=${5:-never}
  "$AIOLOS" bench --engine "$engine" --file "$FILE" --size "$SIZE" --buffered --qd "$qd" \
    --runtime "$RUNTIME" --async-buffered "$policy" --json |
  awk -v name="$c $v" '
    function val(line) { sub(/.*: */, "", line); sub(/,$/, "", line); return line }
    /"iops":/ && !iops { iops = val($0) }
    /"lat_ns_p50":/ && !p50 { p50 = val($0) }
    /"cpu_user_ns_per_io":/ && !cu { cu = val($0) }
    /"cpu_sys_ns_per_io":/ && !cs { cs = val($0) }
    /"submit_lat_ns_p50":/ && !s50 { s50 = val($0) }
    /"submit_lat_ns_p99":/ && !s99 { s99 = val($0) }
    /"ios":/ && !ios { ios = val($0) }
    /"punted_reads":/ && !pr { pr = val($0) + 0 }
    END { printf "%s %.0f %.1f %.1f %.1f %.2f %.0f\n", name, iops, s50 / 1e3, s99 / 1e3, p50 / 1e3, (cu + cs) / 1e3, (ios > 0 ? pr * 100 / ios : 0) }'
}

# fio VARIANT [env...]: buffered cold random reads through libaio.so.1.
fio_run() {
  local v=$1 out; shift
  out=$(mktemp)
  local TIMEFORMAT="%U %S"
  local cpu
  cpu=$( { time env "$@" fio --name=r --filename="$FILE" --size="$SIZE" --ioengine=libaio \
      --rw=randread --bs=4k --iodepth=32 --direct=0 --invalidate=1 --runtime="$RUNTIME" \
      --time_based --output-format=json --output="$out" >/dev/null 2>&1; } 2>&1 )
  jq -r --arg cpu "$cpu" --arg name "fio32 $v" '.jobs[0] as $j | ($cpu | split(" ") |
      map(tonumber) | add) as $s | ($j.read.total_ios) as $n |
      "\($name) \($j.read.iops | floor) - - \($j.read.clat_ns.percentile["50.000000"] / 1000)
       \(if $n > 0 then $s * 1e6 / $n else 0 end | . * 100 | floor / 100) -"' "$out" | tr -s ' \n' ' ' |
    sed 's/ $//'
  echo
  rm -f "$out"
}

echo "runtime=${RUNTIME}s rounds=$ROUNDS size=$SIZE file=$FILE load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
  for c in $CASES; do
    case $c in
      cold32) variants="native never auto always"; qd=32 ;;
      warm1) variants="never auto always"; qd=1 ;;
      warm32) variants="never auto always"; qd=32 ;;
    esac
    for v in $variants; do
      if [ "$c" = cold32 ]; then drop_cache; else cat "$FILE" >/dev/null; fi
      if [ "$v" = native ]; then line=$(aiolos "$c" native native "$qd")
      else line=$(aiolos "$c" "uring-$v" uring "$qd" "$v"); fi
      echo "round $round: $line" >&2
      echo "$line" >>"$results"
    done
  done
  if [ "$FIO" = 1 ]; then
    for v in system never auto always; do
      if [ "$v" = system ]; then line=$(fio_run system -u LD_LIBRARY_PATH -u AIOLOS_ENGINE)
      else line=$(fio_run "ours-$v" LD_LIBRARY_PATH="$LIBDIR" AIOLOS_ENGINE=uring \
        AIOLOS_ASYNC_BUFFERED="$v"); fi
      echo "round $round: $line" >&2
      echo "$line" >>"$results"
    done
  fi
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf "%-7s %-13s %10s %10s %10s %10s %10s %10s\n" case variant IOPS "submit p50" "submit p99" "lat p50" "cpu us/io" "punted %"
awk '
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $1 " " $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    for (f = 3; f <= 8; f++) v[k, f] = v[k, f] " " $f }
  END { for (i = 1; i <= n; i++) { k = order[i]; split(k, kk, " ")
      printf "%-7s %-13s", kk[1], kk[2]
      for (f = 3; f <= 8; f++) { m = v[k, f] ~ /-/ ? "-" : median(v[k, f]); printf " %10s", m }
      printf "\n" } }' "$results"
