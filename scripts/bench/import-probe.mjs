// How long `import('@hush/providers')` takes in a fresh process (forked by scripts/bench.mjs, once
// per sample): first reflect-metadata, @nestjs/common and @nestjs/core (what any Nest app has
// loaded already), timed on their own, then the library, whose time is its own part.
// argv[2]: 'library' (the above) or 'openai' (the `openai` package alone, for context).
// No static imports: nothing is loaded before the clock starts but Node itself.
const mode = process.argv[2];
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const c0 = cpu();
const t0 = performance.now();
let nestMs = 0;
let nestCpuMs = 0;
let ownMs;
let ownCpuMs;
if (mode === 'library') {
  await import('reflect-metadata');
  await import('@nestjs/common');
  await import('@nestjs/core');
  const t1 = performance.now();
  const c1 = cpu();
  nestMs = t1 - t0;
  nestCpuMs = c1 - c0;
  const lib = await import('@hush/providers');
  ownMs = performance.now() - t1;
  ownCpuMs = cpu() - c1;
  if (typeof lib.ProvidersModule?.forRoot !== 'function') throw new Error('@hush/providers has no ProvidersModule.forRoot');
} else if (mode === 'openai') {
  const { default: OpenAI } = await import('openai');
  ownMs = performance.now() - t0;
  ownCpuMs = cpu() - c0;
  if (typeof OpenAI !== 'function') throw new Error('openai has no default export');
} else throw new Error(`import-probe: unknown mode ${mode}`);
// CPU time beside wall time: on a busy machine the wall time also counts waiting for a core.
process.send({ result: { mode, nestMs, ownMs, totalMs: nestMs + ownMs, nestCpuMs, ownCpuMs, processStartMs: t0 } }, () => process.exit(0));
