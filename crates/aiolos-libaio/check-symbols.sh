#!/bin/sh
# Checks that a built libaio.so.1 exports exactly libaio 0.3.113's dynamic symbols: the same
# names, versions and default (@@) / compatibility (@) bindings, the SONAME libaio.so.1, and
# nothing else (no leaked Rust or runtime symbols).
# Usage: check-symbols.sh [PATH/TO/libaio.so.1]   (default: <target dir>/dropin/libaio.so.1)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib=${1:-${CARGO_TARGET_DIR:-$root/target}/dropin/libaio.so.1}
[ -e "$lib" ] || { echo "check-symbols: $lib not found (run build-so.sh first)" >&2; exit 1; }

# objdump -T prints "(VERSION)" for a hidden compatibility version (name@VERSION) and
# "VERSION" for the default one (name@@VERSION).
expected='DF io_cancel (LIBAIO_0.1)
DF io_cancel LIBAIO_0.4
DF io_destroy LIBAIO_0.4
DF io_getevents (LIBAIO_0.1)
DF io_getevents LIBAIO_0.4
DF io_pgetevents LIBAIO_0.5
DF io_queue_init LIBAIO_0.1
DF io_queue_release LIBAIO_0.1
DF io_queue_run LIBAIO_0.1
DF io_queue_wait (LIBAIO_0.1)
DF io_queue_wait LIBAIO_0.4
DF io_setup LIBAIO_0.4
DF io_submit LIBAIO_0.1
DO LIBAIO_0.1 LIBAIO_0.1
DO LIBAIO_0.4 LIBAIO_0.4
DO LIBAIO_0.5 LIBAIO_0.5'

# Every defined dynamic symbol: "TYPE NAME VERSION". Columns after the address: flags
# (variable width), section, size, version, name.
actual=$(objdump -T "$lib" | awk '
    /^[0-9a-f]+ / && $0 !~ /\*UND\*/ {
        name = $NF; ver = $(NF-1); type = ($0 ~ / DF /) ? "DF" : ($0 ~ / DO /) ? "DO" : "??"
        print type, name, ver
    }' | LC_ALL=C sort)

status=0
if [ "$actual" != "$(printf '%s\n' "$expected" | LC_ALL=C sort)" ]; then
    echo "check-symbols: exported symbols of $lib differ from libaio 0.3.113's" >&2
    echo "--- expected +++ actual" >&2
    printf '%s\n' "$expected" | LC_ALL=C sort >"${TMPDIR:-/tmp}/aiolos-syms-exp.$$"
    printf '%s\n' "$actual" >"${TMPDIR:-/tmp}/aiolos-syms-act.$$"
    diff -u "${TMPDIR:-/tmp}/aiolos-syms-exp.$$" "${TMPDIR:-/tmp}/aiolos-syms-act.$$" >&2 || true
    rm -f "${TMPDIR:-/tmp}/aiolos-syms-exp.$$" "${TMPDIR:-/tmp}/aiolos-syms-act.$$"
    status=1
fi

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libaio.so.1" ]; then
    echo "check-symbols: SONAME is '$soname', expected libaio.so.1" >&2
    status=1
fi

# Version nodes must chain LIBAIO_0.1 <- LIBAIO_0.4 <- LIBAIO_0.5.
chain=$(objdump -p "$lib" | awk '
    /^Version definitions:/ { on = 1; next }
    /^Version References:/ { on = 0 }
    on && NF >= 4 { node = $4; next }
    on && NF == 1 && node != "" { print node "<-" $1 }' | LC_ALL=C sort | tr '\n' ' ')
if [ "$chain" != "LIBAIO_0.4<-LIBAIO_0.1 LIBAIO_0.5<-LIBAIO_0.4 " ]; then
    echo "check-symbols: version node chain is '$chain'" >&2
    status=1
fi

[ $status -eq 0 ] && echo "check-symbols: $lib exports exactly libaio 0.3.113's table"
exit $status
