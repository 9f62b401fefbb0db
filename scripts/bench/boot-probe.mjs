// How long a Nest application context with ProvidersModule takes to boot, in a fresh process
// (forked by scripts/bench.mjs, once per sample). Modules are imported first, untimed; the clock runs
// from NestFactory.createApplicationContext's start until it resolves (ready).
// argv[2]: JSON { baseURL, instances } — instances 0: an empty module (Nest's own cost, for context).
// Also checked and reported: every instance is known to the registry, and the time to reach all of
// them (a library that built instances lazily would pay there, not in the boot).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ProvidersModule, ProvidersRegistry } from '@hush/providers';
import { CHAT_MODEL } from './contenders.mjs';
import { childLifetime } from './util.mjs';

childLifetime(120_000);
const { baseURL, instances } = JSON.parse(process.argv[2]);

try {
  const llm = {};
  for (let i = 0; i < instances; i++) llm[`llm${i}`] = { type: 'openai-compatible', baseUrl: baseURL, model: CHAT_MODEL };
  class BootModule {}
  Module({ imports: instances ? [ProvidersModule.forRoot({ configPath: [], env: {}, config: { llm } })] : [] })(BootModule);

  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const app = await NestFactory.createApplicationContext(BootModule, { logger: false, abortOnError: false });
  const bootMs = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const bootCpuMs = (c1.user + c1.system) / 1000;
  let touchMs = 0;
  if (instances) {
    const registry = app.get(ProvidersRegistry);
    const names = registry.names('llm');
    if (names.length !== instances) throw new Error(`registry has ${names.length} llm instances, expected ${instances}`);
    const t1 = performance.now();
    for (const name of names) if (registry.llm(name).name !== name) throw new Error(`registry.llm('${name}') is another instance`);
    touchMs = performance.now() - t1;
  }
  const t2 = performance.now();
  await app.close();
  const closeMs = performance.now() - t2;
  process.send({ result: { instances, bootMs, bootCpuMs, touchMs, closeMs } }, () => process.exit(0));
} catch (err) {
  process.send({ error: `boot-probe: ${err?.stack ?? err}` }, () => process.exit(1));
}
