#!/usr/bin/env node
// @ts-check
/**
 * The npm hooks around local inference:
 *
 *   prestart  node scripts/prepare-local-models.mjs start
 *             makes the tiny random models in models/ where no model is (offline, seconds; real models
 *             pulled there are never touched).
 *   pretest   node scripts/prepare-local-models.mjs test
 *             the same, then builds llama-server into ~/.cache/hush-providers when it is not built
 *             yet (about 5 minutes on 2 cores, once; later runs reuse it) for test/llama-server.spec.ts.
 *             HUSH_SKIP_LLAMA_SERVER=1 skips the build (and that suite).
 *
 * Never fails the install or the start for want of node-llama-cpp: without it there is nothing to prepare.
 */
import { makeTinyModels } from './make-tiny-models.mjs';

const mode = process.argv[2] ?? 'start';
const say = (line) => console.log(`[local-models] ${line}`);

async function main() {
  try {
    makeTinyModels({ log: say });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/node-llama-cpp is not installed/.test(message)) {
      say(`skipped: ${message}`);
      return;
    }
    throw err;
  }
  if (mode !== 'test' || process.env.HUSH_SKIP_LLAMA_SERVER === '1') return;
  const { buildLlamaServer, findLlamaServer, missingBuildTools } = await import('./llama-server.mjs');
  if (findLlamaServer()) return;
  const missing = missingBuildTools();
  if (missing.length > 0) {
    say(
      `cannot build llama-server for test/llama-server.spec.ts: ${missing.join(', ')} missing (apt-get install -y cmake g++ make git), or set HUSH_SKIP_LLAMA_SERVER=1 to skip that suite.`,
    );
    return;
  }
  say('llama-server is not built yet: building it once for the integration tests (about 5 minutes on 2 cores; cached in ~/.cache/hush-providers).');
  await buildLlamaServer({ log: say });
}

main().catch((err) => {
  console.error(`[local-models] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
