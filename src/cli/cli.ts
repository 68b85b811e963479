// The CLI as a function (tests call it in-process): parses the command line and dispatches to one command module.
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { CliError, UsageError, type CliContext, type Command } from './command.js';
import { commands } from './commands/index.js';
import { editDistance } from '../common/edit-distance.js';
import { clip } from './runtime.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: spapi-auth <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `spapi-auth <command> --help` for a command’s options.',
    'Options: --help, --version',
  ].join('\n');
}

/** The closest of `names` to a mistyped `word`, if one is close enough to be what was meant. */
function closest(word: string, names: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = name.startsWith(word) && word.length >= 2 ? 1 : editDistance(word, name);
    if (best === undefined || d < best.d) best = { name, d };
  }
  return best !== undefined && best.d <= Math.max(1, Math.floor(best.name.length / 3))
    ? best.name
    : undefined;
}

/**
 * Refuses an option the command does not know, with the nearest known one, before `parseArgs`
 * (whose own message tells the user how to pass a positional starting with `-`).
 */
function checkOptions(args: readonly string[], command: Command): void {
  const long = Object.keys(command.options);
  const short = new Map(
    Object.entries(command.options).flatMap(([name, o]) => (o.short === undefined ? [] : [[o.short, name]])),
  );
  for (const arg of args) {
    if (arg === '--') return;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0]!;
      if (long.includes(name)) continue;
      const near = closest(name, long);
      throw new UsageError(
        `unknown option --${clip(name)}${near === undefined ? '' : ` (did you mean --${near}?)`}`,
      );
    }
    if (/^-[^-]/.test(arg)) {
      for (const c of arg.slice(1)) {
        if (!short.has(c)) throw new UsageError(`unknown option -${clip(c)}`);
      }
    }
  }
}

/** Node's parseArgs messages for the remaining mistakes, in the CLI's own words. */
function parseArgsMessage(err: Error & { code: string }): string {
  const option = /'(--?[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(err.message)
        ? `option ${option ?? ''} takes no value`
        : `option ${option ?? ''} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${clip(/'([^']*)'/.exec(err.message)?.[1] ?? '')}' (this command takes none)`;
    default:
      return err.message;
  }
}

export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout(overview() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    ctx.stdout(version() + '\n');
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    const near = closest(
      name,
      commands.map((c) => c.name),
    );
    ctx.stderr(
      `spapi-auth: unknown command '${clip(name)}'${near === undefined ? '' : ` (did you mean '${near}'?)`} (see spapi-auth --help)\n`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    checkOptions(rest, command);
    const parsed = parseArgs({
      args: rest,
      options: command.options,
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
    return await command.run({ values: parsed.values, positionals: parsed.positionals }, ctx);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      const message =
        err instanceof UsageError ? err.message : parseArgsMessage(err as Error & { code: string });
      ctx.stderr(`spapi-auth ${name}: ${message} (see spapi-auth ${name} --help)\n`);
      return 2;
    }
    if (err instanceof CliError) {
      ctx.stderr(`spapi-auth ${name}: ${err.message}\n`);
      return 1;
    }
    // An unexpected error: one line, never a stack with values in it.
    ctx.stderr(`spapi-auth ${name}: ${(err as Error).name ?? 'Error'}: ${(err as Error).message}\n`);
    return 1;
  }
}
