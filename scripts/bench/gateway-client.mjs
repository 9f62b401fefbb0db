// The gateway's figures, measured from the bench process with undici's request (an Agent of its
// own) against the gateway in its own process, both on the fake upstream:
//  - added latency: a chat call through the gateway, and the same call straight to the upstream,
//    interleaved one at a time (the order flips every pair), p50 and p99 of each, after a warm-up;
//  - throughput: chat calls/s through the gateway with 64 in flight, rounds alternating with the
//    same load straight to the upstream (the ceiling of this machine, for context).
// Every answer is checked (status, text); after each run the upstream's counters must show exactly
// one upstream call per call made.
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { CHAT_MODEL, MESSAGES } from './contenders.mjs';
import { CHAT_TEXT } from './shape.mjs';
import { gc, log, pool, quantile, settle, upstreamStats } from './util.mjs';

export async function measureGateway({ gatewayURL, baseURL, rounds, latencyPairs, warmup, calls }) {
  const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
  const headers = { 'content-type': 'application/json' };
  const targets = {
    gateway: { url: `${gatewayURL}/v1/chat/completions`, model: 'chat' },
    direct: { url: `${baseURL}/chat/completions`, model: CHAT_MODEL },
  };
  async function call(target) {
    const { url, model } = targets[target];
    const r = await request(url, { method: 'POST', headers, body: JSON.stringify({ model, messages: MESSAGES }), dispatcher });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`${target}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
    const c = JSON.parse(text);
    if (c.choices?.[0]?.message?.content !== CHAT_TEXT) throw new Error(`${target}: wrong completion text`);
  }
  async function checkedRun(expectedCalls, fn) {
    await upstreamStats(baseURL);
    const out = await fn();
    const stats = await upstreamStats(baseURL);
    if (stats.chat !== expectedCalls || stats.bad !== 0)
      throw new Error(`upstream saw ${stats.chat} chat calls (expected ${expectedCalls}), refused ${stats.bad}`);
    return { ...out, upstreamCpu: stats.cpuMs / stats.wallMs };
  }

  try {
    // Warm-up, both ways, in flight and one at a time.
    await pool(warmup, 64, () => call('gateway'));
    await pool(warmup, 64, () => call('direct'));
    for (let i = 0; i < warmup / 4; i++) await call(i % 2 ? 'gateway' : 'direct');

    // Added latency.
    const perRound = Math.ceil(latencyPairs / rounds);
    const all = { gateway: [], direct: [] };
    const latencyRounds = [];
    for (let r = 0; r < rounds; r++) {
      gc();
      await settle();
      const lat = { gateway: new Float64Array(perRound), direct: new Float64Array(perRound) };
      await checkedRun(perRound * 2, async () => {
        for (let i = 0; i < perRound; i++) {
          for (const target of i % 2 ? ['gateway', 'direct'] : ['direct', 'gateway']) {
            const t = performance.now();
            await call(target);
            lat[target][i] = performance.now() - t;
          }
        }
      });
      all.gateway.push(...lat.gateway);
      all.direct.push(...lat.direct);
      const round = {
        p50: quantile(lat.gateway, 0.5) - quantile(lat.direct, 0.5),
        p99: quantile(lat.gateway, 0.99) - quantile(lat.direct, 0.99),
      };
      latencyRounds.push(round);
      log(`  gateway latency round ${r + 1}/${rounds}: added p50 ${round.p50.toFixed(3)} ms, p99 ${round.p99.toFixed(3)} ms`);
    }
    const latency = {
      pairs: all.gateway.length,
      gateway: { p50: quantile(all.gateway, 0.5), p99: quantile(all.gateway, 0.99) },
      direct: { p50: quantile(all.direct, 0.5), p99: quantile(all.direct, 0.99) },
      rounds: latencyRounds,
    };
    latency.addedP50 = latency.gateway.p50 - latency.direct.p50;
    latency.addedP99 = latency.gateway.p99 - latency.direct.p99;

    // Throughput with 64 in flight.
    const throughput = { gateway: [], direct: [] };
    for (let r = 0; r < rounds; r++) {
      const line = [];
      for (const target of r % 2 ? ['direct', 'gateway'] : ['gateway', 'direct']) {
        gc();
        await settle();
        const f = await checkedRun(calls, async () => {
          const t0 = performance.now();
          await pool(calls, 64, () => call(target));
          const ms = performance.now() - t0;
          return { calls, ms, callsPerS: (calls / ms) * 1000 };
        });
        throughput[target].push(f);
        line.push(`${target} ${f.callsPerS.toFixed(0)} calls/s [upstream ${(f.upstreamCpu * 100).toFixed(0)}% cpu]`);
      }
      log(`  gateway throughput round ${r + 1}/${rounds}: ${line.join(', ')}`);
    }
    return { latency, throughput };
  } finally {
    await dispatcher.close();
  }
}
