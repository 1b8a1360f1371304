// server_load.mjs — load on loopback: 64 concurrent streaming clients for
// RF_LOAD_SECONDS (default 120; CI runs a shorter one) with random
// hang-ups mid-stream. Passes when: the server never crashes; every request
// either completes (finish_reason stop/length, [DONE]) or is a documented
// 429 (queue full) or was hung up by the client; afterwards no slot is
// busy, nothing is queued, and once the prefix cache is flushed no KV block
// is held (all through /metrics); resident memory after the load is flat
// (a second burst does not grow it). Prints throughput and client-side
// p50/p99 time-to-first-token and inter-token latency (BENCHMARKS.md).
import fs from 'node:fs';
import { check, done, metrics, modelPath, request, sleep, sse, startServer } from './lib.mjs';

modelPath();
const SECONDS = Number(process.env.RF_LOAD_SECONDS || 120);
const CLIENTS = Number(process.env.RF_LOAD_CLIENTS || 64);
const PARALLEL = Number(process.env.RF_LOAD_PARALLEL || 16);

const srv = await startServer(['--parallel', String(PARALLEL), '-c', '512', '--queue', '64']);
const rss = () => {
  const m = fs.readFileSync(`/proc/${srv.child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
};

const words = ['Once upon a time', 'The little dog', 'Lily and Tom', 'One day', 'The sun', 'A big fish', 'Mom said', 'The bird'];
let rng = 12345;
const rand = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

const stats = { ok: 0, hungUp: 0, rejected: 0, failed: 0, tokens: 0, ttft: [], itl: [] };
const failures = [];

async function one() {
  const prompt = words[Math.floor(rand() * words.length)] + (rand() < 0.5 ? ' and ' + words[Math.floor(rand() * words.length)] : '');
  const maxTokens = 16 + Math.floor(rand() * 112);
  const hangUpAfter = rand() < 0.25 ? 1 + Math.floor(rand() * 20) : -1;
  const chat = rand() < 0.5;
  const body = chat
    ? { messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0.8, stream: true }
    : { prompt, max_tokens: maxTokens, temperature: 0.8, stream: true };
  const t0 = performance.now();
  let last = 0, n = 0, hung = false;
  const r = await sse(srv, chat ? '/v1/chat/completions' : '/v1/completions', body, {
    onEvent: (ev, req) => {
      if (ev === '[DONE]' || !ev.choices || !ev.choices.length) return;
      const c = ev.choices[0];
      const piece = chat ? c.delta && c.delta.content : c.text;
      if (!piece) return;
      const now = performance.now();
      if (n === 0) stats.ttft.push(now - t0); else stats.itl.push(now - last);
      last = now;
      n++;
      if (n === hangUpAfter) { hung = true; req.destroy(); }
    },
  });
  if (hung || r.aborted) { stats.hungUp++; return; }
  if (r.status === 429) { stats.rejected++; await sleep(50); return; }
  const ev = r.events;
  const fin = ev.filter((e) => e !== '[DONE]' && e.choices && e.choices.length && e.choices[0].finish_reason).map((e) => e.choices[0].finish_reason);
  if (r.status === 200 && ev[ev.length - 1] === '[DONE]' && fin.length === 1 && ['stop', 'length'].includes(fin[0])) {
    stats.ok++;
  } else {
    stats.failed++;
    if (failures.length < 5) failures.push(`${r.status} ${(r.raw || '').slice(-200)}`);
  }
}

async function burst(seconds) {
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async () => { while (Date.now() < end) await one(); }));
}

const m0 = await metrics(srv);
const t0 = Date.now();
let rssMid = 0;
const half = setTimeout(() => { rssMid = rss(); }, (SECONDS * 1000) / 2);
await burst(SECONDS);
clearTimeout(half);
const wall = (Date.now() - t0) / 1000;
check(srv.child.exitCode === null, 'server alive after the load');
const m1 = await metrics(srv);
const gen = m1.rocmforge_generated_tokens_total - m0.rocmforge_generated_tokens_total;
await sleep(500);
const idle = await metrics(srv);
check(idle.rocmforge_slots_active === 0, `no busy slot after the load: ${idle.rocmforge_slots_active}`);
check(idle.rocmforge_queue_length === 0, `empty queue after the load: ${idle.rocmforge_queue_length}`);
await request(srv, 'DELETE', '/cache');
await sleep(300);
const flushed = await metrics(srv);
check(flushed.rocmforge_kv_blocks_used === 0, `no KV block held after flushing the prefix cache: ${flushed.rocmforge_kv_blocks_used}`);
check(stats.failed === 0, `failed requests: ${stats.failed} ${failures.join('\n')}`);
check(stats.ok > 0, 'some requests completed');

// Memory: a second, shorter burst must not grow the resident set.
const rssAfter = rss();
await burst(Math.max(5, SECONDS / 4));
await sleep(500);
const rssAfter2 = rss();
const slack = Math.max(8 << 20, rssAfter * 0.1);
check(rssAfter2 - rssAfter < slack, `resident memory grew from ${rssAfter} to ${rssAfter2} bytes`);
if (rssMid) check(rssAfter - rssMid < slack, `resident memory grew during the load: ${rssMid} -> ${rssAfter}`);

const pct = (a, p) => { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const summary = {
  seconds: wall, clients: CLIENTS, parallel: PARALLEL, ok: stats.ok, hung_up: stats.hungUp, rejected_429: stats.rejected,
  failed: stats.failed, generated_tokens: gen, tokens_per_s: +(gen / wall).toFixed(1),
  ttft_ms_p50: +pct(stats.ttft, 50).toFixed(1), ttft_ms_p99: +pct(stats.ttft, 99).toFixed(1),
  itl_ms_p50: +pct(stats.itl, 50).toFixed(2), itl_ms_p99: +pct(stats.itl, 99).toFixed(2),
  rss_mb_mid: +(rssMid / 1048576).toFixed(1), rss_mb_after: +(rssAfter / 1048576).toFixed(1), rss_mb_after_second_burst: +(rssAfter2 / 1048576).toFixed(1),
};
console.log(JSON.stringify(summary));
const st = await srv.stop();
check(st.code === 0, `clean exit: ${JSON.stringify(st)}`);
done('server_load');
