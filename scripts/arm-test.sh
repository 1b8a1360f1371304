#!/usr/bin/env bash
# arm-test.sh — cross-build the CPU kernels and their tests for AArch64 and
# run them under qemu-aarch64: the quantizers bit for bit against llama.cpp
# (recorded on the host), and the NEON variant against the scalar
# reference, exactly as tests/cpu does natively. Exits 77 (skip) when the
# cross compiler or qemu is missing (scripts/deps.sh installs both).
# Usage: scripts/arm-test.sh [build-dir]   (default: build-arm)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-arm}
cc=${RF_ARM_CC:-aarch64-linux-gnu-gcc}
qemu=${RF_ARM_QEMU:-qemu-aarch64}
sysroot=${RF_ARM_SYSROOT:-/usr/aarch64-linux-gnu}
command -v "$cc" >/dev/null || { echo "SKIP: $cc not found (scripts/deps.sh installs gcc-aarch64-linux-gnu)" >&2; exit 77; }
command -v "$qemu" >/dev/null || { echo "SKIP: $qemu not found (scripts/deps.sh installs qemu-user)" >&2; exit 77; }
[ -d "$sysroot" ] || { echo "SKIP: no AArch64 sysroot at $sysroot" >&2; exit 77; }
mkdir -p "$out"
src="$root/src"
lib_sources="$src/base/base.c $src/gguf/types.c $src/quant/quant.c $src/quant/quant_k.c
  $src/backend/cpu/threadpool.c $src/backend/cpu/cpu_kernels.c $src/backend/cpu/cpu_pack.c $src/backend/cpu/cpu_scalar.c
  $src/backend/cpu/cpu_neon.c $src/backend/cpu/cpu_avx2.c $src/backend/cpu/cpu_avx512.c
  $src/backend/cpu/cpu_amx.c"
flags="-std=c11 -O2 -Wall -Wextra -Wno-unused-parameter -Werror -D_GNU_SOURCE -march=armv8-a -I$root/include -I$src -I$root/tests"
# 1. The quantizers on AArch64 against llama.cpp: its results are recorded
#    on this (x86-64) host from its libggml-base (tests/quant/test_quant_ggml
#    --dump), then checked bit for bit by the AArch64 build (--check).
ref="$out/quant_ref.bin"
host_cc=${CC:-cc}
quant_note=""
if command -v "$host_cc" >/dev/null; then
  # shellcheck disable=SC2086
  "$host_cc" -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" -I"$src" -I"$root/tests" -o "$out/quant_ggml_host" \
    "$root/tests/quant/test_quant_ggml.c" $src/base/base.c $src/gguf/types.c $src/quant/quant.c $src/quant/quant_k.c -lm -ldl
  set +e
  RF_CACHE_DIR=${RF_CACHE_DIR:-$root/.cache} "$out/quant_ggml_host" --dump "$ref"
  rc=$?
  set -e
  [ $rc -eq 0 ] || { quant_note="llama.cpp reference library absent (scripts/fetch-refs.sh): quantizer check skipped"; rm -f "$ref"; }
else
  quant_note="no host compiler: quantizer check skipped"
fi
if [ -f "$ref" ]; then
  # shellcheck disable=SC2086
  "$cc" $flags -o "$out/test_quant_ggml" "$root/tests/quant/test_quant_ggml.c" $lib_sources -lm -ldl
  echo "== test_quant_ggml --check (aarch64, qemu)" >&2
  "$qemu" -L "$sysroot" "$out/test_quant_ggml" --check "$ref"
fi
[ -z "$quant_note" ] || echo "note: $quant_note" >&2

# 2. The matmul kernels (scalar and NEON) against the reference.
for t in cpu/test_cpu_matmul; do
  exe="$out/$(basename "$t")"
  # shellcheck disable=SC2086
  "$cc" $flags -o "$exe" "$root/tests/$t.c" $lib_sources -lm -lpthread
  echo "== $(basename "$t") (aarch64, qemu)" >&2
  "$qemu" -L "$sysroot" "$exe"
done
