// The contenders of `npm run bench`: each makes the same calls against the fake upstream and checks
// what it got, so a contender that breaks (wrong text, missing chunks, missing usage, wrong or
// misordered vectors) fails the run instead of looking fast. Each is loaded on demand, so an
// embedding job's process holds only its own contender's modules.
//
// The library is reached only through '@hush/providers' public exports (ProvidersModule,
// ProvidersRegistry): its internals are free to move.
import { CHAT_TEXT, DIMENSIONS, EMBED_MAX_BATCH, STREAM_CHUNKS, STREAM_JOINED, USAGE } from './shape.mjs';

export const CHAT_MODEL = 'bench-model';
export const EMBED_MODEL = 'bench-embed';
export const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Say hello.' },
];
/** The baseline every ratio is taken against. */
export const BASELINE = 'openai';
/** Display order; the library first. */
export const CONTENDERS = ['library', 'openai', 'ai-sdk', 'langchain', 'undici'];
export const LABELS = {
  library: '@hush/providers',
  openai: 'openai client',
  'ai-sdk': 'Vercel AI SDK',
  langchain: 'LangChain.js',
  undici: 'undici (floor)',
};
/** How each contender splits 50k texts: its own default where it has one. */
export const EMBED_BATCHING = {
  library:
    "embed(all, { vectors: 'float32' }): Float32Array rows, the opt-in for callers who store vectors; the library splits at its batch limit (2048), its own concurrency",
  openai: `embeddings.create (default encoding: base64), batches of ${EMBED_MAX_BATCH}, 4 at a time (done by hand, as the library does)`,
  'ai-sdk': 'embedMany defaults (openai-compatible: encoding float, 2048 per call, all calls at once)',
  langchain: 'OpenAIEmbeddings.embedDocuments defaults (batches of 512, no concurrency limit; base64 through the openai client)',
  undici: `undici.request, base64 decoded by hand into number[], batches of ${EMBED_MAX_BATCH}, 4 at a time`,
};
export const EMBED_CONCURRENCY = 4;

export class CheckError extends Error {}
function check(ok, what) {
  if (!ok) throw new CheckError(what);
}
function checkUsage(total, who) {
  check(total === USAGE.total_tokens, `${who}: usage total ${total}, expected ${USAGE.total_tokens}`);
}
/** Checks a stream's outcome: STREAM_CHUNKS content pieces, the whole text, the usage. Returns the chunks. */
function checkStream(pieces, text, total, who) {
  check(text === STREAM_JOINED, `${who}: streamed text differs (${text.length} chars, expected ${STREAM_JOINED.length})`);
  check(pieces === STREAM_CHUNKS, `${who}: ${pieces} content chunks, expected ${STREAM_CHUNKS}`);
  checkUsage(total, who);
  return pieces;
}

/** Runs `run(batch, index)` over `items` cut in batches of `size`, `concurrency` at a time; results in order. */
export async function inBatches(items, size, concurrency, run) {
  const batches = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  const out = new Array(batches.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batches.length) }, async () => {
      while (next < batches.length) {
        const i = next++;
        out[i] = await run(batches[i], i);
      }
    }),
  );
  return out.flat();
}

/** Makes a contender: { chat(), stream() → content chunks, embed(texts) → number[][], close() }. */
export async function makeContender(name, baseURL) {
  switch (name) {
    case 'library':
      return library(baseURL);
    case 'openai':
      return openaiClient(baseURL);
    case 'ai-sdk':
      return aiSdk(baseURL);
    case 'langchain':
      return langchain(baseURL);
    case 'undici':
      return undiciFloor(baseURL);
    default:
      throw new Error(`unknown contender ${name}`);
  }
}

/** The library's config for the bench: one llm, one embedder, both on the fake upstream. */
export function libraryConfig(baseURL) {
  return {
    llm: { chat: { type: 'openai-compatible', baseUrl: baseURL, model: CHAT_MODEL } },
    embedding: { docs: { type: 'openai-compatible', baseUrl: baseURL, model: EMBED_MODEL, dimensions: DIMENSIONS } },
  };
}

/** Boots a Nest application context around ProvidersModule.forRoot(options), logging off. */
export async function bootProviders(options) {
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { ProvidersModule, ProvidersRegistry } = await import('@hush/providers');
  class BenchModule {}
  Module({ imports: [ProvidersModule.forRoot(options)] })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false, abortOnError: false });
  return { app, registry: app.get(ProvidersRegistry) };
}

async function library(baseURL) {
  await import('reflect-metadata');
  const { app, registry } = await bootProviders({ configPath: [], env: {}, config: libraryConfig(baseURL) });
  const llm = registry.llm('chat');
  const embedder = registry.embedder('docs');
  return {
    async chat() {
      const c = await llm.generate(MESSAGES);
      check(c.choices[0]?.message?.content === CHAT_TEXT, 'library: wrong completion text');
      checkUsage(c.usage?.total_tokens, 'library');
    },
    async stream() {
      let pieces = 0,
        text = '',
        total;
      for await (const chunk of llm.stream(MESSAGES)) {
        const content = chunk.choices[0]?.delta?.content;
        if (content) {
          pieces++;
          text += content;
        }
        if (chunk.usage) total = chunk.usage.total_tokens;
      }
      return checkStream(pieces, text, total, 'library');
    },
    async embed(texts) {
      const r = await embedder.embed(texts, { vectors: 'float32' });
      return r.embeddings;
    },
    close: () => app.close(),
  };
}

async function openaiClient(baseURL) {
  const { default: OpenAI } = await import('openai');
  const client = new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0 });
  return {
    async chat() {
      const c = await client.chat.completions.create({ model: CHAT_MODEL, messages: MESSAGES });
      check(c.choices[0]?.message?.content === CHAT_TEXT, 'openai: wrong completion text');
      checkUsage(c.usage?.total_tokens, 'openai');
    },
    async stream() {
      const s = await client.chat.completions.create({ model: CHAT_MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true } });
      let pieces = 0,
        text = '',
        total;
      for await (const chunk of s) {
        const content = chunk.choices[0]?.delta?.content;
        if (content) {
          pieces++;
          text += content;
        }
        if (chunk.usage) total = chunk.usage.total_tokens;
      }
      return checkStream(pieces, text, total, 'openai');
    },
    async embed(texts, encoding) {
      return inBatches(texts, EMBED_MAX_BATCH, EMBED_CONCURRENCY, async (batch) => {
        const r = await client.embeddings.create({ model: EMBED_MODEL, input: batch, ...(encoding ? { encoding_format: encoding } : {}) });
        return r.data.map((d) => d.embedding);
      });
    },
    close: () => undefined,
  };
}

async function aiSdk(baseURL) {
  const { generateText, streamText, embedMany } = await import('ai');
  const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
  const provider = createOpenAICompatible({ name: 'bench', baseURL, apiKey: 'bench', includeUsage: true });
  const model = provider.chatModel(CHAT_MODEL);
  // The AI SDK's own way to send a system message (the same request on the wire).
  const prompt = { system: MESSAGES[0].content, messages: MESSAGES.slice(1) };
  const embedding = provider.embeddingModel(EMBED_MODEL);
  return {
    async chat() {
      const r = await generateText({ model, ...prompt, maxRetries: 0 });
      check(r.text === CHAT_TEXT, 'ai-sdk: wrong completion text');
      checkUsage(r.usage?.totalTokens, 'ai-sdk');
    },
    async stream() {
      let error;
      const r = streamText({ model, ...prompt, maxRetries: 0, onError: ({ error: e }) => (error = e) });
      let pieces = 0,
        text = '';
      for await (const t of r.textStream) {
        if (t) {
          pieces++;
          text += t;
        }
      }
      if (error) throw error;
      const usage = await r.usage;
      return checkStream(pieces, text, usage?.totalTokens, 'ai-sdk');
    },
    async embed(texts) {
      const r = await embedMany({ model: embedding, values: texts, maxRetries: 0 });
      return r.embeddings;
    },
    close: () => undefined,
  };
}

async function langchain(baseURL) {
  const { ChatOpenAI, OpenAIEmbeddings } = await import('@langchain/openai');
  const chat = new ChatOpenAI({ model: CHAT_MODEL, apiKey: 'bench', configuration: { baseURL }, maxRetries: 0 });
  const embeddings = new OpenAIEmbeddings({ model: EMBED_MODEL, apiKey: 'bench', configuration: { baseURL }, maxRetries: 0 });
  return {
    async chat() {
      const m = await chat.invoke(MESSAGES);
      check(m.content === CHAT_TEXT, 'langchain: wrong completion text');
      checkUsage(m.usage_metadata?.total_tokens, 'langchain');
    },
    async stream() {
      let pieces = 0,
        text = '',
        total;
      for await (const chunk of await chat.stream(MESSAGES)) {
        if (typeof chunk.content === 'string' && chunk.content) {
          pieces++;
          text += chunk.content;
        }
        if (chunk.usage_metadata) total = chunk.usage_metadata.total_tokens;
      }
      return checkStream(pieces, text, total, 'langchain');
    },
    async embed(texts) {
      return embeddings.embedDocuments(texts);
    },
    close: () => undefined,
  };
}

async function undiciFloor(baseURL) {
  const { request, Agent } = await import('undici');
  // Its own Agent: undici's global dispatcher is shared with Node's built-in fetch (which the other
  // contenders use), so this floor would otherwise depend on which of them made it first.
  const dispatcher = new Agent();
  const headers = { 'content-type': 'application/json', authorization: 'Bearer bench' };
  const chatUrl = `${baseURL}/chat/completions`;
  const embedUrl = `${baseURL}/embeddings`;
  async function post(url, body) {
    const r = await request(url, { method: 'POST', headers, body, dispatcher });
    if (r.statusCode !== 200) {
      const text = await r.body.text();
      throw new CheckError(`undici: HTTP ${r.statusCode} ${text.slice(0, 200)}`);
    }
    return r.body;
  }
  return {
    async chat() {
      // Bodies are serialized per call, as any client must (the messages change from call to call).
      const c = await (await post(chatUrl, JSON.stringify({ model: CHAT_MODEL, messages: MESSAGES }))).json();
      check(c.choices[0]?.message?.content === CHAT_TEXT, 'undici: wrong completion text');
      checkUsage(c.usage?.total_tokens, 'undici');
    },
    async stream() {
      const body = await post(chatUrl, JSON.stringify({ model: CHAT_MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true } }));
      body.setEncoding('utf8');
      let buffered = '',
        pieces = 0,
        text = '',
        total,
        done = false;
      for await (const data of body) {
        buffered += data;
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (!event.startsWith('data: ')) continue;
          const payload = event.slice(6);
          if (payload === '[DONE]') {
            done = true;
            continue;
          }
          const chunk = JSON.parse(payload);
          const content = chunk.choices[0]?.delta?.content;
          if (content) {
            pieces++;
            text += content;
          }
          if (chunk.usage) total = chunk.usage.total_tokens;
        }
      }
      check(done, 'undici: no [DONE]');
      return checkStream(pieces, text, total, 'undici');
    },
    async embed(texts) {
      return inBatches(texts, EMBED_MAX_BATCH, EMBED_CONCURRENCY, async (batch) => {
        const r = await (await post(embedUrl, JSON.stringify({ model: EMBED_MODEL, input: batch, encoding_format: 'base64' }))).json();
        return r.data.map((d) => {
          const bytes = Buffer.from(d.embedding, 'base64');
          const floats =
            bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Float32Array(new Uint8Array(bytes).buffer);
          // The same number[] as every other contender returns, by the fastest plain loop (Array.from is ~3× slower).
          const vector = new Array(floats.length);
          for (let i = 0; i < floats.length; i++) vector[i] = floats[i];
          return vector;
        });
      });
    },
    close: () => dispatcher.close(),
  };
}
