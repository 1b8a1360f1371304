#!/usr/bin/env bash
# gpu-peer.sh — rocmforge beside llama.cpp on the same GPU, the same files,
# in the same run: llama-bench (pp, tg, tg at a depth; flash attention on,
# all layers on the GPU) and llama-batched-bench (many sequences at once)
# against `rocmforge bench` with the same settings. Prints markdown tables
# with the ratio; raw JSON lines go to $RF_BENCH_OUT (default
# gpu-peer.jsonl in the current directory).
#
# llama.cpp is built here with CUDA (llama-bench, llama-batched-bench only)
# from the source that node-llama-cpp bundles (scripts/fetch-refs.sh puts it
# under .cache/node). On a machine without the npm registry, LLAMA_SRC names
# a copy of that source: a directory, the git bundle, or a .tar.xz of the
# tree. The build (~6 min on 16 cores for sm_90) is kept in $RF_PEER_BUILD
# (default /tmp/rf-llamacpp-cuda) and reused.
#
# usage: scripts/bench/gpu-peer.sh [-r REPS] [-d DEPTH] [-s "1,16,64"] MODEL.gguf...
#   env: RF_BIN (default build-device/rocmforge, else build/rocmforge),
#        RF_CUDA_ARCHS (default 90)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
reps=3; depth=4096; seqs="1,16,64"
while getopts "r:d:s:" o; do
  case $o in r) reps=$OPTARG ;; d) depth=$OPTARG ;; s) seqs=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-r N] [-d N] [-s LIST] MODEL..." >&2; exit 2; }
export PATH=/usr/local/cuda/bin:$PATH

rf=${RF_BIN:-}
[ -z "$rf" ] && for c in "$root/build-device/rocmforge" "$root/build/rocmforge"; do [ -x "$c" ] && { rf=$c; break; }; done
[ -x "${rf:-}" ] || { echo "gpu-peer.sh: no rocmforge binary (build with -DRF_GPU=cuda, or set RF_BIN)" >&2; exit 1; }

# ---------------------------------------------------------- llama.cpp
pb=${RF_PEER_BUILD:-/tmp/rf-llamacpp-cuda}
if [ ! -x "$pb/b/bin/llama-bench" ] || [ ! -x "$pb/b/bin/llama-batched-bench" ]; then
  src=${LLAMA_SRC:-}
  if [ -z "$src" ]; then
    "$root/scripts/fetch-refs.sh"
    src="$root/.cache/node/node_modules/node-llama-cpp/llama/gitRelease.bundle"
  fi
  rm -rf "$pb/src" && mkdir -p "$pb/src"
  case "$src" in
    *.tar.xz) tar -xJf "$src" -C "$pb/src" ;;
    *.bundle) git clone -q "$src" "$pb/src" 2>/dev/null ;;
    *) [ -d "$src" ] || { echo "gpu-peer.sh: LLAMA_SRC $src: not a directory, bundle or .tar.xz" >&2; exit 1; }
       cp -a "$src/." "$pb/src" ;;
  esac
  echo "gpu-peer.sh: building llama.cpp (CUDA, sm_${RF_CUDA_ARCHS:-90}) in $pb" >&2
  cmake -S "$pb/src" -B "$pb/b" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${RF_CUDA_ARCHS:-90}" -DGGML_NATIVE=OFF -DGGML_CUDA_NCCL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF > "$pb/configure.log" 2>&1 ||
    { tail -20 "$pb/configure.log" >&2; exit 1; }
  cmake --build "$pb/b" -j"$(nproc)" --target llama-bench llama-batched-bench > "$pb/build.log" 2>&1 ||
    { tail -20 "$pb/build.log" >&2; exit 1; }
fi
lb="$pb/b/bin/llama-bench"
lbb="$pb/b/bin/llama-batched-bench"

# ---------------------------------------------------------- the runs
out=${RF_BENCH_OUT:-$PWD/gpu-peer.jsonl}
: > "$out"
# JSON (an array or one object) or JSON lines on stdin -> one tagged line per result
tag() { python3 -c 'import json,sys
eng, m = sys.argv[1], sys.argv[2]
text = sys.stdin.read()
try:
    d = json.loads(text)
    d = d if isinstance(d, list) else [d]
except ValueError:
    d = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
for r in d:
    r["engine"] = eng; r["model"] = m; print(json.dumps(r))' "$1" "$2"; }
for m in "$@"; do
  name=$(basename "$m")
  for args in "-p 512 -n 128" "-p 0 -n 128 -d $depth"; do
    # shellcheck disable=SC2086
    "$lb" -m "$m" -ngl 99 -fa 1 $args -r "$reps" -o json 2>/dev/null | tag llama.cpp "$name" >> "$out"
    # shellcheck disable=SC2086
    "$rf" bench -m "$m" $args -r "$reps" --json 2>/dev/null | tag rocmforge "$name" >> "$out"
  done
  IFS=, read -ra nps <<< "$seqs"
  maxs=0; for n in "${nps[@]}"; do [ "$n" -gt "$maxs" ] && maxs=$n; done
  # 16-token prompts, then 32 steps of every sequence (S_TG, t/s summed)
  "$lbb" -m "$m" -ngl 99 -fa on -c $(( maxs * 64 + 1024 )) -b 2048 -ub 512 -npp 16 -ntg 32 -npl "$seqs" \
    --output-format jsonl 2>/dev/null | tag llama.cpp-batched "$name" >> "$out" || true
  for n in "${nps[@]}"; do
    "$rf" bench -m "$m" -p 0 -n 32 -np "$n" -r "$reps" --json 2>/dev/null | tag rocmforge "$name" >> "$out"
  done
done

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def test_name(r):
    t = ("pp%d" % r["n_prompt"]) if r.get("n_prompt") and not r.get("n_gen") else "tg%d" % r.get("n_gen", 0)
    return t + (" @ d%d" % r["n_depth"] if r.get("n_depth") else "")
lc = {(r["model"], test_name(r)): r["avg_ts"] for r in rows if r["engine"] == "llama.cpp"}
print("| model | test | llama.cpp t/s | rocmforge t/s | ratio |")
print("|---|---|---:|---:|---:|")
for r in rows:
    if r["engine"] != "rocmforge" or r.get("n_parallel", 1) != 1: continue
    k = (r["model"], r["test"])
    if k in lc:
        print("| %s | %s | %.1f | %.1f | %.2fx |" % (k[0], k[1], lc[k], r["avg_ts"], r["avg_ts"] / lc[k]))
bt = {(r["model"], r["pl"]): r["speed_tg"] for r in rows if r["engine"] == "llama.cpp-batched"}
print()
print("| model | sequences | llama.cpp S_TG t/s (16-token prompts) | rocmforge tg32 t/s (summed) | ratio |")
print("|---|---:|---:|---:|---:|")
for r in rows:
    if r["engine"] != "rocmforge" or r.get("n_prompt") or r.get("n_gen") != 32: continue
    k = (r["model"], r.get("n_parallel", 1))
    if k in bt:
        print("| %s | %d | %.1f | %.1f | %.2fx |" % (k[0], k[1], bt[k], r["avg_ts"], r["avg_ts"] / bt[k]))
PY
