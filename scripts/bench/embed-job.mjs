// One contender's embedding job, alone in a fresh process (forked by scripts/bench.mjs with
// --expose-gc), so its peak memory is its own: sets the contender up, warms it up on a small batch,
// then embeds TEXTS texts, keeps every vector (as any caller does) and checks them all.
// argv[2]: JSON { baseURL, contender, texts, encoding? }
// Reports: wall time of the job, peak RSS (the kernel's maxRSS for the process, and sampled during
// the job), peak heap (sampled), RSS and heap before the job, heap still held by the vectors after.
import { performance } from 'node:perf_hooks';
import { makeContender } from './contenders.mjs';
import { checkVectors, embedTexts } from './shape.mjs';
import { childLifetime, gc, settle, upstreamStats } from './util.mjs';

childLifetime(Number(process.env.BENCH_CHILD_LIFETIME_MS ?? 5 * 60_000));
const { baseURL, contender, texts: count, encoding } = JSON.parse(process.argv[2]);

try {
  const c = await makeContender(contender, baseURL);
  // Warm-up: the same code paths on 64 texts, checked too.
  const warm = await c.embed(embedTexts(64), encoding);
  const warmProblem = checkVectors(warm, 64);
  if (warmProblem) throw new Error(`warm-up: ${warmProblem}`);

  const texts = embedTexts(count);
  gc();
  await settle();
  gc();
  const before = process.memoryUsage();
  const maxRssBefore = process.resourceUsage().maxRSS * 1024;
  await upstreamStats(baseURL); // reset the counters
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
  };
  const sampler = setInterval(sample, 2);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const vectors = await c.embed(texts, encoding);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  sample();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const stats = await upstreamStats(baseURL);
  const problem = checkVectors(vectors, count);
  if (problem) throw new Error(problem);
  if (stats.inputs !== count || stats.bad !== 0)
    throw new Error(`upstream embedded ${stats.inputs} inputs (expected ${count}), refused ${stats.bad}: ${JSON.stringify(stats.badReasons)}`);
  gc();
  await settle();
  gc();
  const held = process.memoryUsage();
  process.send(
    {
      result: {
        contender,
        encoding: encoding ?? null,
        texts: count,
        ms,
        textsPerS: (count / ms) * 1000,
        // CPU of this process during the job: less disturbed than wall time by a busy machine.
        cpuMs: (cpu.user + cpu.system) / 1000,
        cpuUserMs: cpu.user / 1000,
        maxRss,
        maxRssBefore,
        rssBefore: before.rss,
        heapBefore: before.heapUsed,
        sampledPeakRss: peakRss,
        sampledPeakHeap: peakHeap,
        heapHeldAfter: held.heapUsed,
        requests: stats.embeddings,
        maxBatch: stats.maxBatch,
        format: stats.embeddingsBase64 === stats.embeddings ? 'base64' : stats.embeddingsFloat === stats.embeddings ? 'float' : 'mixed',
        upstreamCpu: stats.cpuMs / ms,
      },
    },
    () => process.exit(0),
  );
} catch (err) {
  process.send({ error: `${contender}: ${err?.stack ?? err}` }, () => process.exit(1));
}
