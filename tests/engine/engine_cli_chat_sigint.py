#!/usr/bin/env python3
"""engine_cli_chat_sigint.py — Ctrl-C (SIGINT) during a `rocmforge chat`
answer stops that answer and returns to the prompt; the program keeps
running, answers the next message, and exits 0 at EOF. Uses a random-weight
model from `rocmforge synth` big enough that an answer takes seconds."""
import os
import signal
import subprocess
import sys
import tempfile
import time

rf = os.environ.get("RF_BIN", "rocmforge")
tmp = tempfile.mkdtemp(prefix="rf_sigint_")
model = os.path.join(tmp, "m.gguf")
r = subprocess.run([rf, "synth", "--arch", "llama", "--shape",
                    "n_embd=512,n_layer=8,n_head=8,n_head_kv=4,n_ff=1536,n_vocab=8000,n_ctx=4096",
                    "--type", "Q8_0", "-o", model, "-q"], capture_output=True, text=True, timeout=300)
if r.returncode != 0:
    print("synth failed: %s" % r.stderr)
    sys.exit(1)
p = subprocess.Popen([rf, "chat", "-m", model, "--temp", "0", "--ignore-eos", "-t", "1", "-c", "4096"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
fails = 0
p.stdin.write(b"Hello\n")
p.stdin.flush()
time.sleep(1.5)
p.send_signal(signal.SIGINT)
time.sleep(0.5)
if p.poll() is not None:
    print("chat exited on SIGINT (status %s)" % p.returncode)
    fails += 1
else:
    p.stdin.write(b"Hi\n")
    p.stdin.close()
    p.stdin = None  # communicate() must not touch it again
    # the second answer runs to the context limit unless interrupted too
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        print("chat did not exit at EOF")
        fails += 1
    err = err.decode(errors="replace")
    if p.returncode != 0:
        print("exit status %s: %s" % (p.returncode, err))
        fails += 1
    if err.count("(stopped)") != 2:
        print("expected two '(stopped)' notices, stderr: %r" % err[-500:])
        fails += 1
    if len(out) == 0:
        print("no answer text")
        fails += 1
try:
    os.unlink(model)
    os.rmdir(tmp)
except OSError:
    pass
print("engine_cli_chat_sigint: %d failures" % fails)
sys.exit(1 if fails else 0)
