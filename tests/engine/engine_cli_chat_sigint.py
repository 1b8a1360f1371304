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
import threading
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
out = bytearray()
err = bytearray()


def pump(src, dst):
    for chunk in iter(lambda: src.read1(4096), b""):
        dst.extend(chunk)


threads = [threading.Thread(target=pump, args=(p.stdout, out), daemon=True),
           threading.Thread(target=pump, args=(p.stderr, err), daemon=True)]
for t in threads:
    t.start()


def interrupt_answer(already):
    """wait until the answer has started streaming, then press Ctrl-C"""
    t0 = time.time()
    while len(out) <= already + 16 and time.time() - t0 < 120:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)


fails = 0
p.stdin.write(b"Hello\n")
p.stdin.flush()
interrupt_answer(0)
time.sleep(0.5)
if p.poll() is not None:
    print("chat exited on SIGINT (status %s)" % p.returncode)
    fails += 1
else:
    n1 = len(out)
    p.stdin.write(b"Hi\n")
    p.stdin.close()
    interrupt_answer(n1)
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        print("chat did not exit at EOF")
        fails += 1
    for t in threads:
        t.join(timeout=10)
    e = err.decode(errors="replace")
    if p.returncode != 0:
        print("exit status %s: %s" % (p.returncode, e))
        fails += 1
    if e.count("(stopped)") != 2:
        print("expected two '(stopped)' notices, stderr: %r" % e[-500:])
        fails += 1
try:
    os.unlink(model)
    os.rmdir(tmp)
except OSError:
    pass
print("engine_cli_chat_sigint: %d failures" % fails)
sys.exit(1 if fails else 0)
