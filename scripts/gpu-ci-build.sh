#!/usr/bin/env bash
# gpu-ci-build.sh — compile-only check of all GPU code, for CI machines
# without a GPU: nvcc for sm_90 (NVIDIA Hopper) and Debian's hipcc for
# gfx90a (CDNA2, wave64) and gfx1030 (RDNA2, wave32). Any warning or error
# fails the check. A missing compiler fails too, unless RF_GPU_CI_SKIP_MISSING=1
# (then it is reported and skipped).
#
# usage: scripts/gpu-ci-build.sh [outdir]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${TMPDIR:-/tmp}/rf-gpu-ci}
mkdir -p "$out"
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
HIPCC=${HIPCC:-$(command -v hipcc || echo /usr/bin/hipcc)}
srcs=$(ls src/backend/gpu/*.cu)
inc="-Isrc -Iinclude"
fail=0

check() { # name, log: fails on a non-zero status or any warning in the log
  local name=$1 log=$2 rc=$3
  if [ "$rc" -ne 0 ] || grep -qiE "warning|error" "$log"; then
    echo "FAIL $name"; sed 's/^/  /' "$log" | head -60; fail=1
  else
    echo "ok   $name"
  fi
}

missing() {
  if [ "${RF_GPU_CI_SKIP_MISSING:-0}" = 1 ]; then echo "SKIP $1: compiler not found"; else echo "FAIL $1: compiler not found ($2)"; fail=1; fi
}

# NVIDIA sm_90
if [ -x "$NVCC" ]; then
  for f in $srcs; do
    b=$(basename "$f" .cu)
    log="$out/nv_$b.log"
    "$NVCC" -std=c++17 -O2 -arch=sm_90 -Xcompiler -Wall,-Wextra -Werror all-warnings $inc -c "$f" \
      -o "$out/nv_$b.o" >"$log" 2>&1
    check "nvcc sm_90 $b" "$log" $?
  done
else
  missing "nvcc sm_90" "$NVCC"
fi

# AMD: CDNA2 (wave64) and RDNA2 (wave32) in one pass per file
if [ -x "$HIPCC" ]; then
  for f in $srcs; do
    b=$(basename "$f" .cu)
    log="$out/hip_$b.log"
    "$HIPCC" -x hip -std=c++17 -O2 --offload-arch=gfx90a --offload-arch=gfx1030 -Wall -Wextra $inc -c "$f" \
      -o "$out/hip_$b.o" >"$log" 2>&1
    check "hipcc gfx90a+gfx1030 $b" "$log" $?
  done
else
  missing "hipcc gfx90a/gfx1030" "$HIPCC"
fi

# the C side of the backend, with and without a GPU build
for f in src/backend/gpu/gpu_backend.c src/backend/gpu/gpu_none.c src/cli/cmd_devices.c; do
  log="$out/c_$(basename "$f" .c).log"
  cc -std=c11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE $inc -c "$f" -o "$out/c_$(basename "$f" .c).o" >"$log" 2>&1
  check "cc $(basename "$f")" "$log" $?
done

[ $fail -eq 0 ] && echo "gpu-ci-build: all GPU code compiles warning-free" || echo "gpu-ci-build: FAILED"
exit $fail
