import { prepareConfig } from '../module/prepare-config.js';
import { moduleOptions, type SourceFlags } from './config-source.js';
import { EXIT } from './exit-codes.js';
import { formatRows, instanceRows } from './instance-rows.js';

export interface CheckFlags extends SourceFlags {
  ping?: boolean;
}

/** Validates exactly as the module's bootstrap does; with `ping`, also reaches every instance. */
export async function check(flags: CheckFlags): Promise<number> {
  const options = await moduleOptions(flags);
  const { resolved, error } = prepareConfig(options);
  if (error) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.invalid;
  }
  const rows = instanceRows(resolved);
  if (!flags.ping) {
    process.stdout.write(
      rows.length > 0
        ? formatRows(rows)
            .map((line) => `${line}\n`)
            .join('')
        : 'No instances are configured.\n',
    );
    return EXIT.ok;
  }
  const { pingAll } = await import('./ping.js');
  return pingAll(options, rows);
}
