#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets (clang, ASan+UBSan) and run each for
# a bounded time. Seeds: the real files in ../shared/models (GGUF), chat
# templates, and each target's own corpus under fuzz/corpus/<target>/ when
# present. Usage: scripts/fuzz.sh [seconds-per-target] [target...]
# Exit status is non-zero when any target finds a crash, leak or timeout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
build="$root/build-fuzz"
models=${RF_MODELS_DIR:-$root/../shared/models}
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DRF_FUZZ=ON \
  -DRF_BUILD_TESTS=OFF -DRF_GPU=off -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null
status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work" "$build/artifacts/$t"
  seeds=()
  [ -d "$root/fuzz/corpus/$t" ] && seeds+=("$root/fuzz/corpus/$t")
  case "$t" in
    fuzz_gguf)
      # small real files whole; the big vocab files as header prefixes
      mkdir -p "$build/seeds/gguf"
      if [ -d "$models" ]; then
        for m in "$models"/*.gguf; do head -c 262144 "$m" > "$build/seeds/gguf/$(basename "$m")"; done
      fi
      seeds+=("$build/seeds/gguf") ;;
    fuzz_chat)
      templates=${RF_CHAT_TEMPLATES_DIR:-$root/../shared/chat-templates}
      for d in published llama.cpp; do [ -d "$templates/$d" ] && seeds+=("$templates/$d"); done ;;
  esac
  echo "fuzz: $t for ${secs}s" >&2
  if ! "$build/fuzz/$t" -max_total_time="$secs" -max_len=300000 -rss_limit_mb=4096 -timeout=10 \
      -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 "$work" "${seeds[@]}" \
      >"$build/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; see $build/$t.log and $build/artifacts/$t/" >&2
    tail -40 "$build/$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$t.log" | tr '\n' ' ' >&2
    echo " corpus: $(ls "$work" | wc -l) files" >&2
  fi
done
exit $status
