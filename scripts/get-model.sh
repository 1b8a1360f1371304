#!/usr/bin/env bash
# get-model.sh — print the path of the default model (stories260K, llama2.c's
# TinyStories 260K model in GGUF, MIT). Uses ../shared/models when present,
# else models/stories260K.gguf, else downloads it from Hugging Face
# (ggml-org/models, tinyllamas/stories260K.gguf) and checks its pinned sha256.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sha=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
url=https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf
for cand in "${RF_MODELS_DIR:-$root/../shared/models}/stories260K.gguf" "$root/models/stories260K.gguf"; do
  if [ -f "$cand" ]; then
    echo "$cand"
    exit 0
  fi
done
mkdir -p "$root/models"
dest="$root/models/stories260K.gguf"
echo "get-model.sh: downloading the default model from $url" >&2
if ! curl -fL --retry 2 -o "$dest.part" "$url"; then
  rm -f "$dest.part"
  echo "get-model.sh: the default model is not in ../shared/models or models/, and downloading $url failed." >&2
  echo "get-model.sh: put stories260K.gguf (sha256 $sha) in $root/models/ or pass -m FILE." >&2
  exit 1
fi
got=$(sha256sum "$dest.part" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  rm -f "$dest.part"
  echo "get-model.sh: downloaded file has sha256 $got, expected $sha; refusing it." >&2
  exit 1
fi
mv "$dest.part" "$dest"
echo "$dest"
