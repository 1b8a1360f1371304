#!/usr/bin/env bash
# deps.sh — install the Debian packages rocmforge needs, only those missing.
# Usage: scripts/deps.sh [build|test|gpu]   (default: test = build + test tools)
set -euo pipefail
what=${1:-test}

pkgs_build="build-essential cmake pkg-config libpcre2-dev libjansson-dev libmicrohttpd-dev curl ca-certificates"
# test tools: clang + its runtimes (libFuzzer, sanitizers), python references
# (jinja2 renders chat templates as Hugging Face does; numpy for fixtures),
# node/npm for llama.cpp via node-llama-cpp, qemu + cross gcc for the ARM build.
pkgs_test="clang libclang-rt-14-dev python3 python3-jinja2 python3-numpy nodejs npm qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
# AMD GPU compile check (hipcc); NVIDIA's nvcc comes from /usr/local/cuda.
pkgs_gpu="hipcc libamdhip64-dev"

case "$what" in
  build) want="$pkgs_build" ;;
  test) want="$pkgs_build $pkgs_test $pkgs_gpu" ;;
  gpu) want="$pkgs_build $pkgs_gpu" ;;
  *) echo "deps.sh: unknown set '$what' (build|test|gpu)" >&2; exit 2 ;;
esac

# A package counts as present when dpkg has it, or, for tools that machines
# often carry from elsewhere (Node.js with its own npm, a python3 build), when
# the command is on PATH: installing Debian's copy over those can fail.
have_cmd() {
  case "$1" in
    nodejs) command -v node >/dev/null ;;
    npm) command -v npm >/dev/null ;;
    python3) command -v python3 >/dev/null ;;
    *) return 1 ;;
  esac
}
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || have_cmd "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
