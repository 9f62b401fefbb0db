// The fake OpenAI upstream of `npm run bench`, in its own process (forked by scripts/bench.mjs) so
// its CPU is not in any measured process. Answers at once, from bodies serialized at startup:
//   POST /v1/chat/completions   a small completion with usage; `stream: true`: STREAM_CHUNKS content
//                               chunks as OpenAI sends them (role in the first), a finish chunk, a usage
//                               chunk when `stream_options.include_usage`, then `data: [DONE]`
//   POST /v1/embeddings         `encoding_format: base64` (little-endian float32) or `float`; 1536
//                               dimensions, up to 2048 inputs; input i of the request gets the vector
//                               whose first component is the number at the end of its text ("doc 123"
//                               → 123), so the bench can check that every text got its own vector, in order
//   GET  /v1/models
//   GET  /__stats[?reset=1]     counters (requests per route, inputs embedded, POSTs that carried a W3C
//                               `traceparent` header, bad requests, CPU used)
// Listens on 127.0.0.1:0 and sends {port} to the parent; exits when the parent goes away, and after
// MAX_LIFETIME_MS whatever happens.
import { createServer } from 'node:http';
import { CHAT_TEXT, DIMENSIONS, EMBED_MAX_BATCH, STREAM_CHUNKS, STREAM_TEXT, USAGE, vectorTail } from './shape.mjs';

const MAX_LIFETIME_MS = Number(process.env.BENCH_UPSTREAM_LIFETIME_MS ?? 30 * 60_000);
// Self-test of the bench's checks (BENCH_FAULT=chat|stream|embed): a slightly wrong answer now and
// then, which every contender must then be reported BROKEN for, never measured.
const FAULT = process.env.BENCH_FAULT ?? '';
let served = 0;
const faulty = (kind) => FAULT === kind && ++served % (kind === 'embed' ? 7 : 50) === 0;
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => process.exit(0));

// --- bodies, serialized once ------------------------------------------------------------------
const completion = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'bench-model',
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, message: { role: 'assistant', content: CHAT_TEXT, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
  }),
);

function sseStream(withUsage) {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'bench-model', system_fingerprint: 'fp_bench' };
  const extra = withUsage ? { usage: null } : {};
  const events = [];
  const words = STREAM_TEXT;
  for (let i = 0; i < STREAM_CHUNKS; i++) {
    const delta = i === 0 ? { role: 'assistant', content: words[i], refusal: null } : { content: words[i] };
    events.push({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }], ...extra });
  }
  events.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...extra });
  if (withUsage) events.push({ ...base, choices: [], usage: USAGE });
  return Buffer.from(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n');
}
const streamWithUsage = sseStream(true);
const streamWithoutUsage = sseStream(false);
// A stream one content chunk short (the fault of BENCH_FAULT=stream).
const streamShort = Buffer.from(streamWithUsage.toString().replace(/data: [^\n]*"content":" token5"[^\n]*\n\n/, ''));
const completionWrong = Buffer.from(completion.toString().replace('help you', 'help You'));

const models = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: ['bench-model', 'bench-embed'].map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'bench' })),
  }),
);

// Embeddings: every vector is [n, tail...]; n is per input, the tail is shared and pre-serialized.
const tail = vectorTail();
const f32 = new Float32Array(DIMENSIONS);
f32.set(tail, 1);
const bytes = Buffer.from(f32.buffer);
// base64 works in groups of 3 bytes: bytes 0..5 (n, and half of component 1) are encoded per vector,
// bytes 6.. once. (6 and DIMENSIONS*4 - 6 are both multiples of 3.)
const b64Tail = bytes.subarray(6).toString('base64');
const headBytes = Buffer.alloc(6);
bytes.copy(headBytes, 0, 0, 6);
function b64Vector(n) {
  headBytes.writeFloatLE(n, 0);
  return '"' + headBytes.toString('base64') + b64Tail + '"';
}
const floatTail = ',' + Array.from(tail, (x) => String(x)).join(',') + ']';
const floatVector = (n) => '[' + String(n) + floatTail;
const embeddingsHead = Buffer.from('{"object":"list","data":[');
function embeddingsEnd(count) {
  const usage = { prompt_tokens: count * 3, total_tokens: count * 3 };
  return Buffer.from(`],"model":"bench-embed","usage":${JSON.stringify(usage)}}`);
}

// --- counters -----------------------------------------------------------------------------------
let stats;
let cpuAt;
function resetStats() {
  stats = {
    chat: 0,
    chatStream: 0,
    chatStreamUsage: 0,
    embeddings: 0,
    embeddingsBase64: 0,
    embeddingsFloat: 0,
    inputs: 0,
    maxBatch: 0,
    models: 0,
    traced: 0,
    bad: 0,
    badReasons: {},
  };
  cpuAt = { cpu: process.cpuUsage(), t: performance.now() };
}
resetStats();

const JSON_HEADERS = { 'content-type': 'application/json' };
function bad(res, reason) {
  stats.bad++;
  stats.badReasons[reason] = (stats.badReasons[reason] ?? 0) + 1;
  const body = JSON.stringify({ error: { message: reason, type: 'invalid_request_error', param: null, code: null } });
  res.writeHead(400, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
function send(res, body, type = 'application/json') {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length });
  res.end(body);
}

function chat(req, res, body) {
  if (typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) return bad(res, 'chat: model and messages are required');
  if (body.stream === true) {
    stats.chatStream++;
    const usage = body.stream_options?.include_usage === true;
    if (usage) stats.chatStreamUsage++;
    const stream = faulty('stream') ? streamShort : usage ? streamWithUsage : streamWithoutUsage;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'content-length': stream.length });
    res.end(stream);
    return;
  }
  stats.chat++;
  send(res, faulty('chat') ? completionWrong : completion);
}

function embeddings(req, res, body) {
  const input = body.input;
  if (typeof body.model !== 'string' || !Array.isArray(input) || input.length === 0)
    return bad(res, 'embeddings: model and a non-empty input array are required');
  if (input.length > EMBED_MAX_BATCH) return bad(res, `embeddings: at most ${EMBED_MAX_BATCH} inputs per request; got ${input.length}`);
  if (body.dimensions !== undefined && body.dimensions !== DIMENSIONS)
    return bad(res, `embeddings: dimensions ${body.dimensions} asked, this model has ${DIMENSIONS}`);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') return bad(res, `embeddings: encoding_format ${format}`);
  stats.embeddings++;
  stats.inputs += input.length;
  if (input.length > stats.maxBatch) stats.maxBatch = input.length;
  if (format === 'base64') stats.embeddingsBase64++;
  else stats.embeddingsFloat++;
  const vector = format === 'base64' ? b64Vector : floatVector;
  const swap = faulty('embed') && input.length > 1; // two vectors swapped (BENCH_FAULT=embed)
  const parts = [embeddingsHead];
  for (let i = 0; i < input.length; i++) {
    const text = input[i];
    const at = swap && i < 2 ? input[1 - i] : text;
    const n = typeof at === 'string' ? Number(at.slice(at.lastIndexOf(' ') + 1)) : NaN;
    // A text that is not "... <number>" gets -1: the bench's check then fails, as it should.
    parts.push(Buffer.from(`${i ? ',' : ''}{"object":"embedding","index":${i},"embedding":${vector(Number.isInteger(n) ? n : -1)}}`));
  }
  parts.push(embeddingsEnd(input.length));
  let length = 0;
  for (const p of parts) length += p.length;
  res.writeHead(200, { ...JSON_HEADERS, 'content-length': length });
  res.cork();
  for (const p of parts) res.write(p);
  res.end();
}

const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0, highWaterMark: 1 << 20 }, (req, res) => {
  const url = req.url ?? '';
  if (req.method === 'GET') {
    req.resume();
    if (url === '/v1/models') {
      stats.models++;
      return send(res, models);
    }
    if (url.startsWith('/__stats')) {
      const cpu = process.cpuUsage(cpuAt.cpu);
      const wallMs = performance.now() - cpuAt.t;
      const body = Buffer.from(JSON.stringify({ ...stats, cpuMs: (cpu.user + cpu.system) / 1000, wallMs }));
      if (url.includes('reset=1')) resetStats();
      return send(res, body);
    }
    res.writeHead(404).end();
    return;
  }
  if (req.headers.traceparent !== undefined) stats.traced++;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(chunks.length === 1 ? chunks[0].toString() : Buffer.concat(chunks).toString());
    } catch {
      return bad(res, 'body is not JSON');
    }
    if (url === '/v1/chat/completions') return chat(req, res, body);
    if (url === '/v1/embeddings') return embeddings(req, res, body);
    bad(res, `no route ${req.method} ${url}`);
  });
});
server.headersTimeout = 60_000;
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: true, port: server.address().port });
});
