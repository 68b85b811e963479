// Runs the `spapi-auth` CLI as a child process, the way a user would. `npm test` builds first and
// sets nothing: the built `dist/cli/main.js` is used when present, else the TypeScript source via tsx
// (handy while developing a single test file).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const built = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const source = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** The argv prefix that starts the CLI. */
export function cliCommand(): string[] {
  return existsSync(built) && process.env.SPAPI_AUTH_TEST_CLI !== 'src'
    ? [process.execPath, built]
    : [process.execPath, '--import', 'tsx', source];
}

/** `setpriv` as the `nobody` user and group, with no supplementary groups. */
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/**
 * Whether the CLI can be run as `nobody` here (root, with `setpriv`); else why not, for a visible skip.
 *
 * @example
 * const why = cannotRunAsNobody(); it('…', { skip: why }, …)
 */
export function cannotRunAsNobody(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to switch to the nobody user';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'needs setpriv (util-linux)';
  return undefined;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion with the given environment (merged over a minimal one) and optional stdin. */
export function runCli(
  args: string[],
  opts: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    input?: string;
    timeoutMs?: number;
    /** Run as this unprivileged user (through `setpriv`; see {@link canRunAsNobody}). */
    asNobody?: boolean;
  } = {},
): Promise<CliResult> {
  const [cmd, ...prefix] = [...(opts.asNobody ? NOBODY : []), ...cliCommand()];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...prefix, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
