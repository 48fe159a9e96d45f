#!/bin/sh
# Builds libaio.so.1 (SONAME libaio.so.1) from the aiolos-libaio static library: stripped,
# its debug information split into libaio.so.1.0.2.debug (found through .gnu_debuglink),
# full RELRO, BIND_NOW, no executable stack, never unloaded (it runs a thread of its own).
#
# Usage: build-so.sh [OUTDIR]            (default: <target dir>/dropin)
#        build-so.sh --prefix PREFIX     also installs PREFIX/lib/libaio.so.1.0.2 with its
#                                        links libaio.so.1 and libaio.so, the debug file in
#                                        PREFIX/lib/.debug, PREFIX/include/libaio.h and
#                                        PREFIX/lib/pkgconfig/libaio.pc
# Prints the path of the library it wrote (the installed one with --prefix).
#
# AIOLOS_SANITIZER=address: the Rust code is built by nightly with -Zsanitizer=address (in
# <target dir>/asan, so normal builds stay valid) and linked against the C compiler's ASan
# runtime; programs using it must be built with -fsanitize=address.
# AIOLOS_STACK_PROTECTOR=strong: built by nightly with -Zstack-protector=strong (stable Rust
# has no stack protector; the precompiled standard library has none either way).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
prefix=
if [ "${1:-}" = --prefix ]; then
  [ $# -eq 2 ] || { echo "usage: build-so.sh --prefix PREFIX" >&2; exit 2; }
  prefix=$2
  case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
  out=$target/dropin
else
  out=${1:-$target/dropin}
fi
mkdir -p "$out"
triple=x86_64-unknown-linux-gnu
sanitize=
case "${AIOLOS_SANITIZER:-}:${AIOLOS_STACK_PROTECTOR:-}" in
:)
  cargo build --quiet --manifest-path "$root/Cargo.toml" -p aiolos-libaio --profile dropin
  archive=$target/dropin/libaiolos_libaio.a ;;
address:)
  RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$target/asan" \
    cargo +nightly build --quiet --manifest-path "$root/Cargo.toml" -p aiolos-libaio --release \
    --target "$triple"
  archive=$target/asan/$triple/release/libaiolos_libaio.a
  sanitize=-fsanitize=address ;;
:strong)
  RUSTFLAGS="-Zstack-protector=strong" CARGO_TARGET_DIR="$target/ssp" \
    cargo +nightly build --quiet --manifest-path "$root/Cargo.toml" -p aiolos-libaio \
    --profile dropin --target "$triple"
  archive=$target/ssp/$triple/dropin/libaiolos_libaio.a ;;
*)
  echo "build-so.sh: AIOLOS_SANITIZER=${AIOLOS_SANITIZER:-} AIOLOS_STACK_PROTECTOR=${AIOLOS_STACK_PROTECTOR:-}:" \
    "only address, or strong, one at a time" >&2
  exit 2 ;;
esac
so=$out/libaio.so.1.0.2
tmp=$so.tmp.$$
# --whole-archive keeps our exported functions (nothing refers to them yet); the version
# script binds them to libaio's versions and makes every other symbol local; --gc-sections
# then drops the parts of the Rust runtime nothing reaches. -static-libgcc takes the
# unwinder (needed to stop a panic at the C boundary) from libgcc_eh.a, so the library
# needs no libgcc_s.so.1. -z nodelete: dlclose never unmaps the code the library's own
# thread runs.
# shellcheck disable=SC2086 # $sanitize is empty or one flag
${CC:-cc} -shared $sanitize -o "$tmp" \
    -Wl,--whole-archive "$archive" -Wl,--no-whole-archive \
    -Wl,--version-script="$here/libaio.map" -Wl,-soname=libaio.so.1 \
    -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,-z,nodelete \
    -Wl,--build-id -Wl,--no-undefined -static-libgcc -lc
if [ -z "$sanitize" ]; then
  objcopy --only-keep-debug "$tmp" "$so.debug"
  chmod -x "$so.debug"
  objcopy --strip-unneeded --add-gnu-debuglink="$so.debug" "$tmp"
fi
mv -f "$tmp" "$so"
ln -sfn libaio.so.1.0.2 "$out/libaio.so.1.tmp.$$" && mv -f "$out/libaio.so.1.tmp.$$" "$out/libaio.so.1"
if [ -z "$prefix" ]; then
  echo "$out/libaio.so.1"
  exit 0
fi
lib=$prefix/lib
install -d "$lib" "$lib/.debug" "$lib/pkgconfig" "$prefix/include"
install -m 0755 "$so" "$lib/libaio.so.1.0.2"
[ -e "$so.debug" ] && install -m 0644 "$so.debug" "$lib/.debug/libaio.so.1.0.2.debug"
ln -sfn libaio.so.1.0.2 "$lib/libaio.so.1"
ln -sfn libaio.so.1 "$lib/libaio.so"
install -m 0644 "$here/include/libaio.h" "$prefix/include/libaio.h"
cat >"$lib/pkgconfig/libaio.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libaio
Description: Linux asynchronous I/O (aiolos drop-in: kernel AIO, io_uring or a thread pool)
URL: https://example.invalid/aiolos
Version: 0.3.113
Libs: -L\${libdir} -laio
Cflags: -I\${includedir}
PC
echo "$lib/libaio.so.1"
