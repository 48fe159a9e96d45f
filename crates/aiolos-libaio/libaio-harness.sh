#!/bin/bash
# Runs libaio's own test suite (the harness of its source package: 21 cases, from bad
# arguments and permissions to RLIMIT_FSIZE, ENOSPC and the largest ext2 offset) on the
# drop-in, on every engine, and on the system's libaio for reference. An independent check:
# the cases are libaio's, not ours, and expect kernel AIO's answers.
#
# Usage: libaio-harness.sh [WORKDIR]   (default: a temporary directory, removed at the end)
# Env:   ENGINES="native uring threads"  LIB=directory holding our libaio.so.1 (built with
#        build-so.sh into WORKDIR/lib when unset)
#
# The source comes from Debian's archive (`apt-get source libaio`, through a deb-src entry
# given to apt for this one call: nothing under /etc/apt is changed). Cases 8 and 10 mount
# small ext2 images on loop devices (root); they are unmounted at the end, also on failure.
# Exits 1 if any case fails on any library (or the harness does not build), 2 if the source
# cannot be fetched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
engines=${ENGINES:-native uring threads}
own=0
if [ $# -ge 1 ]; then
  work=$1
  mkdir -p "$work"
else
  work=$(mktemp -d /var/tmp/aiolos-libaio-harness.XXXXXX)
  own=1
fi
work=$(cd "$work" && pwd)
src=
cleanup() {
  if [ -n "$src" ]; then
    for m in "$src/testdir.enospc" "$src/testdir.ext2"; do
      if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
    done
  fi
  if [ "$own" = 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# The source, once.
src=$(ls -d "$work"/libaio-*/harness 2>/dev/null | head -1 || true)
if [ -z "$src" ]; then
  list=$work/apt-src.sources
  cat >"$list" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
  apt_opts=(-o "Dir::Etc::sourcelist=$list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
    -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 ||
    { echo "apt-get update (deb-src) failed:" >&2; tail -5 "$work/apt.log" >&2; exit 2; }
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only libaio >>"$work/apt.log" 2>&1) ||
    { echo "apt-get source libaio failed:" >&2; tail -5 "$work/apt.log" >&2; exit 2; }
  tar -C "$work" -xzf "$work"/libaio_*.orig.tar.gz
  src=$(ls -d "$work"/libaio-*/harness | head -1)
fi

lib=${LIB:-}
if [ -z "$lib" ]; then
  lib=$work/lib
  "$here/build-so.sh" "$lib" >/dev/null
fi

cd "$src"
# Built against our library; run on either by LD_LIBRARY_PATH (the SONAME is the same).
make -s LIBAIO="$lib/libaio.so.1" all >/dev/null || { echo "building the harness failed" >&2; exit 1; }
make -s testdir/rofile testdir/rwfile testdir/wofile >/dev/null
mkdir -p testdir.enospc testdir.ext2
[ -f ext2.img ] || { dd if=/dev/zero bs=1M count=10 of=ext2.img status=none; mke2fs -q -F -b 4096 ext2.img; }
parts=$(ls cases/*.p | grep -v -e '^cases/8.p$' -e '^cases/10.p$' | sort -t/ -k2 -n)

# run NAME ENV...: every case on one library; prints a line per library, the failures after.
failed=0
run() {
  local name=$1 log=$work/harness-$1.log
  shift
  : >"$log"
  env "$@" timeout 900 ./runtests.sh $parts >>"$log" 2>&1 || true
  # A fresh copy of the almost full image for each library.
  cp ext2-enospc.img "$work/enospc.img"
  mount -o loop -t ext2 "$work/enospc.img" testdir.enospc
  env "$@" timeout 120 ./runtests.sh cases/10.p >>"$log" 2>&1 || true
  umount testdir.enospc
  mount -o loop -t ext2 ext2.img testdir.ext2
  env "$@" timeout 300 ./runtests.sh cases/8.p >>"$log" 2>&1 || true
  umount testdir.ext2
  rm -f "$work/enospc.img"
  local pass fail
  pass=$(grep -c '^Completed .* with 0\.$' "$log" || true)
  fail=$(grep -c -- '-- FAILED\.$' "$log" || true)
  printf '%-8s %2d passed, %d failed\n' "$name" "$pass" "$fail"
  if [ "$fail" -gt 0 ]; then
    failed=1
    grep -B1 -e '-- FAILED' "$log" | grep -v -e '^--$' -e '^Completed ' | sed 's/^/    /'
  fi
}

run system -u LD_LIBRARY_PATH -u AIOLOS_ENGINE
for e in $engines; do
  run "$e" LD_LIBRARY_PATH="$lib" AIOLOS_ENGINE="$e"
done
exit $failed
