// server_determinism.mjs — at temperature 0, each of 32 concurrent streamed
// requests returns exactly the text it returns when sent alone, so a
// request's output does not depend on which others share its batches
// (--deterministic). The four prompts that have llama.cpp fixtures are also
// checked against llama.cpp's greedy continuation.
import { check, done, greedyFixture, llamaCpp, modelPath, sse, startServer } from './lib.mjs';

const model = modelPath();
const cases = greedyFixture('stories260K');
const ref = await llamaCpp(model, { optional: true });
const N = 64;

const seeds = ['Once upon a time', 'The little dog', 'Lily and Tom went to the park. They saw a big',
  'One day, a girl named Sue found a', 'Tim had a red ball', 'The sun was', 'A big fish', 'Mom said',
  'There was a cat who', 'The bird sang', 'Ben and Mia', 'In the forest'];
// The fixture prompts first, then made-up ones up to 32.
const prompts = cases.map((c) => c.prompt);
const n = seeds.length;
for (let i = 0; prompts.length < 32 && i < n * n + n; i++) {
  const p = i < n ? seeds[i] : `${seeds[i % n]} and ${seeds[Math.floor(i / n) % n].toLowerCase()}`;
  if (!prompts.includes(p)) prompts.push(p);
}
if (prompts.length < 32) throw new Error('not enough distinct prompts');

const srv = await startServer(['--parallel', '32', '-c', '256', '--deterministic', '--cache-entries', '0', '-ctk', 'f32', '-ctv', 'f32']);

async function run(prompt, i) {
  const body = { prompt, max_tokens: N, temperature: 0, stream: true };
  const r = await sse(srv, '/v1/completions', body);
  const text = r.events.filter((e) => e !== '[DONE]' && e.choices && e.choices.length).map((e) => e.choices[0].text).join('');
  check(r.status === 200 && r.events[r.events.length - 1] === '[DONE]', `request ${i} completed`);
  return text;
}

const alone = [];
for (let i = 0; i < prompts.length; i++) alone.push(await run(prompts[i], i));
const together = await Promise.all(prompts.map((p, i) => run(p, i)));
for (let i = 0; i < prompts.length; i++)
  check(alone[i] === together[i], `request ${i} (${JSON.stringify(prompts[i])}) differs in a batch:\n alone    ${JSON.stringify(alone[i])}\n together ${JSON.stringify(together[i])}`);

// The fixture prompts against llama.cpp.
for (const c of ref ? cases : []) {
  const i = prompts.indexOf(c.prompt);
  let toks = c.genTokens.slice(0, N);
  const e = toks.indexOf(2);
  if (e >= 0) toks = toks.slice(0, e);
  const head = ref.detokenize(c.promptTokens);
  const want = ref.detokenize([...c.promptTokens, ...toks]).slice(head.length);
  check(i >= 0 && together[i] === want, `batched ${JSON.stringify(c.prompt)} vs llama.cpp:\n got  ${JSON.stringify(together[i])}\n want ${JSON.stringify(want)}`);
}
const st = await srv.stop();
check(st.code === 0, 'clean exit');
done('server_determinism');
