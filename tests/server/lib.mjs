// lib.mjs — helpers for the server's black-box tests: start the real
// binary on a free port, wait for /ready, raw HTTP and SSE over node's http
// module, the openai npm client (installed into a git-ignored cache), the
// llama.cpp reference (node-llama-cpp) and the greedy fixtures.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.RF_SOURCE_DIR || path.resolve(here, '../..');
export const CACHE_DIR = process.env.RF_CACHE_DIR || path.join(SOURCE_DIR, '.cache');
export const MODELS_DIR = process.env.RF_MODELS_DIR || path.resolve(SOURCE_DIR, '../shared/models');
export const BIN = process.env.RF_BIN || path.join(SOURCE_DIR, 'build/rocmforge');

let failures = 0, checks = 0;
export function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.error(`CHECK failed: ${what}`); }
  return cond;
}
export function done(name) {
  console.error(`${name}: ${checks} checks, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
export function skip(why) {
  console.error(`SKIP: ${why}`);
  process.exit(77);
}

export function modelPath(name = 'stories260K.gguf') {
  const p = path.join(MODELS_DIR, name);
  if (!fs.existsSync(p)) skip(`${p} is absent (set RF_MODELS_DIR to the reference models)`);
  if (!fs.existsSync(BIN)) skip(`the rocmforge binary ${BIN} is not built`);
  return p;
}

// Starts `rocmforge serve` with --port 0; resolves once it listens and
// (unless waitReady is false) once /ready says 200.
export async function startServer(args, { waitReady = true, model = modelPath() } = {}) {
  const child = spawn(BIN, ['serve', '-m', model, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30000);
    const onData = (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/[^ ]*:(\d+)/);
      if (m) { clearTimeout(t); child.stderr.off('data', onData); resolve(Number(m[1])); }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`server exited ${code}:\n${log}`)); });
  });
  child.stderr.on('data', (d) => { log += d; if (process.env.RF_TEST_VERBOSE) process.stderr.write(d); });
  const srv = {
    child, port, base: `http://127.0.0.1:${port}`, get log() { return log; },
    exited: new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig }))),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return { code: child.exitCode };
      child.kill(signal);
      return srv.exited;
    },
  };
  if (waitReady) {
    for (let i = 0; i < 300; i++) {
      try {
        const r = await request(srv, 'GET', '/ready');
        if (r.status === 200) return srv;
      } catch { /* not yet */ }
      await sleep(100);
    }
    throw new Error(`server never became ready:\n${log}`);
  }
  return srv;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One HTTP request; body: string/Buffer/object (JSON). Resolves
// {status, headers, text, json}.
export function request(srv, method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    let data = body;
    const h = { ...headers };
    if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
      data = JSON.stringify(body);
      h['Content-Type'] = h['Content-Type'] || 'application/json';
    }
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path: urlPath, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// SSE request: resolves {status, events: [parsed data], raw, headers};
// opts.onEvent(ev, req) may call req.destroy() to hang up mid-stream.
export function sse(srv, urlPath, body, { headers = {}, onEvent } = {}) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port: srv.port, method: 'POST', path: urlPath, agent: false,
      headers: { 'Content-Type': 'application/json', ...headers },
    }, (res) => {
      let buf = '', raw = '';
      const events = [];
      res.setEncoding('utf8');
      res.on('data', (c) => {
        raw += c;
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) {
            if (!line.startsWith('data: ')) continue;
            const d = line.slice(6);
            const ev = d === '[DONE]' ? '[DONE]' : JSON.parse(d);
            events.push(ev);
            if (onEvent) onEvent(ev, req);
          }
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, events, raw }));
      res.on('error', (e) => resolve({ status: res.statusCode, events, raw, error: e }));
      res.on('aborted', () => resolve({ status: res.statusCode, events, raw, aborted: true }));
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? resolve({ status: 0, events: [], aborted: true }) : reject(e)));
    req.write(data);
    req.end();
  });
}

export async function metrics(srv, headers = {}) {
  const r = await request(srv, 'GET', '/metrics', undefined, headers);
  const out = {};
  for (const line of r.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return out;
}

// The official openai npm client, installed on first use into the cache.
export async function openaiClient(srv, apiKey = 'unused') {
  const dir = path.join(CACHE_DIR, 'npm-openai');
  const pkg = path.join(dir, 'node_modules', 'openai', 'package.json');
  if (!fs.existsSync(pkg)) {
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', 'openai@4'],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 180000 });
    if (r.error || r.status !== 0 || !fs.existsSync(pkg))
      skip(`cannot install the openai npm package (npm or network unavailable): ${r.error || r.stderr}`);
  }
  const require = createRequire(path.join(dir, 'node_modules', 'x.js'));
  const OpenAI = require('openai');
  const Ctor = OpenAI.default || OpenAI.OpenAI || OpenAI;
  return new Ctor({ apiKey, baseURL: `${srv.base}/v1`, maxRetries: 0, timeout: 120000 });
}

// llama.cpp through node-llama-cpp (scripts/fetch-refs.sh): used to turn
// the fixtures' token ids into text, with llama.cpp's own detokenizer.
// optional: resolve to null instead of skipping the whole test.
export async function llamaCpp(model, { optional = false } = {}) {
  const entry = path.join(CACHE_DIR, 'node', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (!fs.existsSync(entry)) {
    const r = spawnSync(path.join(SOURCE_DIR, 'scripts', 'fetch-refs.sh'), { stdio: 'inherit', timeout: 300000 });
    if (r.status !== 0 || !fs.existsSync(entry)) {
      const why = 'llama.cpp reference (node-llama-cpp) unavailable: run scripts/fetch-refs.sh';
      if (optional) { console.error(`note: ${why}; the llama.cpp comparison is skipped`); return null; }
      skip(why);
    }
  }
  const { getLlama } = await import(entry);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  return llama.loadModel({ modelPath: model });
}

// tests/fixtures/llamacpp/<model>.greedy.txt: llama.cpp greedy runs.
export function greedyFixture(name = 'stories260K') {
  const f = path.join(SOURCE_DIR, 'tests', 'fixtures', 'llamacpp', `${name}.greedy.txt`);
  if (!fs.existsSync(f)) skip(`${f} missing`);
  const cases = [];
  let cur;
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const w = line.split(' ');
    if (w[0] === 'case') { cur = { logits: {} }; cases.push(cur); }
    else if (w[0] === 'prompt_hex') cur.prompt = Buffer.from(w[1], 'hex').toString('utf8');
    else if (w[0] === 'prompt_tokens') cur.promptTokens = w.slice(2).map(Number);
    else if (w[0] === 'gen_tokens') cur.genTokens = w.slice(2).map(Number);
    else if (w[0] === 'logits') cur.logits[Number(w[1])] = w.slice(2).map(Number);
  }
  return cases;
}

export function logSoftmax(v) {
  const mx = Math.max(...v);
  const lse = mx + Math.log(v.reduce((a, x) => a + Math.exp(x - mx), 0));
  return v.map((x) => x - lse);
}
