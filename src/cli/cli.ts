// The CLI as a function (tests call it in-process): parses the command line and dispatches to one command module.
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { CliError, UsageError, type CliContext, type Command } from './command.js';
import { commands } from './commands/index.js';

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
    ctx.stderr(`spapi-auth: unknown command '${name}' (see spapi-auth --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.stdout(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
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
      ctx.stderr(`spapi-auth ${name}: ${(err as Error).message} (see spapi-auth ${name} --help)\n`);
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
