#!/usr/bin/env python3
"""engine_cli_chat.py — `rocmforge chat` end to end on stories260K (which has
no chat template, so the ChatML fallback applies):
  * the first answer to "Hello" at --temp 0 is the text of llama.cpp's greedy
    continuation of the rendered prompt (fixture case 4, whose tokens
    engine_cli_run checks `run --json` against);
  * /reset gives the same answer again; EOF quits with status 0;
  * -s adds a system turn (the answer changes)."""
import json
import os
import subprocess
import sys

models = os.environ.get("RF_MODELS_DIR", "../shared/models")
src = os.environ.get("RF_SOURCE_DIR", ".")
rf = os.environ.get("RF_BIN", "rocmforge")
model = os.path.join(models, "stories260K.gguf")
if not os.path.exists(model):
    print("SKIP: reference model files absent (set RF_MODELS_DIR)")
    sys.exit(77)

chatml = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
gen = None
for line in open(os.path.join(src, "tests/fixtures/llamacpp/stories260K.greedy.txt")):
    w = line.split()
    if w and w[0] == "prompt_hex":
        cur = bytes.fromhex(w[1]).decode()
    elif w and w[0] == "gen_tokens" and cur == chatml:
        gen = [int(x) for x in w[2:]]
if gen is None:
    print("fixture lacks the ChatML case")
    sys.exit(1)

n = 30
eos = 2  # stories260K's EOS; the chat stops there
want_ids = gen[:n]
if eos in want_ids:
    want_ids = want_ids[:want_ids.index(eos)]
# text of those ids: run --json on the same prompt, whose tokens we compare
# (-ctk/-ctv f32: the fixtures' F32 KV cache)
F32 = ["-ctk", "f32", "-ctv", "f32"]
r = subprocess.run([rf, "run", "-m", model, "-p", chatml, "-n", str(len(want_ids)), "--temp", "0", "-t", "1",
                    "--json"] + F32, capture_output=True, text=True, timeout=120)
j = json.loads(r.stdout)
fails = 0
if j["tokens"] != want_ids:
    print("run on the ChatML prompt: tokens differ from llama.cpp")
    fails += 1
want = j["text"].lstrip(" ")

r = subprocess.run([rf, "chat", "-m", model, "--temp", "0", "-n", str(n), "-t", "1"] + F32,
                   input="Hello\n/reset\nHello\n", capture_output=True, text=True, timeout=120)
answers = r.stdout.split("\n")
if r.returncode != 0:
    print("chat exit %d: %s" % (r.returncode, r.stderr))
    fails += 1
out = r.stdout
if not out.startswith(want + "\n"):
    print("first answer %r, want %r" % (out[:200], want))
    fails += 1
if out.count(want) != 2:
    print("after /reset the answer differs: %r" % out)
    fails += 1
if "(conversation reset)" not in r.stderr:
    print("no reset notice: %r" % r.stderr)
    fails += 1

r2 = subprocess.run([rf, "chat", "-m", model, "--temp", "0", "-n", str(n), "-t", "1", "-s", "You tell stories."] + F32,
                    input="Hello\n", capture_output=True, text=True, timeout=120)
if r2.returncode != 0 or r2.stdout.startswith(want + "\n"):
    print("system prompt had no effect or failed: %d %r" % (r2.returncode, r2.stdout))
    fails += 1
print("engine_cli_chat: %d failures" % fails)
sys.exit(1 if fails else 0)
