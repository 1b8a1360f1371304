// server_http.mjs — raw HTTP against the real binary on stories260K: every
// error path answers with the documented status and OpenAI's error shape
// ({"error":{"message","type","param","code"}}, as in the OpenAI API
// reference), auth, limits, CORS, the native API (/generate, SSE,
// /status, /cancel), /health, /ready, /metrics, queue-full 429 with
// Retry-After, cancellation on disconnect, and SIGTERM draining.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { check, done, metrics, modelPath, request, sleep, sse, startServer } from './lib.mjs';

const model = modelPath();
const KEY = 'sk-test-0123456789';
const auth = { Authorization: `Bearer ${KEY}` };

function isErr(r, status, code, what) {
  const ok = r.status === status && r.json && r.json.error && typeof r.json.error.message === 'string' &&
    r.json.error.message.length > 0 && typeof r.json.error.type === 'string' && 'param' in r.json.error &&
    (code === undefined || r.json.error.code === code);
  check(ok, `${what}: want ${status}/${code}, got ${r.status} ${r.text.slice(0, 300)}`);
}

async function waitIdle(srv, hdr) {
  for (let i = 0; i < 100; i++) {
    const m = await metrics(srv, hdr);
    if (m.rocmforge_slots_active === 0 && m.rocmforge_queue_length === 0) return m;
    await sleep(50);
  }
  return metrics(srv, hdr);
}

// ------------------------------------------------------------ auth, errors
{
  const srv = await startServer(['--api-key', KEY, '--max-body', '4096', '-c', '128', '--parallel', '2', '--cors', 'https://example.org']);
  const chat = { model: 'stories260K.gguf', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 };

  let r = await request(srv, 'GET', '/health');
  check(r.status === 200 && r.json.status === 'ok', `/health without key: ${r.status}`);
  r = await request(srv, 'GET', '/ready');
  check(r.status === 200, `/ready: ${r.status}`);
  isErr(await request(srv, 'POST', '/v1/chat/completions', chat), 401, 'invalid_api_key', 'missing key');
  isErr(await request(srv, 'POST', '/v1/chat/completions', chat, { Authorization: 'Bearer sk-wrong' }), 401, 'invalid_api_key', 'wrong key');
  isErr(await request(srv, 'POST', '/v1/chat/completions', chat, { Authorization: `Bearer ${KEY}x` }), 401, 'invalid_api_key', 'key with a suffix');
  isErr(await request(srv, 'POST', '/v1/chat/completions', chat, { Authorization: `Bearer ${KEY.slice(0, -1)}` }), 401, 'invalid_api_key', 'key prefix');
  isErr(await request(srv, 'GET', '/metrics'), 401, 'invalid_api_key', '/metrics needs the key');

  r = await request(srv, 'POST', '/v1/chat/completions', chat, auth);
  check(r.status === 200 && r.json.object === 'chat.completion', `chat with key: ${r.status} ${r.text.slice(0, 200)}`);
  check(r.headers['access-control-allow-origin'] === 'https://example.org', 'CORS header on responses');
  r = await request(srv, 'OPTIONS', '/v1/chat/completions', undefined, { Origin: 'https://example.org', 'Access-Control-Request-Method': 'POST' });
  check(r.status === 204 && /POST/.test(r.headers['access-control-allow-methods'] || ''), `CORS preflight: ${r.status}`);

  isErr(await request(srv, 'POST', '/v1/chat/completions', '{"messages": [', auth), 400, 'invalid_json', 'bad JSON');
  isErr(await request(srv, 'POST', '/v1/chat/completions', '', auth), 400, 'invalid_json', 'empty body');
  isErr(await request(srv, 'POST', '/v1/chat/completions', { ...chat, temperature: 'hot' }, auth), 400, 'invalid_type', 'temperature as a string');
  r = await request(srv, 'POST', '/v1/chat/completions', { ...chat, temperature: 'hot' }, auth);
  check(r.json && r.json.error.param === 'temperature', 'error names the parameter');
  isErr(await request(srv, 'POST', '/v1/chat/completions', { ...chat, messages: 'Hi' }, auth), 400, 'invalid_type', 'messages as a string');
  isErr(await request(srv, 'POST', '/v1/chat/completions', { ...chat, max_tokens: -1 }, auth), 400, 'invalid_value', 'negative max_tokens');
  isErr(await request(srv, 'POST', '/v1/chat/completions', { ...chat, model: 'gpt-4o' }, auth), 404, 'model_not_found', 'unknown model');
  isErr(await request(srv, 'POST', '/v1/completions', { prompt: 'Once upon a time '.repeat(4), max_tokens: 120 }, auth), 400, 'context_length_exceeded', 'prompt + max_tokens over the context');
  isErr(await request(srv, 'POST', '/v1/completions', { prompt: 'Once upon a time '.repeat(40) }, auth), 400, 'context_length_exceeded', 'prompt longer than the context');
  isErr(await request(srv, 'POST', '/v1/completions', { prompt: [1, 5000] }, auth), 400, 'invalid_value', 'token id out of the vocabulary');
  isErr(await request(srv, 'POST', '/v1/completions', { prompt: 'x', logit_bias: { 9999: 1 } }, auth), 400, 'invalid_value', 'logit_bias token out of the vocabulary');
  isErr(await request(srv, 'POST', '/v1/completions', JSON.stringify({ prompt: 'x'.repeat(5000) }), auth), 413, 'request_too_large', 'oversize body');
  isErr(await request(srv, 'POST', '/v1/completions', '{"prompt":' + '['.repeat(100) + ']'.repeat(100) + '}', auth), 400, 'invalid_json', 'too deep JSON');
  isErr(await request(srv, 'GET', '/v1/nothing', undefined, auth), 404, 'unknown_url', 'unknown route');
  isErr(await request(srv, 'GET', '/v1/nothing'), 404, 'unknown_url', 'unknown route without key');
  isErr(await request(srv, 'GET', '/%FF%FE'), 404, 'unknown_url', 'unknown route that is not UTF-8');
  isErr(await request(srv, 'GET', '/v1/chat/completions', undefined, auth), 405, 'method_not_allowed', 'GET on a POST route');
  isErr(await request(srv, 'DELETE', '/v1/models', undefined, auth), 405, 'method_not_allowed', 'DELETE on a GET route');
  isErr(await request(srv, 'GET', '/v1/models/gpt-4o', undefined, auth), 404, 'model_not_found', 'unknown model by id');
  isErr(await request(srv, 'GET', '/status/nope', undefined, auth), 404, 'request_not_found', 'unknown request id');
  isErr(await request(srv, 'POST', '/v1/embeddings', { input: '' }, auth), 400, 'invalid_value', 'empty embedding input');

  r = await request(srv, 'GET', '/v1/models', undefined, auth);
  check(r.status === 200 && r.json.object === 'list' && r.json.data[0].id === 'stories260K.gguf', `/v1/models: ${r.text}`);
  r = await request(srv, 'GET', '/v1/models/stories260K.gguf', undefined, auth);
  check(r.status === 200 && r.json.id === 'stories260K.gguf' && r.json.object === 'model', `/v1/models/{id}: ${r.text}`);

  // Native API: blocking, with a client id, then /status of it.
  r = await request(srv, 'POST', '/generate', { prompt: 'Once upon a time', max_tokens: 8, temperature: 0, id: 'native-1' }, auth);
  check(r.status === 200 && r.json.id === 'native-1' && typeof r.json.text === 'string' && r.json.usage.completion_tokens === 8 &&
        r.json.finish_reason === 'length', `/generate: ${r.text}`);
  r = await request(srv, 'GET', '/status/native-1', undefined, auth);
  check(r.status === 200 && r.json.state === 'done' && r.json.completion_tokens === 8, `/status after: ${r.text}`);
  // Native stream: text events, then a final event with done/usage.
  const s = await sse(srv, '/generate/stream', { prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }, { headers: auth });
  const last = s.events[s.events.length - 1];
  check(s.status === 200 && last && last.done === true && last.finish_reason === 'length' && last.usage.completion_tokens === 8,
        `/generate/stream final event: ${s.raw.slice(-300)}`);
  const streamed = s.events.filter((e) => typeof e.text === 'string').map((e) => e.text).join('');
  check(streamed === r.json?.text || streamed.length > 0, 'stream carries text');
  const blocking = await request(srv, 'POST', '/generate', { prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }, auth);
  check(streamed === blocking.json.text, `stream text = blocking text: ${JSON.stringify(streamed)} vs ${JSON.stringify(blocking.json.text)}`);

  // Metrics text.
  const m = await metrics(srv, auth);
  for (const k of ['rocmforge_requests_total{outcome="ok"}', 'rocmforge_prompt_tokens_total', 'rocmforge_generated_tokens_total',
    'rocmforge_time_to_first_token_seconds_count', 'rocmforge_inter_token_latency_seconds_count', 'rocmforge_queue_length',
    'rocmforge_slots_active', 'rocmforge_kv_blocks_used', 'rocmforge_kv_blocks_total'])
    check(k in m, `/metrics has ${k}`);
  check(m['rocmforge_requests_total{outcome="ok"}'] >= 4, 'ok requests counted');
  check(m.rocmforge_generated_tokens_total >= 24, 'generated tokens counted');
  const rs = await srv.stop();
  check(rs.code === 0, `exit status after SIGTERM: ${JSON.stringify(rs)}`);
}

// --------------------------------------------- queue full, cancel, disconnect
{
  // Eight 2000-token choices on one slot: far more work than this part of
  // the test takes, on any machine, so "still running" holds when it matters.
  const srv = await startServer(['--parallel', '1', '--queue', '7', '-c', '2048', '--cache-entries', '0']);
  const long = { prompt: 'Once upon a time', max_tokens: 2000, n: 8, temperature: 0 };
  let id = null;
  const first = sse(srv, '/v1/completions', { ...long, stream: true }, { onEvent: (ev) => { if (!id && ev.id) id = ev.id; } });
  while (!id) await sleep(10);
  // One job runs, seven wait: the queue is full, so the next request is
  // refused with 429 and Retry-After.
  const r = await request(srv, 'POST', '/v1/completions', { prompt: 'x', max_tokens: 2 });
  isErr(r, 429, 'rate_limit_exceeded', 'queue full');
  check(r.headers['retry-after'] !== undefined, 'Retry-After on 429');
  let m = await metrics(srv);
  check(m['rocmforge_requests_total{outcome="rejected"}'] === 1 && m.rocmforge_queue_length === 7, 'rejection counted, 7 queued');
  // Cancel it by id: every choice ends with finish_reason "cancelled".
  const c = await request(srv, 'POST', `/cancel/${id}`);
  check(c.status === 200 && c.json.cancelled === true, `/cancel: ${c.text}`);
  const fr = await first;
  const fins = fr.events.filter((e) => e !== '[DONE]' && e.choices && e.choices[0].finish_reason).map((e) => e.choices[0].finish_reason);
  check(fins.length === 8 && fins.every((f) => f === 'cancelled') && fr.events[fr.events.length - 1] === '[DONE]',
        `cancelled request: ${JSON.stringify(fins)}`);
  m = await waitIdle(srv);
  check(m.rocmforge_slots_active === 0 && m.rocmforge_queue_length === 0, 'slot free and queue empty after /cancel');
  check(m['rocmforge_requests_total{outcome="cancelled"}'] === 1, 'cancelled counted');
  const stt = await request(srv, 'GET', `/status/${id}`);
  check(stt.status === 200 && stt.json.state === 'done' && stt.json.cancelled === true, `/status of a cancelled request: ${stt.text}`);

  // Hang up mid-stream: the slot is freed.
  let n = 0;
  await sse(srv, '/v1/completions', { ...long, stream: true }, {
    onEvent: (ev, req) => { if (++n === 5) req.destroy(); },
  });
  check(n >= 5, 'stream started before the hang-up');
  m = await waitIdle(srv);
  check(m.rocmforge_slots_active === 0 && m.rocmforge_queue_length === 0, 'slot free after a client hang-up');
  check(m['rocmforge_requests_total{outcome="cancelled"}'] === 2, `disconnect counted as cancelled: ${m['rocmforge_requests_total{outcome="cancelled"}']}`);
  // Blocking request whose client disappears.
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((res) => sock.on('connect', res));
  const body = JSON.stringify(long);
  sock.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  for (let i = 0; i < 100 && (await metrics(srv)).rocmforge_slots_active === 0; i++) await sleep(10);
  sock.destroy();
  m = await waitIdle(srv);
  check(m.rocmforge_slots_active === 0 && m['rocmforge_requests_total{outcome="cancelled"}'] === 3, 'blocking request cancelled on hang-up');
  m = await metrics(srv);
  check(m.rocmforge_kv_blocks_used === 0, `no KV blocks held without a prefix cache: ${m.rocmforge_kv_blocks_used}`);

  // SIGTERM while a stream runs past the grace period: the stream ends with
  // a final event saying why, then [DONE]; exit 0.
  const srv2 = await startServer(['--parallel', '2', '--grace', '1']);
  let started = false;
  const p = sse(srv2, '/v1/completions', { ...long, stream: true }, { onEvent: () => { started = true; } });
  while (!started) await sleep(10);
  const t0 = Date.now();
  const ex = srv2.stop();
  const res = await p;
  const st = await ex;
  check(st.code === 0, `SIGTERM exit status: ${JSON.stringify(st)}`);
  check(Date.now() - t0 < 15000, 'shutdown bounded by the grace period');
  check(res.events.length > 0 && res.events[res.events.length - 1] === '[DONE]', `stream ended with [DONE]: ${res.raw.slice(-200)}`);
  check(res.events.some((e) => e.error && e.error.code === 'shutting_down'), 'stream told why it ended');
  // SIGTERM with time to spare: the running stream completes normally, new
  // connections are refused meanwhile, exit 0.
  // (400 tokens: done well within the 60 s grace even on a loaded machine.)
  const srv3 = await startServer(['--parallel', '2', '--grace', '60']);
  let ex3, ended = false;
  const p3 = sse(srv3, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true }, {
    onEvent: () => { if (!ex3) ex3 = srv3.stop(); },
  });
  p3.then(() => { ended = true; });
  while (!ex3) await sleep(5);
  await sleep(150);
  if (!ended) {
    const late = await request(srv3, 'GET', '/health').catch(() => ({ status: 0 }));
    check(late.status === 0 || ended, 'no new connections while draining');
  }
  const res3 = await p3;
  const fin3 = res3.events.filter((e) => e !== '[DONE]' && e.choices && e.choices[0].finish_reason).map((e) => e.choices[0].finish_reason);
  check(res3.events[res3.events.length - 1] === '[DONE]' && fin3.length === 1 && ['length', 'stop'].includes(fin3[0]),
        `in-flight stream finished during the grace period: ${res3.raw.slice(-200)}`);
  const st3 = await ex3;
  check(st3.code === 0, `exit 0 after draining: ${JSON.stringify(st3)}`);
  await srv.stop();
}

// ------------------------------------------------------- request timeout
{
  // Eight choices of 2000 tokens one after another on one slot cannot end
  // within --timeout 1: the request ends with 504, and its stream twin with
  // an error event then [DONE].
  const srv = await startServer(['--parallel', '1', '--queue', '16', '--timeout', '1', '--cache-entries', '0']);
  const body = { prompt: 'Once upon a time', max_tokens: 2000, n: 8, temperature: 0 };
  const t0 = Date.now();
  const r = await request(srv, 'POST', '/v1/completions', body);
  isErr(r, 504, 'timeout', 'request over --timeout');
  check(Date.now() - t0 < 3000, `timed out in time: ${Date.now() - t0} ms`);
  const s = await sse(srv, '/v1/completions', { ...body, stream: true });
  check(s.events.some((e) => e.error && e.error.code === 'timeout') && s.events[s.events.length - 1] === '[DONE]',
        `stream over --timeout ends with an error event: ${s.raw.slice(-200)}`);
  const m = await waitIdle(srv);
  check(m['rocmforge_requests_total{outcome="timeout"}'] === 2 && m.rocmforge_slots_active === 0, 'timeouts counted, slot free');
  await srv.stop();
}

// ------------------------------------------- connection limit, idle timeout
{
  const srv = await startServer(['--max-connections', '3', '--idle-timeout', '1']);
  const open = () => new Promise((res) => {
    const sk = net.connect(srv.port, '127.0.0.1');
    sk.closedAt = 0;
    sk.on('close', () => { sk.closedAt = Date.now(); });
    sk.on('error', () => {});
    sk.on('connect', () => res(sk));
  });
  // startServer's readiness probe may still hold its connection for a moment
  // after its answer: let the server close it, so the three idle sockets
  // below are the only ones open.
  await sleep(300);
  const idle = [await open(), await open(), await open()];
  await sleep(100);
  check(idle.every((sk) => sk.closedAt === 0), 'the three idle connections are held open');
  // The limit is reached: a fourth connection is closed without an answer.
  const r = await request(srv, 'GET', '/health').catch((e) => ({ status: 0, error: e.code }));
  check(r.status === 0, `connection over --max-connections refused: ${JSON.stringify(r)}`);
  // Idle connections are closed after --idle-timeout (1 s; MHD checks about once a second).
  const t0 = Date.now();
  await sleep(3500);
  check(idle.every((sk) => sk.closedAt > 0 && sk.closedAt - t0 < 3500), 'idle connections closed by the server');
  const r2 = await request(srv, 'GET', '/health');
  check(r2.status === 200, 'connections accepted again once the idle ones are gone');
  await srv.stop();
}

// ------------------------------------------ /ready is 503 until the model is in
{
  // A FIFO as the model path: loading blocks until a writer comes, so the
  // server listens with the model not yet loaded.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-srv-'));
  const fifo = path.join(dir, 'model.gguf');
  execFileSync('mkfifo', [fifo]);
  const srv = await startServer([], { waitReady: false, model: fifo });
  const r = await request(srv, 'GET', '/ready');
  check(r.status === 503, `/ready while loading: ${r.status}`);
  const h = await request(srv, 'GET', '/health');
  check(h.status === 200, '/health while loading');
  isErr(await request(srv, 'POST', '/v1/completions', { prompt: 'x' }), 503, 'model_not_ready', 'generation while loading');
  // Feed it something that is not a model: the load fails and the server exits 1.
  try { fs.writeFileSync(fifo, 'not a gguf file'); } catch (e) { if (e.code !== 'EPIPE') throw e; }
  const st = await srv.exited;
  check(st.code === 1, `bad model exits 1: ${JSON.stringify(st)}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

done('server_http');
