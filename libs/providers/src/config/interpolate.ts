/** What interpolating one string found wrong: the variable, or the malformed expression. */
export interface InterpolationProblem {
  message: string;
  hint: string;
}

// `$${` is a literal `${`; `${NAME}` and `${NAME:-fallback}` read the environment.
const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const EXPRESSION = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces `${VAR}` and `${VAR:-fallback}` in `text`. The fallback applies when the variable is
 * unset or empty, as in POSIX shells. Problems are collected, never thrown, so that every one of
 * them reaches the user in one report.
 */
export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): { value: string; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const value = text.replace(TOKEN, (match, inner: string | undefined) => {
    if (match === '$${') return '${';
    if (inner === undefined) {
      problems.push({
        message: 'the value has an unclosed "${".',
        hint: 'Close it with "}", or write "$${" for a literal "${".',
      });
      return match;
    }
    const parsed = EXPRESSION.exec(inner);
    if (!parsed) {
      problems.push({
        message: `the value has a malformed variable reference "${match}".`,
        hint: 'Use ${NAME} or ${NAME:-fallback}, NAME made of letters, digits and "_"; write "$${" for a literal "${".',
      });
      return match;
    }
    const [, name, fallback] = parsed as unknown as [string, string, string | undefined];
    const set = env[name];
    if (set !== undefined && set !== '') return set;
    if (fallback !== undefined) return fallback;
    problems.push({
      message: `environment variable ${name} is ${set === '' ? 'empty' : 'not set'}.`,
      hint: `Set ${name}, or give a fallback: \${${name}:-value}.`,
    });
    return '';
  });
  return { value, problems };
}
