#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, UsageError } from './exit-codes.js';

// Only the argument parser is loaded up front; each command imports what it needs when it runs.

const collect = (value: string, previous: string[] = []) => [...previous, value];

const configOption = () =>
  new Option(
    '-c, --config <file>',
    'the providers YAML (default: $PROVIDERS_CONFIG, else config/providers.yaml); its <name>.<env>.yaml overlay is read over it',
  );
const envOption = () => new Option('-e, --env <name>', 'the environment whose overlay is read (default: $NODE_ENV, else development)');
const providersOption = () =>
  new Option(
    '-p, --providers <module>',
    'a module exporting provider definitions (an array, or named defineLLMProvider()... exports), from the working directory; repeatable',
  ).argParser(collect);

function buildProgram(): Command {
  const program = new Command('hush-providers')
    .description('Checks, prints and describes the @hush/providers config.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText('after', '\nExit codes: 0 valid (and reachable), 1 invalid config, 2 an instance unreachable (check --ping), 64 bad arguments.');

  program
    .command('check')
    .description('Validates the config as the application does at bootstrap; lists every instance (kind, name, type, model).')
    .addOption(configOption())
    .addOption(envOption())
    .option('--ping', "also checks that each instance's service answers, with its free check (never a billed call)")
    .addOption(providersOption())
    .action(async (flags) => {
      const { check } = await import('./check.js');
      process.exitCode = await check(flags);
    });

  program
    .command('print')
    .description('Prints the resolved config as YAML: overlays merged, ${VAR}s filled in, every secret as ***.')
    .addOption(configOption())
    .addOption(envOption())
    .addOption(providersOption())
    .action(async (flags) => {
      const { print } = await import('./print.js');
      process.exitCode = await print(flags);
    });

  program
    .command('schema')
    .description("Prints the config's JSON Schema (draft 2020-12), for editors and CI.")
    .option('-o, --out <file>', 'write it to this file instead of stdout')
    .addOption(providersOption())
    .action(async (flags) => {
      const { schema } = await import('./schema.js');
      process.exitCode = await schema(flags);
    });

  return program;
}

function packageVersion(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two folders below the package's root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its message for the rest.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

// Instances may hold sockets and timers after a command: the exit code is the command's, at once.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT.internal);
  },
);
