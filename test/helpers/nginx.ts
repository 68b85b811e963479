// Debian's nginx as a test proxy: the configuration files of docs/deployment.md (a fenced block
// whose first line names its path, or a heredoc a shell block writes it with), with the
// host-specific values swapped for the test's, under a throw-away prefix directory, in the
// foreground, stopped with SIGQUIT (graceful).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './cli.js';

/** Where Debian's package puts the binary. */
export const NGINX = '/usr/sbin/nginx';

/** Why the nginx tests cannot run here, or null. */
export function nginxMissing(): string | null {
  return existsSync(NGINX) ? null : `${NGINX} is missing (apt-get install -y nginx)`;
}

/**
 * The files a doc gives, by path: each fenced code block whose first line is `# <path>`, and each
 * file a shell block writes with `cat > <path> <<'EOF'` (up to its `EOF` line).
 *
 * @example
 * docFiles('docs/deployment.md').get('/etc/nginx/sites-available/spapi-auth');
 */
export function docFiles(doc: string): Map<string, string> {
  const text = readFileSync(join(repoRoot, doc), 'utf8');
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^```[a-z]*\n# (\/\S+)[^\n]*\n([\s\S]*?)^```$/gm)) out.set(m[1]!, m[2]!);
  for (const m of text.matchAll(/^cat > (\/\S+) <<'EOF'\n([\s\S]*?)^EOF$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/**
 * Replaces each `from` in `text` by its `to`, failing when one is missing (so a change of the doc
 * that the test no longer matches is noticed rather than silently kept as written).
 */
export function substitute(text: string, swaps: readonly (readonly [string | RegExp, string])[]): string {
  let out = text;
  for (const [from, to] of swaps) {
    const found = typeof from === 'string' ? out.includes(from) : from.test(out);
    if (!found) throw new Error(`the doc's text no longer contains ${String(from)}`);
    out = typeof from === 'string' ? out.split(from).join(to) : out.replace(from, to);
  }
  return out;
}

/** A running nginx. */
export interface RunningNginx {
  readonly child: ChildProcess;
  /** The error log so far. */
  errors(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx with `files` (path relative to the prefix → content) and a main configuration that
 * includes every `sites-enabled/*` file; resolves once `nginx -t` passed and the master runs.
 */
export async function startNginx(
  prefix: string,
  files: Readonly<Record<string, string>>,
): Promise<RunningNginx> {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(prefix, path)), { recursive: true });
    writeFileSync(join(prefix, path), content);
  }
  const temp = join(prefix, 'temp');
  mkdirSync(temp, { recursive: true });
  // Workers drop to `nobody` when the master is root: they need the temp directory and the prefix.
  chmodSync(prefix, 0o755);
  chmodSync(temp, 0o777);
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} info;
events { worker_connections 256; }
http {
  access_log ${join(prefix, 'access.log')};
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  include sites-enabled/*;
}
`,
  );
  const args = ['-p', `${prefix}/`, '-c', join(prefix, 'nginx.conf')];
  const check = spawn(NGINX, [...args, '-t'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let checkOut = '';
  check.stderr.setEncoding('utf8').on('data', (d: string) => (checkOut += d));
  const code = await new Promise<number | null>((resolve) => check.once('exit', resolve));
  if (code !== 0) throw new Error(`nginx -t failed: ${checkOut}`);
  const child = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = (): string => {
    try {
      return readFileSync(join(prefix, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  // Ready once the master wrote its pid file.
  for (let i = 0; i < 100 && !existsSync(join(prefix, 'nginx.pid')); i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${errorLog()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    errors: errorLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
