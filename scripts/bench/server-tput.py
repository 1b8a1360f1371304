#!/usr/bin/env python3
"""server-tput.py — generated tokens per second through the real server.

Starts `rocmforge serve` on a free port with as many slots as the largest
concurrency asked for, waits for /ready, sends a one-request warm-up, then
for each CONCxTOKENS sends CONC concurrent /v1/completions requests (distinct
prompts, temperature 0, max_tokens TOKENS, ignore_eos so every reply runs to
TOKENS) and prints the tokens generated over the wall time, measured by the
client. Extra server flags follow `--`; the environment passes through (e.g.
the GPU's RF_GPU_* switches).

usage: scripts/bench/server-tput.py ROCMFORGE MODEL.gguf 16x128 64x128 [-- SERVE_FLAGS...]
"""
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request

args = sys.argv[1:]
extra = args[args.index('--') + 1:] if '--' in args else []
args = args[:args.index('--')] if '--' in args else args
if len(args) < 3:
    sys.exit(__doc__)
rfbin, model = args[0], args[1]
confs = [tuple(int(v) for v in c.split('x')) for c in args[2:]]
slots = max(c for c, _ in confs)
ctx = max(t for _, t in confs) + 64
srv = subprocess.Popen([rfbin, 'serve', '-m', model, '--port', '0', '-np', str(slots), '-c', str(ctx),
                        '--queue', str(4 * slots), '--cache-entries', '0'] + extra,
                       stderr=subprocess.PIPE, text=True)
port = None
for line in srv.stderr:
    m = re.search(r'listening on http://[^ ]*:(\d+) ', line)
    if m:
        port = int(m.group(1))
        break
if port is None:
    sys.exit('server-tput.py: the server did not start')
base = 'http://127.0.0.1:%d' % port
threading.Thread(target=lambda: [None for _ in srv.stderr], daemon=True).start()  # drain its log
for _ in range(1200):
    try:
        if urllib.request.urlopen(base + '/ready', timeout=2).status == 200:
            break
    except OSError:
        time.sleep(0.5)


def complete(i, ntok, out):
    body = json.dumps({'prompt': 'Once upon a time, story %d' % i, 'max_tokens': ntok, 'temperature': 0,
                       'ignore_eos': True}).encode()
    req = urllib.request.Request(base + '/v1/completions', body, {'Content-Type': 'application/json'})
    out[i] = json.load(urllib.request.urlopen(req, timeout=900))['usage']['completion_tokens']


try:
    for k, (conc, ntok) in enumerate([(1, 8)] + confs):
        out = [0] * conc
        t0 = time.time()
        th = [threading.Thread(target=complete, args=(i, ntok, out)) for i in range(conc)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        dt = time.time() - t0
        if k:
            print('%d concurrent x %d tokens: %d generated in %.2f s = %.1f tok/s' % (conc, ntok, sum(out), dt,
                                                                                   sum(out) / dt), flush=True)
finally:
    srv.terminate()
    srv.wait(timeout=60)
