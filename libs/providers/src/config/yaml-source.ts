import { readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './config-error.js';
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
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
        hint: hintFor(error.code, text.split(/\r?\n/)[line - 1] ?? ''),
      });
    }
    return undefined;
  }
  const positions = new Map<string, SourcePosition>();
  const toValue = (node: Node | null | undefined, path: KeyPath, depth: number): unknown => {
    if (node == null) return null;
    if (depth > 64) return null; // guards alias loops; no real config nests this deep
    if (isAlias(node)) {
      const target = node.resolve(doc as Document) as Node | undefined;
      if (target === undefined) {
        const pos = node.range ? at(node.range[0]) : undefined;
        issues.push({ file: displayName, ...pos, path: formatPath(path), message: `the alias *${node.source} refers to no anchor.`, hint: `Define &${node.source} before it, or write the value itself.` });
        return null;
      }
      return toValue(target, path, depth + 1);
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const childPath = [...path, key];
        const range = (keyNode as Node | null)?.range ?? (pair.value as Node | null)?.range;
        if (range) positions.set(pathKey(childPath), at(range[0]));
        out[key] = toValue(pair.value as Node | null, childPath, depth + 1);
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, index) => {
        const childPath = [...path, index];
        const range = (item as Node | null)?.range;
        if (range) positions.set(pathKey(childPath), at(range[0]));
        return toValue(item as Node | null, childPath, depth + 1);
      });
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
  // An empty file is an empty config, not an error.
  return { origin: displayName, value: toValue(doc.contents as Node | null, [], 0) ?? {}, positions };
}

function hintFor(code: string, sourceLine: string): string | undefined {
  if (code === 'DUPLICATE_KEY') return 'Each name may appear once per section; rename or remove one.';
  // `{ apiKey: ${KEY} }`: in a flow map, a bare `{` opens another map.
  if (sourceLine.includes('${') && /[{[]/.test(sourceLine.replace(/\$\{[^}]*\}/g, ''))) {
    return 'Inside { } or [ ], quote a value that holds ${VAR}: "${VAR}".';
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}
