import { publishError } from './diagnostics.js';

/** One problem found in the providers config. */
export interface ConfigIssue {
  /** The file the problem is in (as given, relative paths kept), or 'inline config'. */
  file?: string;
  line?: number;
  column?: number;
  /** Key path, e.g. `llm.chat.apiKey` or `llm.chat.fallbacks[0]`. */
  path?: string;
  message: string;
  /** What to do about it. */
  hint?: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file ? (issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file) : undefined;
  const head = [where, issue.path].filter(Boolean).join(' ');
  return `${head ? `${head}: ` : ''}${issue.message}${issue.hint ? ` ${issue.hint}` : ''}`;
}

/**
 * Every problem of the config, found at bootstrap and reported at once. `issues` holds them for
 * programs; the message lists them for people.
 */
export class ProvidersConfigError extends Error {
  override readonly name = 'ProvidersConfigError';

  constructor(readonly issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(`Invalid providers config (${count}):\n${issues.map((i, n) => `  ${n + 1}. ${formatIssue(i)}`).join('\n')}`);
    publishError(this);
  }
}
