import type { INestApplicationContext } from '@nestjs/common';
import { ProvidersConfigError } from '../core/config-error.js';
import type { PingResult, ProviderInstance } from '../core/provider-instance.js';
import type { ProvidersModuleOptions } from '../module/providers-options.js';
import type { ProvidersRegistry } from '../registry/providers-registry.js';
import { formatRows, type InstanceRow } from './instance-rows.js';
import { EXIT } from './exit-codes.js';

type Outcome = { state: 'pending' } | { state: 'up'; result: PingResult } | { state: 'unchecked' } | { state: 'down'; message: string };

/**
 * Builds the instances as the application does (ProvidersModule.forRoot in a Nest context), then
 * pings them all at once. A TTY gets one line per instance, redrawn in place; anything else gets
 * each line once, in config order, when it is known.
 */
export async function pingAll(options: ProvidersModuleOptions, rows: readonly InstanceRow[]): Promise<number> {
  const [{ NestFactory }, { ProvidersModule }, { ProvidersRegistry }] = await Promise.all([
    import('@nestjs/core'),
    import('../module/providers.module.js'),
    import('../registry/providers-registry.js'),
  ]);
  let app: INestApplicationContext;
  try {
    app = await NestFactory.createApplicationContext(ProvidersModule.forRoot({ ...options, isGlobal: false }), { logger: false, abortOnError: false });
  } catch (err) {
    if (!(err instanceof ProvidersConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT.invalid;
  }
  try {
    const registry = app.get(ProvidersRegistry);
    const outcomes: Outcome[] = rows.map(() => ({ state: 'pending' }));
    const pings = rows.map((row, i) => pingOne(registry, row).then((outcome) => void (outcomes[i] = outcome)));
    const stdout = process.stdout;
    if (stdout.isTTY) await live(stdout, rows, outcomes, Promise.all(pings));
    else {
      const lines = formatRows(rows, true);
      for (const [i, done] of pings.entries()) {
        await done;
        stdout.write(`${lines[i]}  ${describe(outcomes[i]!)}\n`);
      }
    }
    return report(rows, outcomes);
  } finally {
    await app.close();
  }
}

async function pingOne(registry: ProvidersRegistry, row: InstanceRow): Promise<Outcome> {
  const instance: ProviderInstance = registry.get(row.kind, row.name);
  if (typeof instance.ping !== 'function' || instance.pingable === false) return { state: 'unchecked' };
  try {
    const result = await instance.ping();
    return result ? { state: 'up', result } : { state: 'unchecked' };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { state: 'down', message: registry.redact(message.split('\n')[0]!) };
  }
}

function describe(outcome: Outcome): string {
  switch (outcome.state) {
    case 'pending':
      return 'checking…';
    case 'up': {
      const { reachable, deployments } = outcome.result;
      return reachable === deployments ? 'reachable' : `reachable (${reachable} of ${deployments} deployments)`;
    }
    case 'unchecked':
      return 'not checked (its type has no free check)';
    case 'down':
      return `unreachable: ${outcome.message}`;
  }
}

/** The counts on stdout; the names of the unreachable ones on stderr. */
function report(rows: readonly InstanceRow[], outcomes: readonly Outcome[]): number {
  const count = (state: Outcome['state']) => outcomes.filter((o) => o.state === state).length;
  const down = rows.filter((_, i) => outcomes[i]!.state === 'down').map((r) => `${r.kind}.${r.name}`);
  const parts = [
    `${count('up')} reachable`,
    ...(count('unchecked') ? [`${count('unchecked')} not checked`] : []),
    ...(down.length ? [`${down.length} unreachable`] : []),
  ];
  process.stdout.write(`${parts.join(', ')}.\n`);
  if (down.length === 0) return EXIT.ok;
  process.stderr.write(`Unreachable: ${down.join(', ')}\n`);
  return EXIT.unreachable;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

/**
 * Redraws the lines in place until `done` (cursor up over what was drawn, clear to the end of the
 * screen), then once more with the outcomes. Long lines wrap; the rows they take are counted.
 */
async function live(out: NodeJS.WriteStream, rows: readonly InstanceRow[], outcomes: readonly Outcome[], done: Promise<unknown>): Promise<void> {
  const color = !process.env.NO_COLOR;
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[39m` : text);
  const lines = formatRows(rows, true);
  let frame = 0;
  let drawnRows = 0;
  const draw = () => {
    const columns = out.columns || 80;
    const mark = (o: Outcome) =>
      o.state === 'pending'
        ? paint(36, SPINNER[frame % SPINNER.length]!)
        : o.state === 'up'
          ? paint(32, '✓')
          : o.state === 'down'
            ? paint(31, '✗')
            : paint(90, '–');
    const texts = lines.map((line, i) => `${line}  ${describe(outcomes[i]!)}`);
    let text = drawnRows > 0 ? `\x1b[${drawnRows}A\r\x1b[J` : '';
    texts.forEach((t, i) => (text += `${mark(outcomes[i]!)} ${t}\n`));
    out.write(text);
    drawnRows = texts.reduce((sum, t) => sum + Math.max(1, Math.ceil((t.length + 2) / columns)), 0);
    frame++;
  };
  const restoreCursor = () => out.write('\x1b[?25h');
  const interrupted = () => {
    restoreCursor();
    process.exit(130);
  };
  out.write('\x1b[?25l');
  process.once('SIGINT', interrupted);
  draw();
  const timer = setInterval(draw, FRAME_MS);
  try {
    await done;
  } finally {
    clearInterval(timer);
    draw();
    restoreCursor();
    process.off('SIGINT', interrupted);
  }
}
