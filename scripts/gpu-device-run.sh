#!/usr/bin/env bash
# gpu-device-run.sh — the one script to run on a machine with an NVIDIA GPU:
# builds rocmforge with -DRF_GPU=cuda, runs the GPU tests and the GPU
# benchmarks, and writes logs under $OUT (default ./gpu-run-out).
#
# Needs: nvcc (CUDA 12+), cmake, a C compiler, and the pkg-config modules of
# the build (pcre2, jansson, libmicrohttpd). Where those are not installed
# and nothing can be fetched, put their Debian .debs in .devdata/debs (see
# docs/gpu.md): they are unpacked under /tmp/rfdeps and used from there.
# Test models: RF_MODELS_DIR, else .devdata/models, else ../shared/models.
#
# usage: scripts/gpu-device-run.sh [tests|bench|all] [bench models...]
set -uo pipefail
what=${1:-all}
shift || true
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-run-out}
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
JOBS=$(nproc 2>/dev/null || echo 4)

{ date -u; nvidia-smi 2>&1 | head -15; nvcc --version | tail -2; cmake --version | head -1; cc --version | head -1; } \
  >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# ---------------------------------------------------- build dependencies
have_pc() { command -v pkg-config >/dev/null && pkg-config --exists libpcre2-8 jansson libmicrohttpd; }
if ! have_pc && ls .devdata/debs/*.deb >/dev/null 2>&1; then
  echo "== unpacking build dependencies from .devdata/debs into /tmp/rfdeps"
  for f in .devdata/debs/*.deb; do dpkg -x "$f" /tmp/rfdeps; done
  for pc in /tmp/rfdeps/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc; do
    sed -i 's|^prefix=/usr$|prefix=/tmp/rfdeps/usr|; /^Requires.private/d' "$pc"
  done
  export PKG_CONFIG_PATH=/tmp/rfdeps/usr/lib/x86_64-linux-gnu/pkgconfig
  export LD_LIBRARY_PATH=/tmp/rfdeps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  export LIBRARY_PATH=/tmp/rfdeps/usr/lib/x86_64-linux-gnu:${LIBRARY_PATH:-}
  if ! command -v pkg-config >/dev/null; then
    ln -sf /tmp/rfdeps/usr/bin/pkgconf /tmp/rfdeps/usr/bin/pkg-config
    export PATH=$PATH:/tmp/rfdeps/usr/bin
  fi
fi

models=${RF_MODELS_DIR:-}
[ -z "$models" ] && [ -d .devdata/models ] && models=$PWD/.devdata/models
[ -z "$models" ] && models=$PWD/../shared/models

# ----------------------------------------------------------------- build
B=build-device
echo "== configure + build (RF_GPU=cuda)"
t0=$(date +%s)
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DRF_GPU=cuda -DRF_CUDA_ARCHS=${RF_CUDA_ARCHS:-90} \
  -DRF_MODELS_DIR="$models" >"$OUT/build.log" 2>&1 &&
cmake --build $B -j"$JOBS" --target rocmforge-cli gpu_kernels gpu_model gpu_bench ${RF_EXTRA_TARGETS:-} >>"$OUT/build.log" 2>&1
rc=$?
echo "build rc=$rc in $(( $(date +%s) - t0 )) s"
grep -iE "warning|error" "$OUT/build.log" | grep -v "^--" | head -40
[ $rc -ne 0 ] && { tail -40 "$OUT/build.log"; exit 1; }

./$B/rocmforge devices 2>&1 | tee "$OUT/devices.txt"

# ----------------------------------------------------------------- tests
if [ "$what" = tests ] || [ "$what" = all ]; then
  echo "== GPU tests"
  ctest --test-dir $B -R "^gpu_${RF_EXTRA_TESTS:+|$RF_EXTRA_TESTS}" --output-on-failure --timeout 300 2>&1 |
    tee "$OUT/tests.txt" | grep -vE "^ *$" | tail -60
fi

# ----------------------------------------------------------------- bench
if [ "$what" = bench ] || [ "$what" = all ]; then
  echo "== GPU benchmark (synthetic weights on model shapes)"
  ./$B/tests/gpu/gpu_bench "$@" 2>&1 | tee "$OUT/bench.txt"
  echo "== end to end: rocmforge synth + rocmforge bench (pp512, tg128, tg128 at depth 4096) on the GPU"
  tmpm=${TMPDIR:-/tmp}/rf-gpu-bench.gguf
  for spec in ${RF_E2E:-llama-3.2-1b:Q4_K_M llama-3.2-1b:Q8_0 llama-3.2-1b:F16 llama-3-8b:Q4_K_M llama-3-8b:Q4_0 llama-3-8b:Q8_0}; do
    shape=${spec%%:*} type=${spec##*:}
    t0=$(date +%s)
    if ./$B/rocmforge synth --arch llama --shape "$shape" --type "$type" -o "$tmpm" -q >>"$OUT/bench_e2e.log" 2>&1; then
      echo "-- $shape $type (synth $(( $(date +%s) - t0 )) s)" | tee -a "$OUT/bench_e2e.txt"
      ./$B/rocmforge bench -m "$tmpm" -p 512 -n 128 -r 3 2>>"$OUT/bench_e2e.log" | tee -a "$OUT/bench_e2e.txt"
      ./$B/rocmforge bench -m "$tmpm" -p 0 -n 128 -d "${RF_DEPTH:-4096}" -r 3 2>>"$OUT/bench_e2e.log" |
        grep tg128 | tee -a "$OUT/bench_e2e.txt"
      echo "   --no-deterministic (numerics by batch size instead of by token role; not batch invariant):" |
        tee -a "$OUT/bench_e2e.txt"
      ./$B/rocmforge bench -m "$tmpm" -p 512 -n 0 -r 3 --no-deterministic 2>>"$OUT/bench_e2e.log" |
        tee -a "$OUT/bench_e2e.txt"
    else
      echo "-- $shape $type: synth failed" | tee -a "$OUT/bench_e2e.txt"; tail -3 "$OUT/bench_e2e.log"
    fi
    rm -f "$tmpm"
  done
fi
# ------------------------------------------------------ profile (optional)
if [ "$what" = profile ] || [ -n "${RF_PROFILE:-}" ]; then
  NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -n "$NCU" ]; then
    echo "== ncu: one decode step of ${RF_PROFILE:-1b-q4km} (per-kernel summary)"
    "$NCU" --launch-skip ${RF_PROFILE_SKIP:-2000} --launch-count ${RF_PROFILE_COUNT:-260} --section SpeedOfLight \
      --print-summary per-kernel ./$B/tests/gpu/gpu_bench ${RF_PROFILE:-1b-q4km} >"$OUT/ncu.txt" 2>&1
    grep -E "rf_k_|Duration|Memory Throughput|DRAM Throughput|Compute \(SM\)" "$OUT/ncu.txt" | head -120
  else
    echo "ncu not found"
  fi
fi
echo "== done"
