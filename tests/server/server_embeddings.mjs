// server_embeddings.mjs — /v1/embeddings against llama.cpp: the same texts
// through llama.cpp with MEAN pooling (scripts/fixtures/llamacpp/embd_ref.c, built here against the
// llama.cpp release inside node-llama-cpp and its prebuilt CPU libraries)
// and through the server (openai client, base64 and float encodings).
// Tolerance: cosine >= 1 - 1e-6 and per-element error <= 1e-5 on the unit
// vectors. stories260K is F32 throughout and both sides keep an F32 KV
// cache; the vectors agree to about 1e-7 (F32 sums in another order), so
// the bound leaves a factor of 100 for other CPUs' summation orders.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CACHE_DIR, SOURCE_DIR, check, done, modelPath, openaiClient, skip, startServer } from './lib.mjs';

const model = modelPath();
const pkg = path.join(CACHE_DIR, 'node', 'node_modules');
const bins = path.join(pkg, '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
const bundle = path.join(pkg, 'node-llama-cpp', 'llama', 'gitRelease.bundle');
if (!fs.existsSync(bundle) || !fs.existsSync(path.join(bins, 'libllama.v0.4.0.so'))) {
  const r = spawnSync(path.join(SOURCE_DIR, 'scripts', 'fetch-refs.sh'), { stdio: 'inherit', timeout: 300000 });
  if (r.status !== 0 || !fs.existsSync(bundle)) skip('llama.cpp reference (node-llama-cpp) unavailable: run scripts/fetch-refs.sh');
}
// llama.cpp's headers: a clone of the bundle, kept in the cache.
const src = path.join(CACHE_DIR, 'llama-src');
if (!fs.existsSync(path.join(src, 'include', 'llama.h'))) {
  fs.rmSync(src, { recursive: true, force: true });
  const r = spawnSync('git', ['clone', '-q', bundle, src], { stdio: 'inherit', timeout: 120000 });
  if (r.status !== 0) skip('cannot clone the llama.cpp source bundle (git missing?)');
}
const exe = path.join(CACHE_DIR, 'embed-ref', 'embd_ref');
fs.mkdirSync(path.dirname(exe), { recursive: true });
const cc = spawnSync('cc', ['-O1', '-o', exe, path.join(SOURCE_DIR, 'scripts', 'fixtures', 'llamacpp', 'embd_ref.c'),
  `-I${src}/include`, `-I${src}/ggml/include`, `-L${bins}`, '-l:libllama.v0.4.0.so', '-l:libggml-base.so',
  '-l:libggml.v0.4.0.so', `-Wl,-rpath,${bins}`, '-lm'], { encoding: 'utf8' });
if (cc.status !== 0) skip(`cannot build the llama.cpp embedding harness: ${cc.stderr}`);

const texts = ['Once upon a time', 'The little dog', 'Lily and Tom went to the park. They saw a big tree with many birds.',
  'One day, a girl named Sue found a shiny red ball under her bed.'];
const run = spawnSync(exe, [bins, model, ...texts], { encoding: 'utf8', timeout: 120000 });
if (run.status !== 0) skip(`llama.cpp embedding harness failed: ${run.stderr}`);
// embd_ref prints, per text, "tokens <n> <ids...>" then "embd <n_embd floats>".
const ref = [];
for (const l of run.stdout.split('\n')) {
  const w = l.trim().split(' ');
  if (w[0] === 'tokens') ref.push({ n: Number(w[1]), v: [] });
  else if (w[0] === 'embd') ref[ref.length - 1].v = w.slice(1).map(Number);
}
check(ref.length === texts.length, `llama.cpp harness gave ${ref.length} embeddings for ${texts.length} texts`);

const srv = await startServer(['--parallel', '4', '-c', '512', '-ctk', 'f32', '-ctv', 'f32']); // embd_ref.c's F32 KV
const client = await openaiClient(srv);
const fl = await client.embeddings.create({ model: 'stories260K.gguf', input: texts, encoding_format: 'float' });
const b64 = await client.embeddings.create({ model: 'stories260K.gguf', input: texts });
check(fl.data.length === texts.length && b64.data.length === texts.length, 'one vector per input');
check(fl.usage.prompt_tokens === ref.reduce((a, r) => a + r.n, 0), `prompt_tokens ${fl.usage.prompt_tokens} = llama.cpp's token count`);
for (let i = 0; i < texts.length; i++) {
  for (const [name, res] of [['float', fl], ['base64', b64]]) {
    const v = res.data[i].embedding, w = ref[i].v;
    check(v.length === w.length, `${name} ${i}: width ${v.length} vs ${w.length}`);
    let dot = 0, maxd = 0;
    for (let k = 0; k < w.length; k++) { dot += v[k] * w[k]; maxd = Math.max(maxd, Math.abs(v[k] - w[k])); }
    check(dot >= 1 - 1e-6 && maxd <= 1e-5, `${name} ${i} (${JSON.stringify(texts[i])}): cosine ${dot}, max error ${maxd} vs llama.cpp`);
  }
}
const st = await srv.stop();
check(st.code === 0, 'clean exit');
done('server_embeddings');
