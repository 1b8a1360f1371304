#!/usr/bin/env bash
# run.sh — the main job: build rocmforge if needed, find (or fetch) the
# default model, and generate text from a prompt.
# Usage: scripts/run.sh [PROMPT] [more `rocmforge run` options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
model=$("$root/scripts/get-model.sh")
prompt=${1:-Once upon a time}
shift || true
exec "$root/build/rocmforge" run -m "$model" -p "$prompt" -n 128 "$@"
