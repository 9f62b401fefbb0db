import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { LoggerService } from '@nestjs/common';
// Types only: node-llama-cpp is an optional peer dependency, loaded on first use by `loadNodeLlamaCpp()`.
import type { Llama, LlamaModel } from 'node-llama-cpp';
import type { DriverContext } from '../../core/provider-definition.js';
import type { ProviderKind } from '../../core/provider-kind.js';

export type NodeLlamaCpp = typeof import('node-llama-cpp');

/** The message when the optional peer dependency is missing. */
export const NODE_LLAMA_CPP_MISSING =
  'install node-llama-cpp to use type llama-cpp (npm install node-llama-cpp); it is an optional peer dependency of @hush/providers';

let modulePromise: Promise<NodeLlamaCpp> | undefined;

/** Imports node-llama-cpp on first use, so that users of remote providers never load (or install) it. */
export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  modulePromise ??= import('node-llama-cpp').catch((err: unknown) => {
    modulePromise = undefined;
    const code = (err as { code?: unknown })?.code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((err as Error).message).includes('node-llama-cpp')) {
      throw new Error(NODE_LLAMA_CPP_MISSING, { cause: err });
    }
    throw new Error(`node-llama-cpp could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }) as Promise<NodeLlamaCpp>;
  return modulePromise;
}

/** What a driver holds while it uses a model: release it exactly once (in `close()`). */
export interface ModelLease {
  readonly mod: NodeLlamaCpp;
  readonly llama: Llama;
  readonly model: LlamaModel;
  /** The GGUF file, absolute. */
  readonly path: string;
  /** The file is one of our tiny random-weight models (`hush.tiny_random` in its metadata). */
  readonly tiny: boolean;
  release(): Promise<void>;
}

export interface AcquireModelOptions {
  /** A GGUF path (relative to `cwd`) or a URI node-llama-cpp resolves (`hf:…`, `https://…`). */
  model: string;
  gpu: boolean;
  logger: LoggerService;
  /** Who asks, for messages. */
  site: { kind: ProviderKind; name: string };
  cwd?: string;
  /** Where URIs are downloaded to; default `<cwd>/models`. */
  downloadDir?: string;
}

interface LlamaEntry {
  promise: Promise<Llama>;
}

interface ModelEntry {
  promise: Promise<{ model: LlamaModel; llama: Llama; path: string; tiny: boolean }>;
  leases: number;
  gpuKey: string;
}

// One Llama per GPU setting, one loaded model per (file, GPU setting), shared by every instance
// that names it; freed when the last lease is released.
const llamas = new Map<string, LlamaEntry>();
const models = new Map<string, ModelEntry>();
let tinyWarned = false;
// Loads and releases run one at a time, so a release never races a load of the same file.
let queue: Promise<unknown> = Promise.resolve();

function serially<T>(work: () => Promise<T>): Promise<T> {
  const run = queue.then(work, work);
  queue = run.catch(() => undefined);
  return run;
}

const URI = /^(hf|huggingface|https?):/i;

/** Loads (or shares) the model for a driver. Errors say what to do, in one sentence. */
export async function acquireModel(options: AcquireModelOptions): Promise<ModelLease> {
  const mod = await loadNodeLlamaCpp();
  const cwd = options.cwd ?? process.cwd();
  const gpuKey = options.gpu ? 'auto' : 'cpu';
  const path = URI.test(options.model) ? await resolveUri(mod, options, cwd) : resolve(cwd, options.model);
  if (!existsSync(path)) {
    throw new Error(
      `llama-cpp model file not found: ${path} (model: ${options.model}, relative to ${cwd}). ` +
        'Give the path of a GGUF file, or a URI such as hf:<user>/<repo>:<quant> when a network is there.',
    );
  }
  const key = `${gpuKey}\u0000${path}`;
  const loaded = await serially(async () => {
    let entry = models.get(key);
    if (!entry) {
      const created: ModelEntry = { promise: loadModel(mod, path, gpuKey, options.logger), leases: 0, gpuKey };
      entry = created;
      models.set(key, created);
      created.promise.catch(() => {
        if (models.get(key) === created) models.delete(key);
      });
    }
    entry.leases++;
    try {
      return await entry.promise;
    } catch (err) {
      entry.leases--;
      await releaseLlamaIfUnused(gpuKey);
      throw err;
    }
  });
  if (loaded.tiny) warnTiny(options, loaded.path, cwd);
  let released = false;
  return {
    mod,
    llama: loaded.llama,
    model: loaded.model,
    path: loaded.path,
    tiny: loaded.tiny,
    release: () => {
      if (released) return Promise.resolve();
      released = true;
      return serially(async () => {
        const entry = models.get(key);
        if (!entry) return;
        entry.leases--;
        if (entry.leases > 0) return;
        models.delete(key);
        await loaded.model.dispose();
        await releaseLlamaIfUnused(gpuKey);
      });
    },
  };
}

/** How many models are loaded now, and by how many drivers: for tests and health reports. */
export function loadedLlamaCppModels(): Array<{ path: string; gpu: boolean; leases: number }> {
  return [...models.entries()].map(([key, entry]) => ({ path: key.split('\u0000')[1]!, gpu: entry.gpuKey !== 'cpu', leases: entry.leases }));
}

async function loadModel(mod: NodeLlamaCpp, path: string, gpuKey: string, logger: LoggerService) {
  const llama = await acquireLlama(mod, gpuKey, logger);
  try {
    const model = await llama.loadModel({ modelPath: path, gpuLayers: gpuKey === 'cpu' ? 0 : 'auto' });
    const tiny = (model.fileInfo.metadata as { hush?: { tiny_random?: unknown } } | undefined)?.hush?.tiny_random === true;
    return { model, llama, path, tiny };
  } catch (err) {
    throw new Error(`node-llama-cpp could not load ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

async function acquireLlama(mod: NodeLlamaCpp, gpuKey: string, logger: LoggerService): Promise<Llama> {
  let entry = llamas.get(gpuKey);
  if (!entry) {
    const promise = mod.getLlama({
      // The prebuilt binaries come inside node-llama-cpp's npm packages: never compile, never download.
      gpu: gpuKey === 'cpu' ? false : 'auto',
      build: 'never',
      progressLogs: false,
      logLevel: mod.LlamaLogLevel.warn,
      logger: (level, message) => logLlama(mod, logger, level, message),
    });
    const created: LlamaEntry = { promise };
    entry = created;
    llamas.set(gpuKey, created);
    promise.catch(() => {
      if (llamas.get(gpuKey) === created) llamas.delete(gpuKey);
    });
  }
  try {
    return await entry.promise;
  } catch (err) {
    throw new Error(
      `node-llama-cpp found no usable prebuilt llama.cpp binary for ${process.platform}-${process.arch}${gpuKey === 'cpu' ? ' (CPU)' : ' (GPU)'}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

async function releaseLlamaIfUnused(gpuKey: string): Promise<void> {
  const entry = llamas.get(gpuKey);
  if (!entry || [...models.values()].some((m) => m.gpuKey === gpuKey)) return;
  llamas.delete(gpuKey);
  const llama = await entry.promise.catch(() => undefined);
  await llama?.dispose();
}

// llama.cpp talks a lot; only its warnings and errors reach the logs, and the known noise of
// random-weight models is dropped. Its lines concern the shared runtime, not the instance that
// happened to start it, so they carry a context of their own (Nest's loggers take it as the last argument).
const LLAMA_LOG_CONTEXT = 'hush:llama-cpp';

function logLlama(mod: NodeLlamaCpp, logger: LoggerService, level: string, message: string): void {
  const text = message.trim();
  if (!text) return;
  if (level === mod.LlamaLogLevel.error || level === mod.LlamaLogLevel.fatal) logger.error(`llama.cpp: ${text}`, undefined, LLAMA_LOG_CONTEXT);
  else if (level === mod.LlamaLogLevel.warn) logger.warn?.(`llama.cpp: ${text}`, LLAMA_LOG_CONTEXT);
}

async function resolveUri(mod: NodeLlamaCpp, options: AcquireModelOptions, cwd: string): Promise<string> {
  const directory = options.downloadDir ?? resolve(cwd, 'models');
  try {
    return await mod.resolveModelFile(options.model, { directory, cli: false, verify: false });
  } catch (err) {
    throw new Error(
      `could not resolve the model URI ${options.model} into ${directory} (is there a network?): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function warnTiny(options: AcquireModelOptions, path: string, cwd: string): void {
  const shown = isAbsolute(path) && !relative(cwd, path).startsWith('..') ? relative(cwd, path) : path;
  if (tinyWarned) {
    options.logger.debug?.(`${options.site.kind} "${options.site.name}" also uses a tiny random-weight model: ${shown}.`);
    return;
  }
  tinyWarned = true;
  options.logger.warn?.(
    `${shown} is a tiny model with RANDOM weights (made offline for tests and demos, like every model marked hush.tiny_random): ` +
      'whatever it writes is noise, and its vectors and scores mean nothing. Put real GGUF models in its place ' +
      '(in the @hush/providers repository: npm run models:pull, with a network) for real answers.',
  );
}

/** The part of a llama-cpp config the shared runtime needs. */
export interface LlamaCppCommonConfig {
  model: string;
  contextSize?: number;
  threads?: number;
  sequences?: number;
  gpu?: boolean;
}

/** Loads (or shares) the instance's model. */
export function leaseModel(config: LlamaCppCommonConfig, context: DriverContext): Promise<ModelLease> {
  return acquireModel({ model: config.model, gpu: config.gpu ?? false, logger: context.logger, site: context });
}

/** node-llama-cpp's context size for this instance: the configured one, else the model's own up to `cap`. */
export function contextSizeOf(config: LlamaCppCommonConfig, lease: ModelLease, cap: number): number {
  return config.contextSize ?? Math.min(lease.model.trainContextSize || cap, cap);
}

/**
 * `threads: 0` means "let node-llama-cpp decide" (every core); no `threads` means the same, except for
 * the tiny random models: on those, syncing threads takes far longer than the math (20 tokens take
 * 30 ms on one thread, 800 ms on two).
 */
export function threadsOf(config: LlamaCppCommonConfig, lease: ModelLease): number | undefined {
  if (config.threads === undefined) return lease.tiny ? 1 : undefined;
  return config.threads > 0 ? config.threads : undefined;
}
