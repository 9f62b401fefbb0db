#!/usr/bin/env node
// @ts-check
/**
 * The picture of docs/observability.md: Prometheus' own graph of the gateway's token usage.
 *
 *   npm run build && node scripts/prometheus-screenshot.mjs   → docs/images/prometheus-token-usage.png
 *
 * Starts, all on 127.0.0.1 at free ports, each stopped at the end whatever happens:
 *   - a fake OpenAI upstream (in this process): chat completions whose usage is a token per word of
 *     the prompt and a few per answer;
 *   - the built gateway (`node dist/gateway/main.js`, as `npm start` runs it), with three client keys
 *     (team-a, team-b, prometheus; random, never printed) over two LLM instances on the fake;
 *   - Prometheus (Debian's `prometheus`, or $PROMETHEUS_BIN), scraping the gateway's /metrics every
 *     second with the `prometheus` key, its TSDB in a temporary directory;
 * then sends chat calls from the two clients at changing rates for TRAFFIC_SECONDS (default 100),
 * and opens Prometheus' graph page of the token counter in headless Chromium (Debian's `chromium`,
 * or $CHROMIUM_BIN; driven by playwright-core) and saves a PNG of it.
 *
 * Needs: `npm run build` first, `apt-get install -y prometheus chromium`. Not part of `npm test` nor CI.
 * Options (environment): TRAFFIC_SECONDS, SCREENSHOT_OUT (the PNG's path), PROMETHEUS_BIN, CHROMIUM_BIN.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const OUT = process.env.SCREENSHOT_OUT ?? join(repo, 'docs', 'images', 'prometheus-token-usage.png');
const TRAFFIC_SECONDS = Number(process.env.TRAFFIC_SECONDS ?? 100);
/** What the picture shows: the tokens of every call, by instance and input/output, as Prometheus stores them. */
const EXPRESSION = 'sum by (hush_instance, gen_ai_token_type) (gen_ai_client_token_usage_sum{job="hush-gateway"})';
const RANGE = `${Math.max(1, Math.ceil((TRAFFIC_SECONDS + 10) / 60))}m`;
const GATEWAY_MAIN = join(repo, 'dist', 'gateway', 'main.js');

/** @param {string} what */
const log = (what) => console.log(`prometheus-screenshot: ${what}`);
/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {string | undefined} explicit @param {string[]} names */
function findBinary(explicit, names) {
  const candidates = explicit ? [explicit] : names.flatMap((name) => (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `url` until it answers 200, at most `timeoutMs`. @param {string} url @param {string} what @param {() => string} tail */
async function waitReady(url, what, tail, timeoutMs = 20_000, headers = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1000} s:\n${tail()}`);
    await sleep(100);
  }
}

/**
 * A child process whose output is kept (the tail, for failure messages), stopped by SIGTERM, then
 * SIGKILL after 5 s. @param {string} command @param {string[]} args @param {import('node:child_process').SpawnOptions} options
 */
function start(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  /** @param {Buffer} chunk */
  const keep = (chunk) => {
    tail = (tail + chunk.toString()).slice(-6000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise((resolve) => {
    child.once('exit', () => resolve((exited = true)));
    child.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      resolve((exited = true));
    });
  });
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    tail: () => tail,
    exited: () => exited,
    async stop() {
      process.removeListener('exit', onExit);
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** The fake upstream: OpenAI's chat completions, a token per word of the prompt, 3 to 12 per answer. */
async function startUpstream() {
  let served = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model', created: 1_700_000_000, owned_by: 'fake' }] }));
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      const request = JSON.parse(body);
      const words = request.messages.map((/** @type {{content: string}} */ m) => String(m.content)).join(' ');
      const input = words.split(/\s+/).filter(Boolean).length;
      const output = 3 + (served++ % 10);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-fake${served}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: request.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok '.repeat(output).trim() }, finish_reason: 'stop', logprobs: null }],
          usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
        }),
      );
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no upstream port');
  return {
    baseUrl: `http://127.0.0.1:${address.port}/v1`,
    stop: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * Sends chat calls for `seconds`: team-a asks `chat` steadily, team-b sends `summarize` long prompts in waves.
 * @param {string} gatewayUrl @param {{ teamA: string, teamB: string }} keys @param {number} seconds
 */
async function traffic(gatewayUrl, keys, seconds) {
  const started = Date.now();
  let calls = 0;
  let failures = 0;
  /** @param {string} key @param {string} model @param {number} words */
  const call = async (key, model, words) => {
    const content = Array.from({ length: words }, (_, i) => `word${i}`).join(' ');
    try {
      const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
      });
      await response.text();
      if (response.status === 200) calls++;
      else failures++;
    } catch {
      failures++;
    }
  };
  let lastReport = 0;
  while (Date.now() - started < seconds * 1000) {
    const t = (Date.now() - started) / 1000;
    const wave = Math.max(0, Math.sin((t / seconds) * 2 * Math.PI * 1.5));
    const batch = [call(keys.teamA, 'chat', 8 + Math.round(4 * Math.random()))];
    if (Math.random() < wave) batch.push(call(keys.teamB, 'summarize', 60 + Math.round(40 * Math.random())));
    await Promise.all(batch);
    await sleep(250);
    if (t - lastReport >= 20) {
      lastReport = t;
      log(`traffic: ${Math.round(t)} s of ${seconds}, ${calls} calls answered`);
    }
  }
  if (failures > 0) throw new Error(`${failures} of the chat calls failed (${calls} answered)`);
  return calls;
}

async function main() {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${relative(repo, GATEWAY_MAIN)} is missing: run \`npm run build\` first.`);
  const prometheusBin = findBinary(process.env.PROMETHEUS_BIN, ['prometheus']);
  if (!prometheusBin) throw new Error('prometheus not found: apt-get install -y --no-install-recommends prometheus (or set PROMETHEUS_BIN).');
  const chromiumBin = findBinary(process.env.CHROMIUM_BIN, ['chromium', 'chromium-browser']);
  if (!chromiumBin) throw new Error('chromium not found: apt-get install -y --no-install-recommends chromium (or set CHROMIUM_BIN).');
  /** @type {typeof import('playwright-core')} */
  let playwright;
  try {
    playwright = await import('playwright-core');
  } catch {
    throw new Error('playwright-core is missing: npm install (it is a devDependency).');
  }

  const dir = await mkdtemp(join(tmpdir(), 'hush-prometheus-screenshot-'));
  /** @type {Array<() => Promise<unknown>>} */
  const cleanup = [() => rm(dir, { recursive: true, force: true })];
  try {
    const upstream = await startUpstream();
    cleanup.unshift(upstream.stop);

    // The gateway, as `npm start` runs it, on the built code.
    const key = () => `sk-${randomBytes(18).toString('base64url')}`;
    const keys = { teamA: key(), teamB: key(), prometheus: key() };
    const config = join(dir, 'providers.yaml');
    await writeFile(
      config,
      [
        'llm:',
        '  chat:',
        '    type: openai-compatible',
        `    baseUrl: ${upstream.baseUrl}`,
        '    model: gpt-4o-mini',
        '  summarize:',
        '    type: openai-compatible',
        `    baseUrl: ${upstream.baseUrl}`,
        '    model: gpt-4o',
        'defaults:',
        '  llm: chat',
        '',
      ].join('\n'),
    );
    const gatewayPort = await freePort();
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const gateway = start(process.execPath, [GATEWAY_MAIN], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HOST: '127.0.0.1',
        PORT: String(gatewayPort),
        PROVIDERS_CONFIG: config,
        GATEWAY_API_KEYS: `team-a:${keys.teamA},team-b:${keys.teamB},prometheus:${keys.prometheus}`,
      },
    });
    cleanup.unshift(gateway.stop);
    await waitReady(`${gatewayUrl}/health`, 'the gateway', gateway.tail);
    log(`gateway on ${gatewayUrl}`);

    // Prometheus, scraping the gateway every second with its own client key.
    await writeFile(join(dir, 'scrape.token'), keys.prometheus, { mode: 0o600 });
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: hush-gateway',
        '    metrics_path: /metrics',
        '    authorization:',
        '      type: Bearer',
        `      credentials_file: ${join(dir, 'scrape.token')}`,
        '    static_configs:',
        `      - targets: ["127.0.0.1:${gatewayPort}"]`,
        '',
      ].join('\n'),
    );
    const prometheusPort = await freePort();
    const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    const prometheus = start(
      prometheusBin,
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${prometheusPort}`],
      { cwd: dir },
    );
    cleanup.unshift(prometheus.stop);
    await waitReady(`${prometheusUrl}/-/ready`, 'prometheus', prometheus.tail);
    log(`prometheus on ${prometheusUrl}`);

    log(`sending chat calls for ${TRAFFIC_SECONDS} s`);
    const calls = await traffic(gatewayUrl, keys, TRAFFIC_SECONDS);
    // One more scrape after the last call.
    await sleep(2500);
    const answer = await (await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: EXPRESSION })}`)).json();
    const series = answer?.data?.result ?? [];
    if (series.length === 0) throw new Error(`Prometheus has no ${EXPRESSION} after ${calls} calls:\n${prometheus.tail()}`);
    for (const s of series) log(`${JSON.stringify(s.metric)} = ${s.value[1]} tokens`);

    // Prometheus' own graph page (the classic UI in Debian's package: /graph redirects there).
    const browser = await playwright.chromium.launch({
      executablePath: chromiumBin,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    cleanup.unshift(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 820 }, deviceScaleFactor: 1 });
    const graph = `${prometheusUrl}/graph?${new URLSearchParams({ 'g0.expr': EXPRESSION, 'g0.tab': '0', 'g0.range_input': RANGE })}`;
    await page.goto(graph, { waitUntil: 'networkidle', timeout: 20_000 });
    // The classic UI draws an SVG (Rickshaw), the newer React UI a canvas: whichever is there.
    await page.waitForSelector('.graph_area svg path, .graph-chart canvas, .uplot canvas', { timeout: 20_000 });
    await sleep(1000);
    mkdirSync(dirname(OUT), { recursive: true });
    await page.screenshot({ path: OUT, fullPage: true });
    log(`${calls} calls; saved ${OUT.startsWith(repo) ? relative(repo, OUT) : OUT} (${graph.replace(prometheusUrl, '<prometheus>')})`);
  } finally {
    for (const step of cleanup) await step().catch((err) => log(`cleanup: ${String(err)}`));
  }
}

main().catch((err) => {
  console.error(`prometheus-screenshot: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
