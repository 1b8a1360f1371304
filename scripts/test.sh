#!/usr/bin/env bash
# test.sh — the whole test suite, from a fresh clone:
#   1. install missing Debian packages, fetch llama.cpp (npm) as a reference;
#   2. Release build + every test;
#   3. ASan/UBSan build + the tests again (the slowest ones excluded);
#   4. GPU code compiled for sm_90 (nvcc) and gfx90a/gfx1030 (hipcc);
#   5. every fuzz target for RF_FUZZ_SECONDS (default 60) each.
# Tests that need ../shared/models or a GPU skip with a message when absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
scripts/deps.sh test
scripts/fetch-refs.sh || echo "warning: llama.cpp reference (npm node-llama-cpp) unavailable; tests that need it skip"

step "release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

step "sanitizer build (ASan+UBSan) and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRF_SANITIZE=ON -DRF_GPU=off >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE "nosan|slow"

if [ -x scripts/gpu-ci-build.sh ]; then
  step "GPU code: sm_90, gfx90a, gfx1030"
  scripts/gpu-ci-build.sh
fi

step "fuzzing (${RF_FUZZ_SECONDS:-60}s per target)"
scripts/fuzz.sh "${RF_FUZZ_SECONDS:-60}"

step "all tests passed"
