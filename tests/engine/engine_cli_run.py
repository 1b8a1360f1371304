#!/usr/bin/env python3
"""engine_cli_run.py — `rocmforge run --temp 0 --json` continues each fixture
prompt with llama.cpp's greedy tokens (tests/fixtures/llamacpp, made by
scripts/fixtures/llamacpp/gen_greedy.sh), and the plain mode streams text
that ends with the timing line on stderr."""
import json
import os
import re
import subprocess
import sys

models = os.environ.get("RF_MODELS_DIR", "../shared/models")
src = os.environ.get("RF_SOURCE_DIR", ".")
rf = os.environ.get("RF_BIN", "rocmforge")
model = os.path.join(models, "stories260K.gguf")
if not os.path.exists(model):
    print("SKIP: reference model files absent (set RF_MODELS_DIR)")
    sys.exit(77)

cases = []
for line in open(os.path.join(src, "tests/fixtures/llamacpp/stories260K.greedy.txt")):
    w = line.split()
    if w and w[0] == "case":
        cases.append({})
    elif w and w[0] == "prompt_hex":
        cases[-1]["prompt"] = bytes.fromhex(w[1]).decode()
    elif w and w[0] == "prompt_tokens":
        cases[-1]["ptok"] = [int(x) for x in w[2:]]
    elif w and w[0] == "gen_tokens":
        cases[-1]["gen"] = [int(x) for x in w[2:]]

fails = 0
F32 = ["-ctk", "f32", "-ctv", "f32"]  # the fixtures' F32 KV cache
for i, c in enumerate(cases):
    n = len(c["gen"])
    r = subprocess.run([rf, "run", "-m", model, "-p", c["prompt"], "-n", str(n), "--temp", "0",
                        "--ignore-eos", "-t", "1", "--json"] + F32, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print("case %d: exit %d: %s" % (i, r.returncode, r.stderr))
        fails += 1
        continue
    j = json.loads(r.stdout)
    if j["prompt_tokens"] != c["ptok"]:
        print("case %d: prompt tokens %s, llama.cpp %s" % (i, j["prompt_tokens"], c["ptok"]))
        fails += 1
    if j["tokens"] != c["gen"]:
        k = next(k for k in range(min(len(j["tokens"]), n)) if j["tokens"][k] != c["gen"][k]) if j["tokens"][:1] else 0
        print("case %d: generated tokens differ from llama.cpp from index %d" % (i, k))
        fails += 1
    if not j["text"]:
        print("case %d: empty text" % i)
        fails += 1

# plain mode: prompt echoed, continuation streamed, timing line on stderr
r = subprocess.run([rf, "run", "-m", model, "-p", cases[0]["prompt"], "-n", "20", "--temp", "0", "-t", "1"],
                   capture_output=True, text=True, timeout=120)
if r.returncode != 0 or not r.stdout.startswith(cases[0]["prompt"]) or len(r.stdout) <= len(cases[0]["prompt"]) + 5:
    print("plain run: exit %d stdout %r" % (r.returncode, r.stdout))
    fails += 1
if "tok/s" not in r.stderr or "generation: 20 tokens" not in r.stderr:
    print("plain run: no timing line: %r" % r.stderr)
    fails += 1
# a bad model path is a clear error, not a crash
r = subprocess.run([rf, "run", "-m", "/nonexistent.gguf", "-p", "x"], capture_output=True, text=True, timeout=60)
if r.returncode != 1 or "nonexistent.gguf" not in r.stderr:
    print("missing model: exit %d stderr %r" % (r.returncode, r.stderr))
    fails += 1
# -f FILE: the prompt from a file gives the same continuation
import tempfile
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tf:
    tf.write(cases[0]["prompt"])
r = subprocess.run([rf, "run", "-m", model, "-f", tf.name, "-n", "20", "--temp", "0", "-t", "1", "--json"] + F32,
                   capture_output=True, text=True, timeout=60)
os.unlink(tf.name)
if r.returncode != 0 or json.loads(r.stdout)["tokens"] != cases[0]["gen"][:20]:
    print("-f: %d %r" % (r.returncode, r.stdout[:200]))
    fails += 1
# context overflow: a prompt longer than -c is refused with a message; a
# generation that fills the context stops there with a notice
r = subprocess.run([rf, "run", "-m", model, "-p", cases[0]["prompt"], "-c", "3"], capture_output=True, text=True,
                   timeout=60)
if r.returncode != 1 or "does not fit the context" not in r.stderr:
    print("prompt over the context: exit %d stderr %r" % (r.returncode, r.stderr))
    fails += 1
r = subprocess.run([rf, "run", "-m", model, "-p", cases[0]["prompt"], "-c", "20", "-n", "100", "--temp", "0",
                    "--json"] + F32, capture_output=True, text=True, timeout=60)
j = json.loads(r.stdout) if r.returncode == 0 else {}
if j.get("stop") != "context_full" or len(j.get("prompt_tokens", [])) + len(j.get("tokens", [])) != 21 or \
        j["tokens"] != cases[0]["gen"][:16]:
    print("generation into a full context: %r %r" % (r.returncode, r.stdout[:300]))
    fails += 1
# the KV cache: F32 by default on the CPU; -ctk/-ctv f16 gives half its bytes
# in the memory plan, and llama.cpp's greedy tokens still (on this model the
# F16 rounding moves no argmax in 20 steps)
def kv_plan(args):
    r = subprocess.run([rf, "run", "-m", model, "-p", cases[0]["prompt"], "-n", "20", "--temp", "0", "-t", "1",
                        "--json", "-v", "-c", "4096", "--cpu"] + args, capture_output=True, text=True, timeout=60)
    m = re.search(r"KV cache ([0-9.]+) MiB \(.*?, (F16|F32)\)", r.stderr)
    toks = json.loads(r.stdout)["tokens"] if r.returncode == 0 else None
    return r, (float(m.group(1)), m.group(2)) if m else None, toks
r32, p32, t32 = kv_plan([])
r16, p16, t16 = kv_plan(["-ctk", "f16", "-ctv", "f16"])
if not p32 or not p16 or p32[1] != "F32" or p16[1] != "F16" or abs(p16[0] * 2 - p32[0]) > 0.11:
    print("KV cache: memory plans %r (f16) vs %r (the CPU's default) (%r)" % (p16, p32, r16.stderr[-300:]))
    fails += 1
if t16 != cases[0]["gen"][:20] or t32 != cases[0]["gen"][:20]:
    print("KV cache f16 / f32: tokens %r / %r vs llama.cpp %r" % (t16, t32, cases[0]["gen"][:20]))
    fails += 1
for args, want in ((["-ctk", "q8_0"], "f32 and f16"), (["-ctk", "f16"], "one type")):
    r = subprocess.run([rf, "run", "-m", model, "-p", "x", "-n", "1"] + args, capture_output=True, text=True, timeout=60)
    if r.returncode == 0 or want not in r.stderr:
        print("%s: exit %d, stderr %r (wants %r)" % (" ".join(args), r.returncode, r.stderr[-200:], want))
        fails += 1
# `devices` names the CPU kernel variant in use; RF_CPU_ISA=scalar selects that one
for env, want in ((None, ("scalar", "avx2", "avx512", "amx", "neon")), ("scalar", ("scalar",))):
    e = dict(os.environ)
    if env:
        e["RF_CPU_ISA"] = env
    r = subprocess.run([rf, "devices"], capture_output=True, text=True, timeout=60, env=e)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("CPU: ")), "")
    if r.returncode != 0 or line.rsplit(" ", 1)[-1] not in want:
        print("devices (RF_CPU_ISA=%s): exit %d, CPU line %r" % (env, r.returncode, line))
        fails += 1
print("engine_cli_run: %d failures" % fails)
sys.exit(1 if fails else 0)
