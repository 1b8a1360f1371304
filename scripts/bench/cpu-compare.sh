#!/usr/bin/env bash
# cpu-compare.sh — rocmforge beside llama.cpp on the same CPU and the same
# files, in the same run: pp512 and tg128 (llama-bench style), a markdown
# table with the ratio on stdout, raw JSON lines in $RF_BENCH_OUT (default
# build/bench-cpu.jsonl). llama.cpp is the prebuilt CPU build inside the npm
# package node-llama-cpp (scripts/fetch-refs.sh).
# usage: scripts/bench/cpu-compare.sh [-t THREADS] [-r REPS] [-p PP] [-n TG] MODEL.gguf...
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
threads=$(nproc); reps=3; pp=512; tg=128
while getopts "t:r:p:n:" o; do
  case $o in t) threads=$OPTARG ;; r) reps=$OPTARG ;; p) pp=$OPTARG ;; n) tg=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-t N] [-r N] [-p N] [-n N] MODEL..." >&2; exit 2; }
"$root/scripts/fetch-refs.sh"
pkg="$root/.cache/node/node_modules"
bins="$pkg/@node-llama-cpp/linux-x64/bins/linux-x64"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$pkg/node-llama-cpp/llama/gitRelease.bundle" "$tmp/llama.cpp" 2>/dev/null
cc -O2 -o "$tmp/llamacpp_bench" "$root/scripts/bench/llamacpp_bench.c" \
  -I"$tmp/llama.cpp/include" -I"$tmp/llama.cpp/ggml/include" \
  -L"$bins" -l:libllama.v0.4.0.so -l:libggml-base.so -l:libggml.v0.4.0.so -Wl,-rpath,"$bins" -lm
out=${RF_BENCH_OUT:-$root/build/bench-cpu.jsonl}
mkdir -p "$(dirname "$out")"
: > "$out"
for m in "$@"; do
  echo "bench: rocmforge on $m" >&2
  "$root/build/rocmforge" bench -m "$m" -p "$pp" -n "$tg" -r "$reps" -t "$threads" --json \
    | python3 -c 'import json,sys
for r in json.load(sys.stdin): r["engine"]="rocmforge"; r["model"]=sys.argv[1].split("/")[-1]; print(json.dumps(r))' "$m" >> "$out"
  echo "bench: llama.cpp on $m" >&2
  "$tmp/llamacpp_bench" "$bins" "$m" "$threads" "$pp" "$tg" "$reps" 2>/dev/null >> "$out"
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda r: (r["model"], r["test"])
rf = {key(r): r for r in rows if r["engine"] == "rocmforge"}
lc = {key(r): r for r in rows if r["engine"] == "llama.cpp"}
print("| model | test | threads | rocmforge t/s | llama.cpp t/s | ratio |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for k in sorted(set(rf) | set(lc)):
    a, b = rf.get(k), lc.get(k)
    fa = f'{a["avg_ts"]:.1f} ± {a["stddev_ts"]:.1f}' if a else "-"
    fb = f'{b["avg_ts"]:.1f} ± {b["stddev_ts"]:.1f}' if b else "-"
    ratio = f'{a["avg_ts"] / b["avg_ts"]:.2f}×' if a and b and b["avg_ts"] else "-"
    t = (a or b)["threads"]
    print(f"| {k[0]} | {k[1]} | {t} | {fa} | {fb} | {ratio} |")
PY
