#!/usr/bin/env bash
# build.sh — configure and build rocmforge into build/ (Release). Extra
# arguments go to cmake's configure step, e.g. -DRF_GPU=off.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" build
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
mkdir -p "$root/build"
if ! cmake --build "$root/build" -j"$(nproc)" >"$root/build/build.log" 2>&1; then
  tail -40 "$root/build/build.log" >&2
  echo "build.sh: the build failed; full log in build/build.log" >&2
  exit 1
fi
