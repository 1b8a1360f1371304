#!/usr/bin/env bash
# test_tokenize_cli.sh — `rocmforge tokenize` end to end on a vocab-only
# file and on a model file, against the ids llama.cpp gave for the same
# text (tests/fixtures/tokenizer/*.ref, case 0 = "Hello world").
set -u
bin=${RF_BIN:?RF_BIN not set}
models=${RF_MODELS_DIR:-../shared/models}
fix=${RF_SOURCE_DIR:-.}/tests/fixtures/tokenizer
[ -f "$models/llama-2-tiny-random.gguf" ] && [ -f "$models/ggml-vocab-llama-bpe.gguf" ] || {
    echo "SKIP: reference models not found (set RF_MODELS_DIR)"; exit 77; }
fail=0
ref_ids() {  # vocab case add parse -> "[a, b, c]"
    grep "^case $2 $3 $4 :" "$fix/$1.ref" | sed 's/^[^:]*: *//; s/ /, /g; s/^/[/; s/$/]/'
}
check() {  # what expected got
    if [ "$2" != "$3" ]; then echo "FAIL: $1: expected '$2', got '$3'"; fail=1; else echo "ok: $1"; fi
}
for v in llama-2-tiny-random ggml-vocab-llama-bpe ggml-vocab-qwen2; do
    [ -f "$models/$v.gguf" ] || continue
    check "$v ids with BOS" "$(ref_ids $v 0 1 0)" "$("$bin" tokenize -m "$models/$v.gguf" --ids "Hello world")"
    check "$v ids without BOS" "$(ref_ids $v 0 0 0)" \
        "$("$bin" tokenize -m "$models/$v.gguf" --ids --no-add-special "Hello world")"
done
# case 29: "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n", special tokens parsed
text=$'<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n'
check "qwen2 --special" "$(ref_ids ggml-vocab-qwen2 29 0 1)" \
    "$(printf '%s' "$text" | "$bin" tokenize -m "$models/ggml-vocab-qwen2.gguf" --ids --special --no-add-special --stdin)"
check "qwen2 without --special" "$(ref_ids ggml-vocab-qwen2 29 0 0)" \
    "$(printf '%s' "$text" | "$bin" tokenize -m "$models/ggml-vocab-qwen2.gguf" --ids --no-add-special --stdin)"
# pieces: the SPM prefix space shows, the BOS renders empty without --special
check "pieces" "['', ' Hello', ' world']" \
    "$("$bin" tokenize -m "$models/llama-2-tiny-random.gguf" --pieces "Hello world")"
# errors: missing file, no text
"$bin" tokenize -m "$models/does-not-exist.gguf" "x" 2>/dev/null && { echo "FAIL: missing file accepted"; fail=1; }
"$bin" tokenize -m "$models/llama-2-tiny-random.gguf" 2>/dev/null && { echo "FAIL: no text accepted"; fail=1; }
exit $fail
