// npm run bench: what the library's layer (config, retries, deadline, limits, batching) costs per call,
// as a ratio against the official `openai` client calling the same local server in the same run.
// Both sides talk real HTTP to a minimal OpenAI-shaped server on 127.0.0.1; rounds alternate, so
// the noise of a shared machine falls on both. Prints medians of the per-round ratios.
import 'reflect-metadata';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import { ProvidersModule, ProvidersRegistry } from '@hush/providers';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CALLS = Number(process.env.BENCH_CALLS ?? 400);
const CONCURRENCY = 16;

const completion = JSON.stringify({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});
const vector = Buffer.from(new Float32Array(256).fill(0.5).buffer).toString('base64');
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    if (req.url.endsWith('/embeddings')) {
      const input = JSON.parse(body).input;
      res.end(JSON.stringify({ object: 'list', model: 'e', usage: { prompt_tokens: 1, total_tokens: 1 }, data: input.map((_, index) => ({ object: 'embedding', index, embedding: vector })) }));
    } else res.end(completion);
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${server.address().port}/v1`;

const raw = new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0 });
const module = await Test.createTestingModule({
  imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: {
    llm: { chat: { type: 'openai-compatible', baseUrl: baseURL, model: 'm', maxConcurrency: 64 } },
    embedding: { docs: { type: 'openai-compatible', baseUrl: baseURL, model: 'e', dimensions: 256 } },
  } })],
}).compile();
const registry = module.get(ProvidersRegistry);
const messages = [{ role: 'user', content: 'hello' }];

async function timed(fn) {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (next++ < CALLS) await fn(); }));
  return performance.now() - started;
}

const cases = {
  'chat generate': [() => raw.chat.completions.create({ model: 'm', messages }), () => registry.llm('chat').generate(messages)],
  'embed 64 texts': [
    () => raw.embeddings.create({ model: 'e', input: Array(64).fill('text'), dimensions: 256 }),
    () => registry.embedder('docs').embed(Array(64).fill('text')),
  ],
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, [baseline, library]] of Object.entries(cases)) {
  await timed(baseline); await timed(library); // warm-up
  const ratios = [], base = [], lib = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await timed(baseline);
    const l = await timed(library);
    base.push(b); lib.push(l); ratios.push(l / b);
  }
  console.log(`${name}: library/openai-client time ratio ${median(ratios).toFixed(2)} (median of ${ROUNDS} rounds of ${CALLS} calls, ${CONCURRENCY} at once; ` +
    `${(CALLS / median(base) * 1000).toFixed(0)} vs ${(CALLS / median(lib) * 1000).toFixed(0)} calls/s)`);
}
await module.close();
server.close();
