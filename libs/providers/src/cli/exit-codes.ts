/** The CLI's exit codes; scripts and CI branch on them. */
export const EXIT = {
  ok: 0,
  /** The config is invalid: the same error the application would throw at bootstrap. */
  invalid: 1,
  /** `check --ping`: at least one instance did not answer. */
  unreachable: 2,
  /** Bad arguments (sysexits' EX_USAGE), so that they never read as "invalid config". */
  usage: 64,
  /** A failure of the CLI itself (sysexits' EX_SOFTWARE). */
  internal: 70,
} as const;

/** A problem with what was passed on the command line, reported as `error: <message>`. */
export class UsageError extends Error {}
