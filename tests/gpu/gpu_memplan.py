#!/usr/bin/env python3
"""gpu_memplan.py — a plan that does not fit the GPU is refused before any
allocation, with a message giving what is needed, what is free, and what to
change; a plan that fits runs.

A small synthetic model (64 layers of 512-wide K/V, 60 MiB of weights) with a
16M-token context needs ~2 TiB of F16 KV cache: no GPU has that, so `run` must
fail with the whole plan (KV cache, free memory, -c) instead of a device
allocation error or a crash. The same model with -c 256 must generate."""
import os
import re
import subprocess
import sys
import tempfile

rf = os.environ.get("RF_BIN", "rocmforge")
dev = subprocess.run([rf, "devices"], capture_output=True, text=True)
if dev.returncode != 0 or not re.search(r"^\s*0\s", dev.stdout, re.M):
    print("SKIP: no GPU (rocmforge devices: %s)" % (dev.stdout.strip() or dev.stderr.strip()))
    sys.exit(77)

fails = 0
with tempfile.TemporaryDirectory() as d:
    m = os.path.join(d, "deep.gguf")
    r = subprocess.run([rf, "synth", "--arch", "llama", "--shape",
                        "n_embd=256,n_layer=64,n_head=4,n_head_kv=4,head_dim=128,n_ff=512,n_vocab=512,n_ctx=1048576",
                        "--type", "Q8_0", "-o", m, "-q"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("synth failed: %s" % r.stderr)
        sys.exit(1)
    r = subprocess.run([rf, "run", "-m", m, "-c", "16000000", "-p", "hello", "-n", "4"],
                       capture_output=True, text=True, timeout=300)
    msg = r.stderr
    print("too big: exit %d: %s" % (r.returncode, msg.strip()[-400:]))
    if r.returncode == 0 or r.returncode < 0:
        print("FAIL: expected a clean error exit, got %d" % r.returncode)
        fails += 1
    for want in ["memory plan:", "KV cache", "MiB free", "-c"]:
        if want not in msg:
            print("FAIL: the message lacks %r" % want)
            fails += 1
    # the KV figure must be the plan's: 64 layers x 2 x 512 values x 2 bytes
    # (the default F16 cache) per token
    mm = re.search(r"KV cache ([0-9.]+) MiB", msg)
    want_kv = 64 * 2 * 512 * 2 * 16000000 / 1048576.0
    if not mm or abs(float(mm.group(1)) - want_kv) > 0.01 * want_kv:
        print("FAIL: KV cache figure %s, expected ~%.0f MiB" % (mm.group(1) if mm else None, want_kv))
        fails += 1
    r = subprocess.run([rf, "run", "-m", m, "-c", "256", "-p", "hello", "-n", "4", "--temp", "0"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("FAIL: a context that fits did not run: %s" % r.stderr)
        fails += 1

print("gpu_memplan: %s" % ("ok" if fails == 0 else "%d failures" % fails))
sys.exit(1 if fails else 0)
