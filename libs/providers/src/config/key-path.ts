export type KeyPath = ReadonlyArray<string | number>;

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** `['llm', 'chat', 'fallbacks', 0]` → `llm.chat.fallbacks[0]`; odd keys are quoted: `llm["gpt-4.1"]`. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function pathKey(path: KeyPath): string {
  return JSON.stringify(path);
}
