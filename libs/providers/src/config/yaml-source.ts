import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Alias, Node } from 'yaml';

// Loaded with the first file read, not at import: most apps read one YAML file, once, at boot.
const requireHere = createRequire(import.meta.url);
let yamlLibrary: typeof import('yaml') | undefined;
import type { ConfigIssue } from '../core/config-error.js';
import { interpolate } from './interpolate.js';
import { formatPath, pathKey, type KeyPath } from './key-path.js';

export interface SourcePosition {
  line: number;
  column: number;
}

/** A config layer: its plain value, and where each key path of it was written. */
export interface ConfigLayer {
  /** File name as shown in errors, or 'inline config'. */
  origin: string;
  value: unknown;
  positions: Map<string, SourcePosition>;
}

/**
 * How many values aliases may add to one file. Ordinary use (an entry or a map of params reused a
 * few dozen times) stays far below; nested aliases multiply (nine of nine of nine... is 9^9).
 */
const MAX_ALIASED_VALUES = 10_000;

/** Ends the walk of a file whose aliases expand past MAX_ALIASED_VALUES. */
class AliasBudgetExceeded extends Error {
  constructor(readonly alias: Alias, readonly path: KeyPath) {
    super('alias budget exceeded');
  }
}

/**
 * Reads one YAML file into a layer: parses with positions, interpolates `${VAR}` in string values
 * and records the line and column of every key. YAML errors and unset variables become issues.
 */
export function readYamlLayer(
  file: string,
  displayName: string,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
): ConfigLayer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    issues.push({
      file: displayName,
      message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
      hint: 'Check the path (relative paths start at the working directory) and its permissions.',
    });
    return undefined;
  }
  yamlLibrary ??= requireHere('yaml') as typeof import('yaml');
  const { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } = yamlLibrary;
  const lineCounter = new LineCounter();
  // Duplicate keys are reported by the walk below, which knows their key path.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const { line, column } = at(error.pos[0]);
      issues.push({
        file: displayName,
        line,
        column,
        message: `is not valid YAML: ${firstLine(error.message)}.`,
        hint: hintFor(text.split(/\r?\n/)[line - 1] ?? ''),
      });
    }
    return undefined;
  }
  // Each alias resolves as yaml does (the last anchor of its name before it), found in one pass
  // rather than by a scan of the document per alias.
  const targets = new Map<Alias, Node | undefined>();
  const anchors = new Map<string, Node>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) targets.set(node, anchors.get(node.source));
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  const positions = new Map<string, SourcePosition>();
  const reported = new Set<unknown>();
  const collections = new Set<Node>(); // the maps and lists being walked, to catch an alias inside its own value
  let aliasedValues = 0;
  /** `via`: the outermost alias being expanded, as written in the file, and its key path. */
  const toValue = (node: Node | null | undefined, path: KeyPath, depth: number, via?: { alias: Alias; path: KeyPath }): unknown => {
    if (node == null) return null;
    if (depth > 64) return null; // no real config nests this deep
    if (via && ++aliasedValues > MAX_ALIASED_VALUES) throw new AliasBudgetExceeded(via.alias, via.path);
    if (isAlias(node)) {
      const target = targets.get(node);
      const pos = node.range ? at(node.range[0]) : undefined;
      if (target === undefined) {
        issues.push({ file: displayName, ...pos, path: formatPath(path), message: `the alias *${node.source} refers to no anchor.`, hint: `Define &${node.source} before it, or write the value itself.` });
        return null;
      }
      if (collections.has(target)) {
        if (!reported.has(node)) {
          reported.add(node);
          issues.push({ file: displayName, ...pos, path: formatPath(path), message: `the alias *${node.source} is inside the value it refers to.`, hint: 'A value cannot contain itself; write out what it should hold.' });
        }
        return null;
      }
      return toValue(target, path, depth + 1, via ?? { alias: node, path });
    }
    if (isMap(node)) {
      collections.add(node);
      const out: Record<string, unknown> = {};
      const first = new Map<string, SourcePosition | undefined>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const childPath = [...path, key];
        const range = (keyNode as Node | null)?.range ?? (pair.value as Node | null)?.range;
        const pos = range ? at(range[0]) : undefined;
        if (first.has(key)) {
          // The first one counts; the second is reported where it is written.
          if (!reported.has(pair)) {
            reported.add(pair);
            const firstOn = first.get(key)?.line;
            issues.push({
              file: displayName,
              ...pos,
              path: formatPath(childPath),
              message: `is written twice${firstOn !== undefined ? `; the first is on line ${firstOn}` : ''}.`,
              hint: duplicateHint(childPath),
            });
          }
          continue;
        }
        first.set(key, pos);
        if (pos) positions.set(pathKey(childPath), pos);
        out[key] = toValue(pair.value as Node | null, childPath, depth + 1, via);
      }
      collections.delete(node);
      return out;
    }
    if (isSeq(node)) {
      collections.add(node);
      const out = node.items.map((item, index) => {
        const childPath = [...path, index];
        const range = (item as Node | null)?.range;
        if (range) positions.set(pathKey(childPath), at(range[0]));
        return toValue(item as Node | null, childPath, depth + 1, via);
      });
      collections.delete(node);
      return out;
    }
    if (isScalar(node)) {
      if (typeof node.value !== 'string') return node.value;
      const { value, problems } = interpolate(node.value, env);
      for (const problem of problems) {
        const pos = node.range ? at(node.range[0]) : undefined;
        issues.push({
          file: displayName,
          ...pos,
          path: formatPath(path),
          message: problem.message,
          hint: problem.hint,
        });
      }
      return value;
    }
    return null;
  };
  let value: unknown;
  try {
    value = toValue(doc.contents as Node | null, [], 0);
  } catch (err) {
    if (!(err instanceof AliasBudgetExceeded)) throw err;
    issues.push({
      file: displayName,
      ...(err.alias.range ? at(err.alias.range[0]) : undefined),
      path: formatPath(err.path) || undefined,
      message: `expanding the alias *${err.alias.source} takes this file past ${MAX_ALIASED_VALUES} values.`,
      hint: 'Aliases inside anchored values multiply; write the values out, or use fewer aliases.',
    });
    return undefined;
  }
  // An empty file is an empty config, not an error.
  return { origin: displayName, value: value ?? {}, positions };
}

function duplicateHint(path: KeyPath): string {
  if (path.length === 1) return 'Write each section once; move the entries of one into the other.';
  if (path.length === 2 && path[0] !== 'defaults') return 'Each name may appear once per section; rename or remove one.';
  return 'Each key may appear once in a map; remove one.';
}

function hintFor(sourceLine: string): string | undefined {
  // `{ apiKey: ${KEY} }`: in a flow map, a bare `{` opens another map.
  if (sourceLine.includes('${') && /[{[]/.test(sourceLine.replace(/\$\{[^}]*\}/g, ''))) {
    return 'Inside { } or [ ], quote a value that holds ${VAR}: "${VAR}".';
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}
