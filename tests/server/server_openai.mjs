// server_openai.mjs — the official `openai` npm client against the real
// binary on stories260K. The generated text is checked against llama.cpp:
// tests/fixtures/llamacpp/stories260K.greedy.txt holds llama.cpp's greedy
// token ids for fixed prompts (and full logit vectors at some steps), and
// llama.cpp's own detokenizer (node-llama-cpp) turns them into the
// expected text. Covers chat and completions, streaming and not, stop
// strings, max tokens, seeds, logprobs, embeddings, models list, cached
// prompt tokens.
import { check, done, greedyFixture, llamaCpp, logSoftmax, modelPath, request, startServer } from './lib.mjs';

const model = modelPath();
const cases = greedyFixture('stories260K');
const ref = await llamaCpp(model);
const EOS = 2;
// Expected text of the first n greedy tokens (up to an end-of-sequence).
function expected(c, n) {
  let toks = c.genTokens.slice(0, n);
  const e = toks.indexOf(EOS);
  if (e >= 0) toks = toks.slice(0, e);
  // Detokenize after the prompt so a leading space is kept as it is when
  // streaming (llama.cpp strips it from the start of a detokenized text).
  const head = ref.detokenize(c.promptTokens);
  const full = ref.detokenize([...c.promptTokens, ...toks]);
  if (!full.startsWith(head)) throw new Error('llama.cpp detokenization is not prefix-stable here');
  return { text: full.slice(head.length), n: toks.length, stopped: e >= 0 };
}

// -ctk/-ctv f32: the fixtures' and the logprob reference's F32 KV cache
const srv = await startServer(['--parallel', '4', '-c', '512', '--api-key', 'sk-abc', '-ctk', 'f32', '-ctv', 'f32']);
const client = await (await import('./lib.mjs')).openaiClient(srv, 'sk-abc');
const MODEL = 'stories260K.gguf';

// models.list
const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === MODEL, `models.list: ${JSON.stringify(models.data)}`);

// completions, greedy: text equals llama.cpp's continuation for every fixture prompt.
for (const c of cases) {
  const N = 48;
  const want = expected(c, N);
  const r = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: N, temperature: 0 });
  check(r.object === 'text_completion' && r.choices.length === 1, 'completion shape');
  check(r.choices[0].text === want.text, `completion of ${JSON.stringify(c.prompt)}:\n got  ${JSON.stringify(r.choices[0].text)}\n want ${JSON.stringify(want.text)}`);
  check(r.usage.prompt_tokens === c.promptTokens.length, `prompt_tokens ${r.usage.prompt_tokens} vs llama.cpp ${c.promptTokens.length}`);
  check(r.usage.completion_tokens === want.n, `completion_tokens ${r.usage.completion_tokens} vs ${want.n}`);
  check(r.choices[0].finish_reason === (want.stopped ? 'stop' : 'length'), `finish_reason ${r.choices[0].finish_reason}`);
  check(r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, 'total_tokens');

  // The same prompt as token ids.
  const r2 = await client.completions.create({ model: MODEL, prompt: c.promptTokens, max_tokens: N, temperature: 0 });
  check(r2.choices[0].text === want.text, 'completion from token ids');

  // Streaming: the chunks add up to the same text; usage chunk at the end.
  const stream = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: N, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
  let text = '', fin = null, usage = null, chunks = 0;
  for await (const ch of stream) {
    chunks++;
    if (ch.choices.length) { text += ch.choices[0].text; fin = ch.choices[0].finish_reason || fin; }
    if (ch.usage) usage = ch.usage;
  }
  check(text === want.text, `streamed completion:\n got  ${JSON.stringify(text)}\n want ${JSON.stringify(want.text)}`);
  check(fin === (want.stopped ? 'stop' : 'length'), `streamed finish_reason ${fin}`);
  check(usage && usage.completion_tokens === want.n && usage.prompt_tokens === c.promptTokens.length, `stream usage ${JSON.stringify(usage)}`);
  check(chunks > 2, 'streamed in several chunks');
}

// max_tokens and max_completion_tokens.
{
  const c = cases[0];
  const r = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: 5, temperature: 0 });
  check(r.usage.completion_tokens === 5 && r.choices[0].finish_reason === 'length' && r.choices[0].text === expected(c, 5).text, 'max_tokens 5');
  const ch = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Tell me a story' }],
    max_completion_tokens: 7, temperature: 0 });
  check(ch.usage.completion_tokens <= 7 && (ch.choices[0].finish_reason === 'length') === (ch.usage.completion_tokens === 7),
        `max_completion_tokens: ${JSON.stringify(ch.usage)} ${ch.choices[0].finish_reason}`);
}

// ignore_eos (vLLM's and llama.cpp's extension): a logit bias that makes
// end-of-sequence every greedy pick ends the reply at once without it, and
// with it the reply runs to max_tokens.
{
  const c = cases[0];
  const auth = { Authorization: 'Bearer sk-abc' };
  const body = { model: MODEL, prompt: c.prompt, max_tokens: 8, temperature: 0, logit_bias: { [EOS]: 100 } };
  const a = await request(srv, 'POST', '/v1/completions', body, auth);
  check(a.status === 200 && a.json.choices[0].finish_reason === 'stop' && a.json.usage.completion_tokens === 0,
        `end of sequence forced: ${a.text}`);
  const b = await request(srv, 'POST', '/v1/completions', { ...body, ignore_eos: true }, auth);
  check(b.status === 200 && b.json.choices[0].finish_reason === 'length' && b.json.usage.completion_tokens === 8,
        `ignore_eos: ${b.text}`);
  const bad = await request(srv, 'POST', '/v1/completions', { ...body, ignore_eos: 'yes' }, auth);
  check(bad.status === 400 && bad.json.error.param === 'ignore_eos', `ignore_eos not a boolean: ${bad.text}`);
}

// Stop strings: the text ends right before the first occurrence.
{
  const c = cases[0];
  const full = expected(c, 48).text;
  const words = full.split(/\s+/).filter((w) => w.length >= 3);
  const stopWord = words[Math.min(3, words.length - 1)];
  const at = full.indexOf(stopWord);
  const r = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: 48, temperature: 0, stop: [stopWord, 'zzzz'] });
  check(r.choices[0].text === full.slice(0, at) && r.choices[0].finish_reason === 'stop',
        `stop ${JSON.stringify(stopWord)}: got ${JSON.stringify(r.choices[0].text)} want ${JSON.stringify(full.slice(0, at))}`);
  const s = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: 48, temperature: 0, stop: stopWord, stream: true });
  let text = '', fin;
  for await (const ch of s) if (ch.choices.length) { text += ch.choices[0].text; fin = ch.choices[0].finish_reason || fin; }
  check(text === full.slice(0, at) && fin === 'stop', `streamed stop: ${JSON.stringify(text)}`);
}

// Chat: non-streamed and streamed agree; the reply is what completions
// gives for the same tokens (the template is rendered server-side).
{
  const msgs = [{ role: 'system', content: 'You are a storyteller.' }, { role: 'user', content: 'Once upon a time' }];
  const r = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 24, temperature: 0 });
  check(r.object === 'chat.completion' && r.choices[0].message.role === 'assistant' && typeof r.choices[0].message.content === 'string',
        'chat shape');
  check(r.usage.prompt_tokens > 5, 'chat prompt includes the template');
  const s = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 24, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
  let text = '', role = null, fin = null, usage = null;
  for await (const ch of s) {
    check(ch.object === 'chat.completion.chunk', 'chunk object');
    if (ch.choices.length) {
      const d = ch.choices[0].delta;
      if (d.role) role = d.role;
      if (d.content) text += d.content;
      fin = ch.choices[0].finish_reason || fin;
    }
    if (ch.usage) usage = ch.usage;
  }
  check(role === 'assistant' && text === r.choices[0].message.content && fin === r.choices[0].finish_reason,
        `streamed chat = chat: ${JSON.stringify(text)} vs ${JSON.stringify(r.choices[0].message.content)}`);
  check(usage && usage.completion_tokens === r.usage.completion_tokens, 'streamed chat usage');
}

// Seeds: same seed, same text; other seeds differ (temperature 1).
{
  const c = cases[1];
  const q = { model: MODEL, prompt: c.prompt, max_tokens: 40, temperature: 1.0, seed: 1234 };
  const a = await client.completions.create(q);
  const b = await client.completions.create(q);
  check(a.choices[0].text === b.choices[0].text, 'same seed, same text');
  const others = new Set();
  for (let s = 1; s <= 4; s++) others.add((await client.completions.create({ ...q, seed: 1234 + s })).choices[0].text);
  others.add(a.choices[0].text);
  check(others.size >= 3, `different seeds give different texts (${others.size} distinct of 5)`);
  // n choices with a seed: reproducible as a set, and not all equal.
  const n1 = await client.completions.create({ ...q, n: 3 });
  const n2 = await client.completions.create({ ...q, n: 3 });
  check(n1.choices.length === 3 && n1.choices.map((x) => x.text).join('|') === n2.choices.map((x) => x.text).join('|'), 'n=3 reproducible');
  check(new Set(n1.choices.map((x) => x.text)).size > 1, 'n=3 choices differ');
  // Sampling parameters are honoured: top_k 1 is greedy whatever the temperature.
  const g = await client.completions.create({ ...q, top_k: 1, temperature: 1.5 });
  check(g.choices[0].text === expected(c, 40).text, 'top_k=1 equals greedy');
  // logit_bias -100 on the greedy first token changes the first token.
  const first = c.genTokens[0];
  const lb = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: 3, temperature: 0, logit_bias: { [first]: -100 } });
  check(!lb.choices[0].text.startsWith(ref.detokenize([first])), 'logit_bias bans a token');
}

// Logprobs against llama.cpp's logits (steps 0 and 1 of case 0). Tolerance
// 1e-4: with the F32 model and F32 KV cache on both sides the log-softmax
// values agree to about 2e-6 (F32 sums in another order); the bound leaves
// a factor of 50.
{
  const TOL = 1e-4;
  const c = cases[0];
  const r = await client.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: 2, temperature: 0, logprobs: 5 });
  const lp = r.choices[0].logprobs;
  for (const step of [0, 1]) {
    const ls = logSoftmax(c.logits[step]);
    const tok = c.genTokens[step];
    check(Math.abs(lp.token_logprobs[step] - ls[tok]) < TOL, `logprob step ${step}: ${lp.token_logprobs[step]} vs llama.cpp ${ls[tok]}`);
    const top = Object.entries(lp.top_logprobs[step]);
    const refTop = ls.map((v, i) => [i, v]).sort((a, b) => b[1] - a[1]).slice(0, 5);
    check(top.length === 5, 'five top logprobs');
    for (let k = 0; k < Math.min(top.length, 5); k++)
      check(Math.abs(top[k][1] - refTop[k][1]) < TOL, `top ${k} at step ${step}: ${top[k][1]} vs ${refTop[k][1]}`);
  }
  check(lp.tokens.join('') === r.choices[0].text, 'logprobs tokens spell the text');
  const ch = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4,
    temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = ch.choices[0].logprobs.content;
  check(content.length === ch.usage.completion_tokens, 'one logprob entry per token');
  for (const e of content) {
    check(e.logprob <= 0 && e.top_logprobs.length === 3 && Array.isArray(e.bytes), 'chat logprob entry shape');
    check(Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6 && e.top_logprobs[0].token === e.token, 'greedy token is the top one');
    check(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob, 'sorted');
  }
  check(content.map((e) => e.token).join('') === ch.choices[0].message.content, 'chat logprob tokens spell the text');
}

// Prefix cache: the same long prompt again reuses its KV and says so.
{
  const prompt = cases[2].prompt + ' ' + cases[3].prompt + ' ' + cases[0].prompt;
  const a = await client.completions.create({ model: MODEL, prompt, max_tokens: 16, temperature: 0 });
  const b = await client.completions.create({ model: MODEL, prompt, max_tokens: 16, temperature: 0 });
  const cached = b.usage.prompt_tokens_details && b.usage.prompt_tokens_details.cached_tokens;
  check(cached >= 16 && cached < b.usage.prompt_tokens, `cached_tokens on a repeated prompt: ${cached} of ${b.usage.prompt_tokens}`);
  check(a.choices[0].text === b.choices[0].text, 'cached prefix gives the same text');
}

// A chat's second turn starts with the first turn's tokens: reused.
{
  const turn1 = [{ role: 'user', content: 'Tell me a story about a dog named Max who liked to run in the park.' }];
  const a = await client.chat.completions.create({ model: MODEL, messages: turn1, max_tokens: 20, temperature: 0 });
  const turn2 = [...turn1, { role: 'assistant', content: a.choices[0].message.content }, { role: 'user', content: 'And then?' }];
  const b = await client.chat.completions.create({ model: MODEL, messages: turn2, max_tokens: 8, temperature: 0 });
  const cached = b.usage.prompt_tokens_details.cached_tokens;
  check(cached >= 16 && cached <= a.usage.prompt_tokens + a.usage.completion_tokens,
        `second chat turn reuses the first: cached ${cached}, first turn ${a.usage.prompt_tokens}+${a.usage.completion_tokens}`);
}

// Embeddings: base64 (the client's default) and float agree; unit norm;
// deterministic; one vector per input.
{
  const e1 = await client.embeddings.create({ model: MODEL, input: 'Once upon a time' });
  const v = e1.data[0].embedding;
  check(Array.isArray(v) && v.length === 64, `embedding width ${v && v.length} (n_embd 64)`);
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  check(Math.abs(norm - 1) < 1e-4, `embedding is L2-normalised: ${norm}`);
  const e2 = await client.embeddings.create({ model: MODEL, input: ['Once upon a time', 'The little dog'], encoding_format: 'float' });
  check(e2.data.length === 2 && e2.data[0].index === 0 && e2.data[1].index === 1, 'two inputs, two vectors');
  check(e2.data[0].embedding.every((x, i) => Math.abs(x - v[i]) < 1e-6), 'base64 and float agree, same input same vector');
  check(e2.data[1].embedding.some((x, i) => Math.abs(x - v[i]) > 1e-3), 'different inputs differ');
  check(e1.usage.prompt_tokens === 5, `embedding usage: ${JSON.stringify(e1.usage)}`);
}

// Errors through the client map to its typed errors.
{
  let status = 0;
  try { await client.completions.create({ model: 'nope', prompt: 'x' }); } catch (e) { status = e.status; }
  check(status === 404, `unknown model through the client: ${status}`);
  const bad = new (client.constructor)({ apiKey: 'sk-wrong', baseURL: `${srv.base}/v1`, maxRetries: 0 });
  try { await bad.models.list(); status = 200; } catch (e) { status = e.status; }
  check(status === 401, `wrong key through the client: ${status}`);
}

const st = await srv.stop();
check(st.code === 0, `clean exit: ${JSON.stringify(st)}`);
done('server_openai');
