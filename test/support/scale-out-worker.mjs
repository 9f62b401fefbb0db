// One replica for the multi-process tests: boots ProvidersModule.forRoot from the compiled library
// (HUSH_TEST_LIB, made by test/support/scale-out.ts) with the inline config in HUSH_TEST_CONFIG, waits
// for "go" on IPC, runs the job in HUSH_TEST_JOB, reports every call's outcome, and exits.
//
//   { "chat": "<instance>", "calls": 30 }      that many chat calls at once
//   { "embed": "<instance>", "texts": [...] }  one embed call
import { pathToFileURL } from 'node:url';

const lib = process.env.HUSH_TEST_LIB;
const config = JSON.parse(process.env.HUSH_TEST_CONFIG ?? '{}');
const job = JSON.parse(process.env.HUSH_TEST_JOB ?? '{}');
// Never outlive the test that started it.
setTimeout(() => process.exit(3), 60_000).unref();
process.on('disconnect', () => process.exit(4));

const { ProvidersModule, ProvidersRegistry } = await import(pathToFileURL(`${lib}/index.js`).href);
const { NestFactory } = await import('@nestjs/core');
const { Module } = await import('@nestjs/common');
class ReplicaModule {}
Module({ imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config })] })(ReplicaModule);
const app = await NestFactory.createApplicationContext(ReplicaModule, { logger: ['error', 'warn'] });
const registry = app.get(ProvidersRegistry);

const outcome = (promise) =>
  promise.then(
    () => ({ ok: true }),
    (err) => ({ ok: false, code: err?.code ?? err?.name ?? 'error', message: String(err?.message ?? err) }),
  );

process.send({ ready: true });
await new Promise((resolve) => process.once('message', resolve));
let results;
if (job.chat) {
  const llm = registry.llm(job.chat);
  results = await Promise.all(Array.from({ length: job.calls }, (_, i) => outcome(llm.generate([{ role: 'user', content: `call ${i}` }]))));
} else if (job.embed) {
  results = [await outcome(registry.embedder(job.embed).embed(job.texts))];
}
process.send({ results });
await app.close();
process.exit(0);
