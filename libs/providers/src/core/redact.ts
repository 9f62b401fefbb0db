export const REDACTED = '***';

/**
 * Replaces every occurrence of the given secrets in `text` with `***`, and the key fragments that
 * services echo back ("Incorrect API key provided: sk-ab***cd").
 */
export function redactSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    // Very short values would redact ordinary words; no real key is that short.
    if (secret && secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out
    .replace(/(api[ _-]?key provided:\s*)\S+/gi, `$1${REDACTED}`)
    .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, `$1${REDACTED}`)
    .replace(/\bsk-[A-Za-z0-9_*-]{6,}/g, REDACTED);
}
