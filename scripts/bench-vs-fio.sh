#!/usr/bin/env bash
# aiolos bench next to fio, same parameters, same file, same run.
#
# Runs fio (io_uring, libaio, psync) and `aiolos bench` (every engine this build has)
# with identical parameters on one file, interleaved (A B C ... A B C ...) over ROUNDS
# rounds, then prints the median of each and the ratios of aiolos to its fio counterpart:
# aiolos uring vs fio io_uring, aiolos native vs fio libaio, aiolos threads vs fio psync.
#
# Parameters (environment): RW=randread BS=4k QD=32 RUNTIME=5 ROUNDS=3 SIZE=1g DIRECT=1
# WARM=0 (DIRECT=0 only: read the whole file before every run, so each starts with a warm cache)
# COLD=0 (DIRECT=0 only: drop the file's pages before every run, so each run starts cold)
# JOBS=1 (aiolos --jobs, fio --numjobs: each job its own ring and thread, fio's jobs grouped)
# FIXED=0 (1: registered files and buffers, aiolos --fixed-files --fixed-bufs against fio
#   io_uring --registerfiles --fixedbufs; kernel AIO and psync have no such mode)
# PSYNC_JOBS=threads engine's pool size (fio psync runs this many synchronous jobs, the
#   same number of threads as aiolos's thread pool; times JOBS)
# AIOLOS_BEFORE=path/to/an/older/aiolos (adds its engines as before-*, and the ratios of
#   each aiolos engine to its own before-* run: a before/after table in the same run)
# AIOLOS_ARGS="--batch-submit 4" (more arguments for every aiolos bench run)
# FORMAT=text|md (md: the table as Markdown, as docs/benchmarks.md shows it)
# FILE=/var/tmp/aiolos-bench-vs-fio.dat (created and filled by aiolos if missing, and then
# removed at the end unless KEEP=1). AIOLOS=target/release/aiolos (built if missing).
# Both sides use fio's default page-cache advice (fadvise_hint: random for random patterns;
# aiolos bench --fadvise has the same default).
#
# Needs: fio (apt-get install fio), awk, python3, a Rust toolchain to build aiolos. See
# docs/benchmarks.md for the output format.
set -euo pipefail
cd "$(dirname "$0")/.."

RW=${RW:-randread} BS=${BS:-4k} QD=${QD:-32} RUNTIME=${RUNTIME:-5} ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-1g} DIRECT=${DIRECT:-1} WARM=${WARM:-0} COLD=${COLD:-0} KEEP=${KEEP:-0}
FILE=${FILE:-/var/tmp/aiolos-bench-vs-fio.dat}
AIOLOS=${AIOLOS:-target/release/aiolos}
JOBS=${JOBS:-1} FIXED=${FIXED:-0} FORMAT=${FORMAT:-text} AIOLOS_BEFORE=${AIOLOS_BEFORE:-}
read -r -a AIOLOS_ARGS <<<"${AIOLOS_ARGS:-}"
# The thread pool's default size: min(4, 2 x cores).
PSYNC_JOBS=${PSYNC_JOBS:-$(n=$(nproc); [ $((2 * n)) -lt 4 ] && echo $((2 * n)) || echo 4)}

command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }
[ -x "$AIOLOS" ] || cargo build --release -p aiolos-cli >&2

created=0
if [ ! -e "$FILE" ]; then
  echo "creating $FILE ($SIZE) ..." >&2
  "$AIOLOS" bench --file "$FILE" --size "$SIZE" --runtime 0.1 --buffered >/dev/null
  created=1
fi
results=$(mktemp)
cleanup() { rm -f "$results"; if [ "$created" = 1 ] && [ "$KEEP" != 1 ]; then rm -f "$FILE"; fi; }
trap cleanup EXIT

buffered=(); [ "$DIRECT" = 1 ] || buffered=(--buffered)
fixed=(); [ "$FIXED" = 1 ] && fixed=(--fixed-files --fixed-bufs)

# Which aiolos engines run here.
aiolos_engines=()
for e in uring native threads; do
  if "$AIOLOS" bench --engine "$e" --file "$FILE" --size "$SIZE" --rw read --runtime 0.05 \
      "${buffered[@]}" >/dev/null 2>&1; then
    aiolos_engines+=("$e")
  else
    echo "skipping aiolos-$e: $("$AIOLOS" bench --engine "$e" --file "$FILE" --size "$SIZE" \
      --rw read --runtime 0.05 "${buffered[@]}" 2>&1 >/dev/null | tail -1)" >&2
  fi
done


# Drops the file's pages from the page cache (posix_fadvise DONTNEED through dd).
drop_cache() { dd if="$FILE" iflag=nocache count=0 status=none; }

# One fio run -> "name iops mib_s p50_us p99_us cpu_us_per_io submit_p99_us" (latency: submit
# to completion; submit: fio's slat, the time to submit each request, 0 where fio has none).
run_fio() {
  local engine=$1 depth=$QD invalidate=1 jobs=$JOBS extra=()
  # A synchronous engine: one request at a time per job, as many jobs as aiolos's pool has
  # threads (times JOBS).
  [ "$engine" = psync ] && { depth=1; jobs=$((PSYNC_JOBS * JOBS)); }
  [ "$engine" = io_uring ] && [ "$FIXED" = 1 ] && extra=(--registerfiles --fixedbufs)
  # fio drops the file's pages before a job unless told not to (--invalidate, default 1).
  [ "$WARM" = 1 ] && invalidate=0
  fio --name=bench --invalidate="$invalidate" --filename="$FILE" --size="$SIZE" --ioengine="$engine" --direct="$DIRECT" \
    --rw="$RW" --bs="$BS" --iodepth="$depth" --runtime="$RUNTIME" --time_based \
    --numjobs="$jobs" --group_reporting --thread \
    --norandommap --randrepeat=0 --lat_percentiles=1 --slat_percentiles=1 --output-format=json "${extra[@]}" |
  python3 -c '
import json, sys
name, jobs = sys.argv[1], int(sys.argv[2])
job = json.load(sys.stdin)["jobs"][0]
rd, wr = job["read"], job["write"]
ios = rd["total_ios"] + wr["total_ios"]
main = rd if rd["total_ios"] >= wr["total_ios"] else wr
pct = lambda d, k: d.get("percentile", {}).get(k, 0) / 1e3
secs = max(rd["runtime"], wr["runtime"]) / 1e3
# With --group_reporting the CPU figures are the mean over the jobs.
cpu = (job["usr_cpu"] + job["sys_cpu"]) / 100 * jobs * secs * 1e6 / ios if ios else 0
print("%s %.0f %.1f %.1f %.1f %.2f %.1f" % (name, rd["iops"] + wr["iops"], (rd["bw"] + wr["bw"]) / 1024,
      pct(main["lat_ns"], "50.000000"), pct(main["lat_ns"], "99.000000"), cpu,
      pct(main["slat_ns"], "99.000000")))
' "fio-$engine" "$jobs"
}

# One aiolos run -> the same fields, from its JSON.
run_aiolos() {
  local bin=$1 engine=$2 name=$3 f=()
  [ "$engine" = uring ] && [ "${name#before-}" = "$name" ] && f=("${fixed[@]}")
  # A write overwrites FILE, which fio's runs have written too (so the bench's stamp is
  # gone): the script's scratch file, overwritten on purpose.
  case $RW in *write* | *rw*) f+=(--force) ;; esac
  "$bin" bench --engine "$engine" --file "$FILE" --size "$SIZE" --rw "$RW" --bs "$BS" \
    --qd "$QD" --runtime "$RUNTIME" --jobs "$JOBS" "${buffered[@]}" "${f[@]}" "${AIOLOS_ARGS[@]}" --json |
  awk -v name="$name" '
    function val(line) { sub(/.*: */, "", line); sub(/,$/, "", line); return line }
    /"iops":/ && !iops { iops = val($0) }
    /"bw_mib_per_sec":/ && !bw { bw = val($0) }
    /"lat_ns_p50":/ && !p50 { p50 = val($0) }
    /"lat_ns_p99":/ && !p99 { p99 = val($0) }
    /"cpu_user_ns_per_io":/ && !cu { cu = val($0) }
    /"cpu_sys_ns_per_io":/ && !cs { cs = val($0) }
    /"submit_lat_ns_p99":/ && !sp { sp = val($0) }
    END { printf "%s %.0f %.1f %.1f %.1f %.2f %.1f\n", name, iops, bw, p50 / 1e3, p99 / 1e3, (cu + cs) / 1e3, sp / 1e3 }'
}

names=(fio-io_uring fio-libaio fio-psync)
for e in "${aiolos_engines[@]}"; do names+=("aiolos-$e"); done
if [ -n "$AIOLOS_BEFORE" ]; then
  for e in "${aiolos_engines[@]}"; do names+=("before-$e"); done
fi
echo "rw=$RW bs=$BS qd=$QD jobs=$JOBS fixed=$FIXED psync_jobs=$((PSYNC_JOBS * JOBS)) runtime=${RUNTIME}s size=$SIZE direct=$DIRECT warm=$WARM cold=$COLD rounds=$ROUNDS file=$FILE load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
  for n in "${names[@]}"; do
    if [ "$DIRECT" != 1 ] && [ "$COLD" = 1 ]; then drop_cache; fi
    if [ "$DIRECT" != 1 ] && [ "$WARM" = 1 ]; then cat "$FILE" >/dev/null; fi
    case $n in
      fio-*) line=$(run_fio "${n#fio-}") ;;
      aiolos-*) line=$(run_aiolos "$AIOLOS" "${n#aiolos-}" "$n") ;;
      before-*) line=$(run_aiolos "$AIOLOS_BEFORE" "${n#before-}" "$n") ;;
    esac
    echo "round $round: $line" >&2
    echo "$line" >>"$results"
  done
done

# Medians per name, then ratios of each aiolos engine to its fio counterpart.
awk -v order="${names[*]}" -v format="$FORMAT" '
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { for (f = 2; f <= 7; f++) v[$1, f] = v[$1, f] " " $f }
  END {
    peer["aiolos-uring"] = "fio-io_uring"; peer["aiolos-native"] = "fio-libaio"
    peer["aiolos-threads"] = "fio-psync"
    n = split(order, names, " ")
    for (i = 1; i <= n; i++) for (f = 2; f <= 7; f++) m[names[i], f] = median(v[names[i], f])
    if (format == "md") {
      print "| engine | IOPS | MiB/s | p50 µs | p99 µs | CPU µs/I/O | submit p99 µs | IOPS × peer | CPU × peer | peer | IOPS × before | CPU × before |"
      print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
    } else {
      printf "%-15s %10s %9s %8s %9s %10s %12s %8s %8s  %-13s %9s %9s\n", "engine", "IOPS", "MiB/s", "p50 us", "p99 us", "cpu us/io", "submit p99", "IOPS x", "cpu x", "vs", "IOPS xbef", "cpu xbef"
    }
    for (i = 1; i <= n; i++) {
      e = names[i]; p = peer[e]; ri = "-"; rc = "-"; vs = ""; bi = "-"; bc = "-"
      if (p != "" && m[p, 2] > 0) { ri = sprintf("%.2f", m[e, 2] / m[p, 2]); vs = p
        if (m[p, 6] > 0) rc = sprintf("%.2f", m[e, 6] / m[p, 6]) }
      b = e; sub(/^aiolos-/, "before-", b)
      if (e ~ /^aiolos-/ && m[b, 2] > 0) { bi = sprintf("%.2f", m[e, 2] / m[b, 2])
        if (m[b, 6] > 0) bc = sprintf("%.2f", m[e, 6] / m[b, 6]) }
      sp = m[e, 7] > 0 ? sprintf("%.1f", m[e, 7]) : "-"
      if (format == "md")
        printf "| %s | %.0f | %.1f | %.1f | %.1f | %.2f | %s | %s | %s | %s | %s | %s |\n", e, m[e, 2], m[e, 3], m[e, 4], m[e, 5], m[e, 6], sp, ri, rc, vs, bi, bc
      else
        printf "%-15s %10.0f %9.1f %8.1f %9.1f %10.2f %12s %8s %8s  %-13s %9s %9s\n", e, m[e, 2], m[e, 3], m[e, 4], m[e, 5], m[e, 6], sp, ri, rc, vs, bi, bc
    }
  }' "$results"
