import { createHash } from 'node:crypto';
import type { EmbedOptions, Embedder, EmbeddingResult } from '../core/embedder.js';
import { ProviderError } from '../core/provider-error.js';
import { sleep, throwIfAborted } from '../core/abort.js';
import { estimateTokens } from './fake-llm.js';
import { FakeInstance, type FakeInstanceOptions } from './fake-instance.js';

export interface FakeEmbedderOptions extends FakeInstanceOptions {
  /** Default 'fake-embedding'. */
  model?: string;
  /** Vector length. Default: the length of the fixed `vectors` when given, else 8. */
  dimensions?: number;
  /** Fixed vectors by exact text; every other text gets a hashed vector. All must have `dimensions` entries. */
  vectors?: Record<string, number[]>;
}

/** One recorded call: the texts (a string input becomes one text) and the options without `signal`. */
export interface FakeEmbedderCall {
  input: string[];
  options: Omit<EmbedOptions, 'signal'>;
}

/**
 * A deterministic, network-free `Embedder` for tests. A text without a fixed vector gets a
 * unit-length vector derived from the SHA-256 of the text: the same text always gives the same
 * vector, different texts give different ones. A shorter `dimensions` on a call gives the
 * re-normalised prefix of the longer vector (like models trained for shortening).
 *
 * `embed([])` resolves with no vectors and records no call, as the real embedders make none.
 */
export class FakeEmbedder extends FakeInstance<FakeEmbedderCall> implements Embedder {
  readonly kind = 'embedding' as const;
  readonly model: string;
  readonly dimensions: number;
  private readonly fixed: ReadonlyMap<string, readonly number[]>;

  constructor(options: FakeEmbedderOptions = {}) {
    super('FakeEmbedder', options);
    this.model = options.model ?? 'fake-embedding';
    const fixed = Object.entries(options.vectors ?? {});
    this.dimensions = options.dimensions ?? fixed[0]?.[1].length ?? 8;
    if (!Number.isInteger(this.dimensions) || this.dimensions < 1) {
      throw new RangeError(`FakeEmbedder: dimensions must be a positive integer, got ${this.dimensions}`);
    }
    for (const [text, vector] of fixed) {
      if (vector.length !== this.dimensions) {
        throw new RangeError(`FakeEmbedder: the fixed vector for ${JSON.stringify(text)} has ${vector.length} dimensions, expected ${this.dimensions}`);
      }
    }
    this.fixed = new Map(fixed.map(([text, vector]) => [text, [...vector]]));
  }

  async embed(input: string | string[], options: EmbedOptions = {}): Promise<EmbeddingResult> {
    const texts = typeof input === 'string' ? [input] : [...input];
    const dimensions = options.dimensions ?? this.dimensions;
    if (texts.length === 0) {
      return { embeddings: [], model: this.model, dimensions, usage: { promptTokens: 0, totalTokens: 0 } };
    }
    const { signal, ...recorded } = options;
    this.calls.push({ input: texts, options: recorded });
    const failure = this.failures.shift();

    throwIfAborted(signal);
    if (this.delayMs > 0) await sleep(this.delayMs, signal);
    if (failure) throw failure;
    if (!Number.isInteger(dimensions) || dimensions < 1) {
      throw this.error(`dimensions must be a positive integer, got ${dimensions}`, 'bad-request');
    }

    const embeddings = texts.map((text) => {
      const vector = this.fixed.get(text);
      if (!vector) return hashedVector(text, dimensions);
      // Same rule as the real embedders: a vector of the wrong length is an error, never returned.
      if (vector.length !== dimensions) {
        throw this.error(`the fixed vector for ${JSON.stringify(text)} has ${vector.length} dimensions, but ${dimensions} are in force`, 'dimensions');
      }
      return [...vector];
    });
    const tokens = texts.reduce((sum, text) => sum + estimateTokens(text), 0);
    return { embeddings, model: this.model, dimensions, usage: { promptTokens: tokens, totalTokens: tokens } };
  }

  private error(message: string, code: string): ProviderError {
    return new ProviderError(`Embedder "${this.name}": ${message}`, {
      instance: this.name,
      type: this.type,
      kind: 'embedding',
      retryable: false,
      code,
    });
  }
}

/**
 * A unit vector from SHA-256 in counter mode: block `b` hashes `b` and the text, each 4 bytes
 * give one component in [-1, 1). Prefix-stable, so shortening keeps the direction's start.
 */
function hashedVector(text: string, dimensions: number): number[] {
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}\u0000${text}`).digest();
    for (let at = 0; at + 4 <= digest.length && raw.length < dimensions; at += 4) {
      raw.push(digest.readUInt32BE(at) / 0x80000000 - 1);
    }
  }
  const norm = Math.sqrt(raw.reduce((sum, x) => sum + x * x, 0));
  // All-zero is practically impossible, but a unit vector is promised.
  if (norm === 0) return raw.map((_, i) => (i === 0 ? 1 : 0));
  return raw.map((x) => x / norm);
}
