#!/bin/sh
# Builds libaio.so.1 (SONAME libaio.so.1) from the aiolos-libaio static library.
# Usage: build-so.sh [OUTDIR]   (default: <target dir>/release)
# Prints the path of the library it wrote.
# With AIOLOS_SANITIZER=address the Rust code is built by nightly with -Zsanitizer=address
# (in <target dir>/asan, so normal builds stay valid) and the library is linked against the
# C compiler's ASan runtime; programs using it must be built with -fsanitize=address.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
out=${1:-$target/release}
mkdir -p "$out"
case "${AIOLOS_SANITIZER:-}" in
'')
  cargo build --quiet --manifest-path "$root/Cargo.toml" -p aiolos-libaio --release
  archive=$target/release/libaiolos_libaio.a
  sanitize= ;;
address)
  triple=x86_64-unknown-linux-gnu
  RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR="$target/asan" \
    cargo +nightly build --quiet --manifest-path "$root/Cargo.toml" -p aiolos-libaio --release \
    --target "$triple"
  archive=$target/asan/$triple/release/libaiolos_libaio.a
  sanitize=-fsanitize=address ;;
*)
  echo "build-so.sh: AIOLOS_SANITIZER=$AIOLOS_SANITIZER is not supported (only address)" >&2
  exit 2 ;;
esac
# --whole-archive keeps our exported functions (nothing refers to them yet); the version
# script binds them to libaio's versions and makes every other symbol local; --gc-sections
# then drops the parts of the Rust runtime nothing reaches.
# shellcheck disable=SC2086 # $sanitize is empty or one flag
${CC:-cc} -shared $sanitize -o "$out/libaio.so.1.0.2.tmp.$$" \
    -Wl,--whole-archive "$archive" -Wl,--no-whole-archive \
    -Wl,--version-script="$here/libaio.map" -Wl,-soname=libaio.so.1 \
    -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,--no-undefined \
    -lgcc_s -lc -lm
mv -f "$out/libaio.so.1.0.2.tmp.$$" "$out/libaio.so.1.0.2"
ln -sfn libaio.so.1.0.2 "$out/libaio.so.1.tmp.$$" && mv -f "$out/libaio.so.1.tmp.$$" "$out/libaio.so.1"
echo "$out/libaio.so.1"
