#!/usr/bin/env bash
# build.sh — configure and build rocmforge into build/ (Release). Extra
# arguments go to cmake's configure step, e.g. -DRF_GPU=off.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" build
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$root/build" -j"$(nproc)" >&2
