import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startGateway, type GatewayHarness } from './support/gateway-harness.js';
import { PROMETHEUS_MISSING, prometheusBinary, SKIP_PROMETHEUS, startPrometheus, type Prometheus, type PromSample } from './support/prometheus.js';

/**
 * The gateway's `GET /metrics` read by a real Prometheus (Debian's `prometheus` package; CI installs
 * it in scripts/ci-prepare.sh): Prometheus scrapes the gateway every second with a client key of its
 * own (keys are set and GATEWAY_METRICS_PUBLIC is not, so /metrics needs one), the test makes chat
 * calls through the gateway, then asks Prometheus' HTTP API for the token counters and compares them
 * with the usage the fake upstream reported. Without Prometheus the suite fails, unless
 * HUSH_SKIP_PROMETHEUS=1 (then it is skipped, and says so).
 */
const binary = prometheusBinary();
if (SKIP_PROMETHEUS)
  console.warn(`test/prometheus.e2e.spec.ts skipped: HUSH_SKIP_PROMETHEUS=1 (${binary ? `prometheus is at ${binary}` : 'prometheus is not installed'}).`);

// Of the test-key shapes, so that the suite's secret scan fails the file if one is ever printed.
const APP_KEY = 'sk-test-client-app-0001';
const SCRAPER_KEY = 'sk-test-client-prometheus-0002';
const JOB = 'hush-gateway';

const total = (samples: PromSample[]) => samples.reduce((sum, s) => sum + s.value, 0);

describe.skipIf(SKIP_PROMETHEUS)(`Prometheus scraping the gateway's /metrics${SKIP_PROMETHEUS ? ' (skipped: HUSH_SKIP_PROMETHEUS=1)' : ''}`, () => {
  let gw: GatewayHarness | undefined;
  let prometheus: Prometheus | undefined;

  beforeAll(async () => {
    if (!binary) throw new Error(PROMETHEUS_MISSING);
    gw = await startGateway({ apiKeys: [`app:${APP_KEY}`, `prometheus:${SCRAPER_KEY}`] });
    prometheus = await startPrometheus({ binary, scrape: { target: new URL(gw.url).host, metricsPath: '/metrics', bearerToken: SCRAPER_KEY, jobName: JOB } });
  });
  afterAll(async () => {
    // Whatever happened: Prometheus stopped (SIGTERM, then SIGKILL) and its directory removed, then the gateway closed.
    try {
      await prometheus?.stop();
    } finally {
      await gw?.close();
    }
  });

  it('scrapes /metrics with its own client key (the target is up, its requests counted as client "prometheus")', async () => {
    const up = await prometheus!.waitFor(`up{job="${JOB}"}`, (s) => s.length === 1 && s[0]!.value === 1, { what: 'the gateway as an up target' });
    expect(up[0]!.metric).toMatchObject({ job: JOB, instance: new URL(gw!.url).host });
    // Scrapes are requests like any other: by the scraper's key name, answered 200.
    await prometheus!.waitFor(
      `sum(hush_gateway_client_requests_total{job="${JOB}",client="prometheus",http_response_status_code="200"})`,
      (s) => total(s) >= 1,
      {
        what: 'the scrapes, counted under the scraper key name',
      },
    );
    // The resource the gateway reports (target_info) is there too.
    const info = await prometheus!.waitFor(`target_info{job="${JOB}"}`, (s) => s.length === 1, { what: 'target_info' });
    expect(info[0]!.metric.service_name).toBe('hush-gateway');
  });

  it('stores the tokens of chat calls as the upstream reported them: gen_ai_client_token_usage and the per-client counter', async () => {
    const calls: Array<{ prompt: string; stream: boolean }> = [
      { prompt: 'the quick brown fox jumps', stream: false },
      { prompt: 'hello there', stream: false },
      { prompt: 'one two three four', stream: true },
    ];
    let input = 0;
    let output = 0;
    for (const call of calls) {
      const body = { model: 'chat', messages: [{ role: 'user', content: call.prompt }] };
      const headers = { authorization: `Bearer ${APP_KEY}` };
      if (!call.stream) {
        const answer = await postJson(`${gw!.baseURL}/chat/completions`, body, headers);
        expect(answer.status, answer.text).toBe(200);
        input += answer.body.usage.prompt_tokens;
        output += answer.body.usage.completion_tokens;
        continue;
      }
      const response = await fetch(`${gw!.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      });
      expect(response.status).toBe(200);
      const usage = (await response.text())
        .split('\n')
        .filter((line) => line.startsWith('data: {'))
        .map((line) => JSON.parse(line.slice(6)) as { usage?: { prompt_tokens: number; completion_tokens: number } | null })
        .find((chunk) => chunk.usage)?.usage;
      expect(usage, 'the usage chunk of the stream').toBeDefined();
      input += usage!.prompt_tokens;
      output += usage!.completion_tokens;
    }
    // What the fake upstream counts: a token per word of the prompt.
    expect(input).toBe(5 + 2 + 4);
    expect(output).toBeGreaterThan(0);

    // The histogram's _sum is the tokens, its _count the calls: once Prometheus has scraped after the last call.
    const tokens = (type: string) => `sum(gen_ai_client_token_usage_sum{job="${JOB}",gen_ai_token_type="${type}"})`;
    const inputSeen = await prometheus!.waitFor(tokens('input'), (s) => total(s) === input, { what: `${input} input tokens in Prometheus` });
    expect(total(inputSeen)).toBe(input);
    const outputSeen = await prometheus!.waitFor(tokens('output'), (s) => total(s) === output, { what: `${output} output tokens in Prometheus` });
    expect(total(outputSeen)).toBe(output);
    const count = await prometheus!.query(`sum(gen_ai_client_token_usage_count{job="${JOB}",gen_ai_token_type="input"})`);
    expect(total(count)).toBe(calls.length);
    // The labels of the library's series, as Prometheus stores them.
    const [series] = await prometheus!.query(`gen_ai_client_token_usage_sum{job="${JOB}",gen_ai_token_type="input"}`);
    expect(series!.metric).toMatchObject({
      __name__: 'gen_ai_client_token_usage_sum',
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai_compatible',
      gen_ai_request_model: 'gpt-4o-mini',
      hush_instance: 'chat',
    });

    // The gateway's own counter, per client (the key's name, never the key).
    const perClient = await prometheus!.waitFor(
      `sum by (client, gen_ai_token_type) (hush_gateway_client_tokens_total{job="${JOB}"})`,
      (s) => total(s) === input + output,
      { what: 'the per-client token counter' },
    );
    expect(perClient.map((s) => [s.metric.client, s.metric.gen_ai_token_type, s.value]).sort()).toEqual([
      ['app', 'input', input],
      ['app', 'output', output],
    ]);
    const prometheusLog = prometheus!.log();
    expect(prometheusLog).not.toContain(SCRAPER_KEY);
    expect(prometheusLog).not.toContain(APP_KEY);
  });
});

describe.skipIf(SKIP_PROMETHEUS)(`the scrape config of docs/observability.md${SKIP_PROMETHEUS ? ' (skipped: HUSH_SKIP_PROMETHEUS=1)' : ''}`, () => {
  it('passes `promtool check config` (its credentials file pointed at a temporary one)', async () => {
    if (!binary) throw new Error(PROMETHEUS_MISSING);
    const promtool = join(dirname(binary), 'promtool');
    if (!existsSync(promtool)) throw new Error(`promtool is not beside ${binary} (Debian's prometheus package has both).`);
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'observability.md'), 'utf8');
    // Prometheus' config is fenced `yml`: the `yaml` blocks of the docs are providers configs (docs-examples.spec.ts).
    const blocks = [...doc.matchAll(/```yml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('scrape_configs:'));
    expect(blocks.length, 'a ```yml block with scrape_configs').toBeGreaterThanOrEqual(1);
    const dir = await mkdtemp(join(tmpdir(), 'hush-promtool-'));
    try {
      await writeFile(join(dir, 'token'), 'sk-example', { mode: 0o600 });
      for (const [i, block] of blocks.entries()) {
        const file = join(dir, `prometheus-${i}.yml`);
        await writeFile(file, block.replace(/credentials_file: .*/g, `credentials_file: ${join(dir, 'token')}`));
        const { stdout } = await promisify(execFile)(promtool, ['check', 'config', file]).catch((err: { stdout?: string; stderr?: string }) => {
          throw new Error(`promtool check config refused docs/observability.md's block ${i + 1}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
        });
        expect(stdout).toContain('SUCCESS');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
