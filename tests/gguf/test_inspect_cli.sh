#!/usr/bin/env bash
# `rocmforge inspect` end to end: the JSON output carries the published facts
# of stories260K (SOURCES.md), --tensors lists every tensor, and a bad file
# gives exactly one line on stderr and a non-zero exit.
set -u
bin=${RF_BIN:?RF_BIN not set}
models=${RF_MODELS_DIR:-../shared/models}
m="$models/stories260K.gguf"
[ -f "$m" ] || { echo "SKIP: $m absent"; exit 77; }
fail=0
out=$("$bin" inspect --json --tensors --meta "$m") || { echo "inspect failed"; exit 1; }
python3 - "$out" <<'PY' || fail=1
import json, sys
j = json.loads(sys.argv[1])
h = j["hparams"]
checks = {
    "arch": j["architecture"] == "llama",
    "version": j["gguf_version"] == 3,
    "n_tensors": j["n_tensors"] == 48 and len(j["tensors"]) == 48,
    "layers": h["block_count"] == 5,
    "embd": h["embedding_length"] == 64,
    "heads": h["attention.head_count"] == 8,
    "kv heads": h["attention.head_count_kv"] == 4,
    "vocab": j["tokenizer"]["n_vocab"] == 512 and j["tokenizer"]["model"] == "llama",
    "types": list(j["type_mix"].keys()) == ["F32"],
    "bos": j["tokenizer"]["special"]["bos"] == {"id": 1, "text": "<s>"},
    "meta": any(m["key"] == "tokenizer.ggml.tokens" and m["value"]["length"] == 512 and m["value"]["truncated"] for m in j["metadata"]),
    "params": j["n_params"] == sum(__import__("math").prod(t["shape"]) for t in j["tensors"]),
}
bad = [k for k, v in checks.items() if not v]
if bad:
    print("inspect --json mismatches:", bad); sys.exit(1)
PY
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 1000 "$m" > "$tmp/trunc.gguf"
"$bin" inspect "$tmp/trunc.gguf" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -ne 0 ] || { echo "truncated file accepted"; fail=1; }
[ "$(wc -l < "$tmp/err")" -le 1 ] && grep -q "trunc.gguf" "$tmp/err" || { echo "stderr not one line naming the file:"; cat "$tmp/err"; fail=1; }
"$bin" inspect "$tmp/missing.gguf" >/dev/null 2>&1 && { echo "missing file accepted"; fail=1; }
"$bin" inspect --tensors "$models/tinyllamas-stories-260k-q8_0.gguf" | grep -q "blk.0.ffn_down.weight *Q8_0 *\[172, 64\]" || { echo "q8_0 ffn_down row not listed"; fail=1; }
[ $fail -eq 0 ] && echo "inspect cli: ok"
exit $fail
