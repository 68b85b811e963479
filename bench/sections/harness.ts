/**
 * Shared machinery of the service benchmarks: `spapi-auth serve` as a child process (the build in
 * `dist/` when it is newer than every source file, as after `npm run bench`, else the sources
 * through tsx: either way the code in the tree), API keys and sellers put
 * in the store, an emulator-side LWA call counter, autocannon in a child process, and the
 * `https.Agent` that sends the popular clients' `https://api.amazon.com` and
 * `https://sellingpartnerapi-*.amazon.com` requests to the emulator over plain TCP on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildConsentUrl,
  createState,
  exchangeAuthorizationCode,
  parseCallback,
} from '../../src/core/index.js';
import { DEV_APPLICATION, DEV_CLIENT_SECRET, type RunningEmulator } from '../../src/emulator/index.js';
import { generateApiKey } from '../../src/server/tokens/api-keys.js';
import { generateKey } from '../../src/storage/crypto.js';
import type { Store } from '../../src/storage/store.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REDIRECT = 'http://localhost:3000/oauth/callback';
export const CREDS = { clientId: DEV_APPLICATION.clientId, clientSecret: DEV_CLIENT_SECRET };
export const PG_URL = process.env['SPAPI_AUTH_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh key ring value (`kid:<base64>`) for one benchmark's store and service. */
export const newKeyRing = (): string => `bench:${generateKey()}`;

/** Runs consent (auto mode) and the code exchange for a seller; returns its refresh token. */
export async function authorize(emu: RunningEmulator, sellingPartnerId: string): Promise<string> {
  await emu.emulator.control.consentMode('auto', sellingPartnerId);
  const url = buildConsentUrl({
    marketplace: 'US',
    applicationId: DEV_APPLICATION.id,
    state: createState(),
    redirectUri: REDIRECT,
    amazonUrl: emu.url,
  });
  const res = await emu.emulator.fetch(url, { redirect: 'manual' });
  const cb = parseCallback(res.headers.get('location') ?? '');
  if (!cb.ok) throw new Error(`consent failed: ${cb.error.code}`);
  const t = await exchangeAuthorizationCode(
    CREDS,
    { code: cb.spapiOauthCode, redirectUri: REDIRECT },
    { fetch: emu.emulator.fetch, amazonUrl: emu.url },
  );
  return t.refreshToken;
}

/** Token-endpoint calls with `grant_type=refresh_token`, by outcome, summed (faults included). */
export async function refreshCalls(emu: RunningEmulator): Promise<number> {
  const byOutcome = (await emu.emulator.control.stats()).token['refresh_token'] ?? {};
  return Object.values(byOutcome).reduce((a, b) => a + b, 0);
}

/** Creates an API key with every scope in the store; returns the bearer secret. */
export async function createKey(store: Store): Promise<string> {
  const k = generateApiKey();
  await store.createApiKey({
    id: k.id,
    name: 'bench',
    hash: k.hash,
    scopes: ['tokens:read', 'sellers:read', 'sellers:write', 'connect'],
  });
  return k.key;
}

/** A running `spapi-auth serve` child process. */
export interface ServeProcess {
  readonly url: string;
  readonly pid: number;
  /** Spawn → "listening" line, milliseconds. */
  readonly startMs: number;
  /** Resident set size now (bytes), from /proc. */
  rss(): number;
  /** SIGTERM, then wait for exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** The environment `serve` needs, for the dev application on the given emulator and store. */
export function serveEnv(opts: {
  amazonUrl: string;
  databaseUrl: string;
  keyRing: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '/tmp',
    LWA_CLIENT_ID: CREDS.clientId,
    LWA_CLIENT_SECRET: CREDS.clientSecret,
    SPAPI_APPLICATION_ID: DEV_APPLICATION.id,
    SPAPI_AUTH_PUBLIC_URL: 'http://localhost:3000',
    SPAPI_AUTH_AMAZON_URL: opts.amazonUrl,
    DATABASE_URL: opts.databaseUrl,
    SPAPI_AUTH_ENCRYPTION_KEYS: opts.keyRing,
    // Off unless a section turns it on (refresh.ts): the others count the LWA calls callers cause.
    SPAPI_AUTH_REFRESH_RATE_LIMIT: '0',
    PORT: '0',
    ...opts.extra,
  };
}

/** The newest modification time of any file under `dir` (ms). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

let runtime: { readonly args: readonly string[]; readonly label: string } | undefined;

/**
 * How `spapi-auth serve` is started: `dist/cli/main.js` when the build exists and is newer than
 * every file in `src/` (start time then excludes compiling TypeScript), else `src/cli/main.ts`
 * through tsx, so a stale build is never measured. `label` says which, for the reports.
 */
export function serveRuntime(): { readonly args: readonly string[]; readonly label: string } {
  if (runtime !== undefined) return runtime;
  const built = join(ROOT, 'dist/cli/main.js');
  const fresh = existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(ROOT, 'src'));
  runtime = fresh
    ? { args: [built], label: 'the build in `dist/`' }
    : { args: ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')], label: 'the sources through tsx' };
  return runtime;
}

/**
 * Starts `spapi-auth serve` ({@link serveRuntime}) and waits for its "listening on" line.
 * Its stdout (JSON logs) is drained and dropped; stderr is kept for the error message.
 */
export function startServe(
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  prefix: readonly string[] = [],
): Promise<ServeProcess> {
  const t0 = performance.now();
  const cmd = [...prefix, process.execPath, ...nodeArgs, ...serveRuntime().args, 'serve'];
  const child: ChildProcess = spawn(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    let found = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start in 30 s: ${stderr}`));
    }, 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (found) return;
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m === null) return;
      found = true;
      clearTimeout(timer);
      const startMs = performance.now() - t0;
      resolve({
        url: m[1]!,
        pid: child.pid!,
        startMs,
        rss: () => {
          const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          return line ? Number(line[1]) * 1024 : NaN;
        },
        stop: async () => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          const k = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(k);
        },
      });
    });
    child.once('exit', (code) => {
      if (!found) {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code}: ${stderr}`));
      }
    });
  });
}

/** What autocannon reports, reduced. */
export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly total: number;
}

/**
 * Runs autocannon in a child process (so it has its own core) against `url` for `seconds` with
 * `connections` keep-alive connections, one request in flight per connection; `prefix` e.g. pins it
 * to a CPU.
 */
export function autocannon(
  url: string,
  opts: {
    connections: number;
    seconds: number;
    headers?: Record<string, string>;
    prefix?: readonly string[];
  },
): Promise<LoadResult> {
  const args = [
    ...(opts.prefix ?? []),
    process.execPath,
    join(ROOT, 'node_modules/autocannon/autocannon.js'),
    '--json',
    '-c',
    String(opts.connections),
    '-d',
    String(opts.seconds),
  ];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.once('exit', (code) => {
      try {
        const r = JSON.parse(out) as {
          requests: { average: number; total: number };
          latency: { p50: number; p99: number };
          non2xx: number;
          errors: number;
        };
        resolve({
          requestsPerSecond: r.requests.average,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          non2xx: r.non2xx,
          errors: r.errors,
          total: r.requests.total,
        });
      } catch {
        reject(new Error(`autocannon exited with ${code}: ${err}`));
      }
    });
  });
}

/**
 * An `https.Agent` whose connections are plain TCP sockets to the emulator: the popular clients
 * keep their own `https://…amazon.com` URLs and Node's `https` stack, only the socket is swapped.
 * `target.port` can be changed between runs; `connections` counts sockets opened.
 */
export class EmulatorAgent extends https.Agent {
  port = 0;
  connections = 0;
  constructor() {
    super({ keepAlive: true });
  }
  override createConnection(): Socket {
    this.connections++;
    return connect(this.port, '127.0.0.1');
  }
}

/** Installs an {@link EmulatorAgent} as Node's global https agent (used by axios and superagent). */
export function installEmulatorAgent(): EmulatorAgent {
  const agent = new EmulatorAgent();
  (https as { globalAgent: https.Agent }).globalAgent = agent;
  return agent;
}

/** CPU time (user + system) a process has used so far, in milliseconds, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at index 2 = state.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
}
/** USER_HZ: 100 on Linux everywhere that matters. */
const CLOCK_TICKS = 100;

/** p-quantile (0…1) of numbers, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The machine's 1-minute load average (`/proc/loadavg`) as text, or `unknown` off Linux: method
 * notes give it so a reader can tell a quiet run from one made beside other work.
 *
 * @example
 * const load = loadAverage(); // '4.04'
 */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A running attacker process (`bench/sections/attacker.ts`). */
export interface Attacker<R> {
  readonly pid: number;
  /** SIGTERM; resolves with what the attacker reports. */
  stop(): Promise<R>;
}

/**
 * Starts `bench/sections/attacker.ts` in a process of its own with `options` (see there);
 * `prefix` e.g. pins it to a CPU.
 */
export function startAttacker<R>(options: object, prefix: readonly string[] = []): Attacker<R> {
  const cmd = [
    ...prefix,
    process.execPath,
    '--import',
    'tsx',
    join(ROOT, 'bench/sections/attacker.ts'),
    JSON.stringify(options),
  ];
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      try {
        return JSON.parse(out) as R;
      } catch {
        throw new Error(`attacker exited with ${code}: ${err}`);
      }
    },
  };
}

/** Samples `read()` every `everyMs` until stopped; `peak()` is the largest value seen. */
export function sampler(read: () => number, everyMs = 500): { peak(): number; stop(): number } {
  let peak = read();
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, read());
    } catch {
      // The process may be gone.
    }
  }, everyMs);
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}
