#!/usr/bin/env bash
# test_llama_diff.sh — differential test against llama.cpp itself: builds
# scripts/fixtures/tokenizer/llama_tok_diff.c with our tokenizer sources and
# llama.cpp's libllama (node-llama-cpp, fetched by scripts/fetch-refs.sh into
# .cache/node), then compares both on random texts for several vocabs.
# Skips (77) when the reference libraries or the models are absent.
# Our sources are built with hidden visibility so that our gguf_* names do
# not interpose on libggml-base's.
# Env: RF_DIFF_ITERS (default 200 texts per vocab), RF_DIFF_PRE_ITERS (20 per
# pre-tokenizer), RF_DIFF_SEED (default 1).
set -u
src=${RF_SOURCE_DIR:?RF_SOURCE_DIR not set}
models=${RF_MODELS_DIR:-$src/../shared/models}
cache=${RF_CACHE_DIR:-$src/.cache}
bins=$cache/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
bundle=$cache/node/node_modules/node-llama-cpp/llama/gitRelease.bundle
if [ ! -f "$bins/libllama.v0.4.0.so" ] || [ ! -f "$bundle" ]; then
    echo "SKIP: llama.cpp reference libraries not found (run scripts/fetch-refs.sh)"; exit 77
fi
[ -f "$models/llama-2-tiny-random.gguf" ] || { echo "SKIP: models not found (set RF_MODELS_DIR)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q --no-checkout "$bundle" "$work/l" || exit 1
mkdir -p "$work/inc"
for h in include/llama.h ggml/include/ggml.h ggml/include/ggml-cpu.h ggml/include/ggml-backend.h \
         ggml/include/ggml-alloc.h ggml/include/ggml-opt.h ggml/include/gguf.h; do
    git -C "$work/l" show "HEAD:$h" > "$work/inc/$(basename "$h")" || exit 1
done
cc -O2 -c -o "$work/ref.o" "$src/scripts/fixtures/tokenizer/llama_ref_side.c" -I "$work/inc" || exit 1
cc -O2 -std=c11 -D_GNU_SOURCE -fvisibility=hidden -o "$work/diff" "$src/scripts/fixtures/tokenizer/llama_tok_diff.c" "$work/ref.o" \
   "$src"/src/tokenizer/*.c "$src"/src/gguf/*.c "$src"/src/base/*.c \
   -I "$src/include" -I "$src/src" \
   -L "$bins" -l:libllama.v0.4.0.so -l:libggml-base.so -Wl,-rpath,"$bins" \
   $(pkg-config --libs libpcre2-8) -lpthread -lm || exit 1
vocabs=()
for v in llama-2-tiny-random ggml-vocab-llama-bpe ggml-vocab-qwen2 ggml-vocab-qwen35 ggml-vocab-phi-3 \
         ggml-vocab-gemma-4 ggml-vocab-gpt-2 ggml-vocab-deepseek-llm ggml-vocab-deepseek-coder \
         ggml-vocab-falcon ggml-vocab-starcoder ggml-vocab-command-r ggml-vocab-bert-bge \
         ggml-vocab-nomic-bert-moe ggml-vocab-baichuan ggml-vocab-aquila; do
    [ -f "$models/$v.gguf" ] && vocabs+=("$models/$v.gguf")
done
"$work/diff" "${RF_DIFF_SEED:-1}" "${RF_DIFF_ITERS:-200}" "$src/tests/fixtures/tokenizer/corpus.bin" "${vocabs[@]}"
status=$?

# Every pre-tokenizer we know, on the same vocab under each name (the file
# is copied with tokenizer.ggml.pre rewritten), so each split pattern meets
# llama.cpp's. "whitespace" is left out: llama.cpp pairs it with its own
# tokenizer model and crashes when it is put on a gpt2 vocab.
pres=$(grep -oE '^ +\{"[^"]+", TOK_PRE_' "$src/src/tokenizer/pretok.c" | grep -oE '"[^"]+"' | tr -d '"' | grep -vx whitespace)
retagged=()
for p in $pres; do
    base=$models/ggml-vocab-llama-bpe.gguf
    case $p in gemma4|granite-embed-multi-311m|sarvam-moe) base=$models/ggml-vocab-gemma-4.gguf ;; esac
    [ -f "$base" ] || continue
    python3 "$src/scripts/fixtures/tokenizer/retag_pre.py" "$base" "$work/pre-$p.gguf" "$p" || exit 1
    retagged+=("$work/pre-$p.gguf")
done
if [ ${#retagged[@]} -gt 0 ]; then
    "$work/diff" "${RF_DIFF_SEED:-1}" "${RF_DIFF_PRE_ITERS:-20}" "$src/tests/fixtures/tokenizer/corpus.bin" "${retagged[@]}" || status=1
fi
exit $status
