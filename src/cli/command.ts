import type { ParseArgsConfig } from 'node:util';

/** Thrown for bad command-line usage: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Thrown for an expected failure: the CLI prints the one-line message and exits 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** What a command can use besides its arguments; injected so tests can run commands in-process. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** One `spapi-auth <name>` command. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text (usage line, then the options). */
  readonly help: string;
  readonly options: Options;
  /** Whether the command takes positional arguments (subcommands, ids, files). */
  readonly positionals?: boolean;
  /** Resolves to the exit code; long-running commands (serve, dev, emulator) resolve on shutdown. */
  run(args: { values: Record<string, unknown>; positionals: string[] }, ctx: CliContext): Promise<number>;
}
