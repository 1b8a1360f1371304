#!/usr/bin/env bash
# fetch-refs.sh — fetch the reference implementation used by the tests:
# llama.cpp as shipped in the npm package node-llama-cpp (its CPU shared
# libraries, prebuilt; its source as a git bundle). Nothing is committed;
# everything lands under .cache/node. Safe to run repeatedly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/node"
if [ -f "$dest/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so" ]; then exit 0; fi
command -v npm >/dev/null || { echo "fetch-refs.sh: npm missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"rf-refs","private":true}' > package.json
npm install --no-audit --no-fund --ignore-scripts node-llama-cpp@3.21.1 >&2
