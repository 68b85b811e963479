// Process-level harness shared by test/e2e and test/security: `spapi-auth serve` children with
// captured output, the emulator on a port, sellers seeded with real refresh tokens, a fresh
// PostgreSQL database per run, and a TCP proxy that can make the database "go away". The bench
// (bench/sections/catchup.ts) uses it too: node:test is loaded only by `postgresSuiteRuns`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { devApplication } from '../../src/emulator/dev-app.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication, EmulatorSeller } from '../../src/emulator/types.js';
import { generateApiKey, type Scope } from '../../src/server/tokens/api-keys.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import type { Store } from '../../src/storage/store.js';
import { cliCommand, repoRoot } from './cli.js';
import { consentCodeAtEmulator, exchangeAtEmulator } from './grants.js';

export const PG_URL = process.env.SPAPI_AUTH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A free loopback port (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Marker secrets for one run: distinct, greppable, never real. */
export function markerSecrets(label: string): {
  clientSecret: string;
  encryptionKeys: string;
  keyBytes: string;
} {
  const keyBytes = randomBytes(32).toString('base64');
  return {
    clientSecret: `CANARYsecret${label}${randomBytes(12).toString('hex')}`,
    encryptionKeys: `k1:${keyBytes}`,
    keyBytes,
  };
}

/** A running `spapi-auth serve` child. */
export interface ServeProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code/signal once the child is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `spapi-auth serve` with exactly `env` (plus PATH) on `env.PORT` and waits for its
 * "listening on" line.
 */
export async function startServe(env: Record<string, string>, timeoutMs = 20_000): Promise<ServeProcess> {
  const [cmd, ...prefix] = cliCommand();
  const child = spawn(cmd!, [...prefix, 'serve'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start: ${stderr.slice(0, 2000)}`));
    }, timeoutMs);
    const check = (): void => {
      const m = stdout.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}) before listening: ${stderr.slice(0, 2000)}`));
    });
  });
  // A process that dies on its own mid-test shows up only as "fetch failed" in the client: say
  // which one it was and why (serve logs no secret; the canary tests check that).
  let stopping = false;
  void exited.then(({ code, signal }) => {
    if (!stopping && signal !== 'SIGKILL' && signal !== 'SIGTERM') {
      console.error(
        `serve on ${url} exited on its own (${code ?? signal}); its stderr ends:\n${stderr.slice(-2000)}`,
      );
    }
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    output: () => ({ stdout, stderr }),
    exited,
    async stop(graceMs = 5000) {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The environment of a serve process talking to the emulator with the given app: either the
 * emulator's URL and the two secrets one by one, or the run's `markerSecrets` and the running
 * emulator as they are.
 *
 * @example
 * const env = serveEnv({ app, secrets, amazon, databaseUrl, publicUrl, port });
 */
export function serveEnv(
  opts: {
    app: EmulatorApplication;
    databaseUrl: string;
    publicUrl: string;
    port: number;
    extra?: Record<string, string>;
  } & (
    | { clientSecret: string; encryptionKeys: string; emulatorUrl: string }
    | { secrets: { clientSecret: string; encryptionKeys: string }; amazon: { url: string } }
  ),
): Record<string, string> {
  const { clientSecret, encryptionKeys, emulatorUrl } =
    'secrets' in opts ? { ...opts.secrets, emulatorUrl: opts.amazon.url } : opts;
  return {
    LWA_CLIENT_ID: opts.app.clientId,
    LWA_CLIENT_SECRET: clientSecret,
    SPAPI_APPLICATION_ID: opts.app.id,
    SPAPI_AUTH_PUBLIC_URL: opts.publicUrl,
    SPAPI_AUTH_AMAZON_URL: emulatorUrl,
    SPAPI_AUTH_ENCRYPTION_KEYS: encryptionKeys,
    DATABASE_URL: opts.databaseUrl,
    SPAPI_AUTH_KEY_RATE_LIMIT: '0',
    // Every test browser is on 127.0.0.1: tests of the per-address limit turn it on.
    SPAPI_AUTH_OAUTH_RATE_LIMIT: '0',
    // The proactive refresher is off: the tests count the refreshes that callers cause.
    SPAPI_AUTH_REFRESH_RATE_LIMIT: '0',
    PORT: String(opts.port),
    HOST: '127.0.0.1',
    ...opts.extra,
  };
}

/** Opens the service's store from the test process (same URL and key ring). */
export function openTestStore(databaseUrl: string, encryptionKeys: string): Promise<Store> {
  return openStore(databaseUrl, { keyRing: parseKeyRing(encryptionKeys) });
}

/** Creates an API key directly in the store; returns the key (shown once). */
export async function createKey(
  store: Store,
  scopes: readonly Scope[] = ['tokens:read', 'sellers:read', 'sellers:write', 'connect'],
): Promise<string> {
  const k = generateApiKey();
  await store.createApiKey({ id: k.id, name: 'e2e', hash: k.hash, scopes: [...scopes] });
  return k.key;
}

/** `n` NA test sellers with ids `A<label><index>` (upper-case alphanumerics, like Amazon's). */
export function testSellers(n: number, label = 'E2E'): EmulatorSeller[] {
  return Array.from({ length: n }, (_, i) => ({
    sellingPartnerId: `A${label}${String(i).padStart(6, '0')}`.toUpperCase(),
    name: `Test seller ${i}`,
    kind: 'seller' as const,
    regions: ['na' as const],
    marketplaces: ['US'],
  }));
}

/** A US participation, as marketplaceParticipations reports it, for the profiles the tests store. */
const US_PARTICIPATION = {
  id: 'ATVPDKIKX0DER',
  country: 'US',
  name: 'Amazon.com',
  participating: true,
  suspendedListings: false,
} as const;

/**
 * Authorizes each seller at the emulator (consent in auto mode, then a real code exchange, in
 * process) and stores the authorization with an access token that has already expired, so the
 * next token request refreshes, and its profile (as the callback would have read it). Returns the refresh tokens by seller id (markers for the sweep).
 * One seller after the other; with `concurrency` above 1 the consents run first, one after the
 * other (the consent mode names the seller), then that many exchanges and saves at a time.
 */
export async function seedSellers(
  amazon: RunningEmulator,
  app: EmulatorApplication,
  clientSecret: string,
  store: Store,
  sellerIds: readonly string[],
  opts: { expiresAt?: number; concurrency?: number } = {},
): Promise<Map<string, { refreshToken: string; accessToken: string }>> {
  const out = new Map<string, { refreshToken: string; accessToken: string }>();
  const consent = (id: string): Promise<string> => consentCodeAtEmulator(amazon.emulator, app, id);
  const exchangeAndSave = async ({ id, code }: { id: string; code: string }): Promise<void> => {
    const body = await exchangeAtEmulator(amazon.emulator, app, clientSecret, code);
    await store.saveAuthorization({
      sellingPartnerId: id,
      region: 'na',
      kind: 'seller',
      userRef: `user-${id}`,
      marketplace: 'US',
      refreshToken: body.refreshToken,
      accessToken: { accessToken: body.accessToken, expiresAt: opts.expiresAt ?? Date.now() - 1000 },
    });
    // A connected seller's profile was read at its callback. Without one, every instance's profile
    // sweep (30 s after start, then every 5 minutes) fetches it, which refreshes the seller's token
    // behind the test's back: a refresh the test did not cause, and a lease it did not take.
    await store.saveSellerProfile(
      { sellingPartnerId: id, region: 'na' },
      { storeName: `Store ${id}`, marketplaces: [US_PARTICIPATION], fetchedAt: Date.now() },
    );
    out.set(id, { refreshToken: body.refreshToken, accessToken: body.accessToken });
  };
  if ((opts.concurrency ?? 1) <= 1) {
    for (const id of sellerIds) await exchangeAndSave({ id, code: await consent(id) });
  } else {
    const codes: { id: string; code: string }[] = [];
    for (const id of sellerIds) codes.push({ id, code: await consent(id) });
    await pool(codes, opts.concurrency!, exchangeAndSave);
  }
  await amazon.emulator.control.consentMode('auto');
  return out;
}

/** The emulator on a port with one application whose redirect URI is `publicUrl`'s. */
export async function startTestEmulator(
  publicUrl: string,
  clientSecret: string,
  opts: {
    sellers?: readonly EmulatorSeller[];
    latencyMs?: number;
    host?: string;
    tokenTtlS?: number;
    rotateRefreshTokens?: boolean;
  } = {},
): Promise<{ amazon: RunningEmulator; app: EmulatorApplication }> {
  const app = { ...devApplication(publicUrl), clientSecret };
  const amazon = await startEmulator({
    port: 0,
    applications: [app],
    ...(opts.sellers ? { sellers: opts.sellers } : {}),
    ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.tokenTtlS !== undefined ? { tokenTtlS: opts.tokenTtlS } : {}),
    ...(opts.rotateRefreshTokens ? { rotateRefreshTokens: true } : {}),
  });
  return { amazon, app };
}

/**
 * A counter of an instance's /metrics, summed over the label sets whose text contains `labels`.
 *
 * @example
 * await instanceMetric(instance, 'spapi_auth_refreshes_total', 'outcome="ok"');
 */
export async function instanceMetric(instance: { url: string }, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\d+)$`, 'gm'))) {
    if ((m[1] ?? '').includes(labels)) n += Number(m[2]);
  }
  return n;
}

/** Refresh-grant calls at the emulator (every outcome). */
export async function refreshCalls(amazon: RunningEmulator): Promise<number> {
  const stats = await amazon.emulator.control.stats();
  return Object.values(stats.token.refresh_token ?? {}).reduce((a, b) => a + b, 0);
}

/** Whether the PostgreSQL test server answers (null) or why not. */
export async function postgresUnavailable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL at ${new URL(PG_URL).host} is not reachable (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Whether a PostgreSQL suite can run. Without the test server it registers `suite` with one test,
 * `placeholder`, skipped with a visible message — except in CI (`CI=true`), where a missing server
 * fails the run — and resolves to false.
 *
 * @example
 * if (await postgresSuiteRuns('PostgreSQL store', 'the PostgreSQL store suite', 'runs the contract suite')) {
 *   describe('PostgreSQL store', () => { … });
 * }
 */
export async function postgresSuiteRuns(suite: string, what: string, placeholder: string): Promise<boolean> {
  const unavailable = await postgresUnavailable();
  return suiteRuns(unavailable && `${unavailable} (set SPAPI_AUTH_TEST_PG_URL)`, {
    suite,
    what,
    placeholder,
    needs: 'the PostgreSQL test server',
  });
}

/**
 * Whether a suite that needs something of the machine (a server, a browser, a daemon) can run:
 * `missing` is why not, or null. When missing it registers `suite` with one test, `placeholder`,
 * skipped with a visible message — except in CI (`CI=true`, where `.ci/run` installs it), where it
 * fails the run — and resolves to false.
 *
 * @example
 * if (await suiteRuns(dockerMissing(), { suite: 'container image', what: 'the container image',
 *   placeholder: 'builds and runs the image', needs: 'the Docker daemon' })) { describe(…); }
 */
export async function suiteRuns(
  missing: string | null,
  opts: { suite: string; what: string; placeholder: string; needs: string },
): Promise<boolean> {
  if (missing === null) return true;
  const { describe, it } = await import('node:test');
  const { default: assert } = await import('node:assert/strict');
  if (process.env.CI === 'true') {
    describe(opts.suite, () => {
      it(`needs ${opts.needs} in CI`, () => assert.fail(`${missing}; CI=true requires it`));
    });
  } else {
    console.log(`# SKIPPED: ${opts.what}: ${missing}`);
    describe(opts.suite, { skip: missing }, () => {
      it(opts.placeholder);
    });
  }
  return false;
}

/**
 * A fresh database for one test file (so its backends can be found by `datname` and killed
 * without touching anyone else's), dropped by `drop()`; a copy of `template` (a database nobody
 * is connected to) when given.
 */
export async function freshDatabase(
  label: string,
  opts: { template?: string } = {},
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `spapi_e2e_${label}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(
      `CREATE DATABASE "${name}"${opts.template === undefined ? '' : ` TEMPLATE "${opts.template}"`}`,
    );
  } finally {
    await admin.end();
  }
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.href,
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Terminates every backend connected to `database` except the caller's; returns how many. */
export async function terminateBackends(database: string): Promise<number> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return rows.filter((r) => r.ok).length;
  } finally {
    await c.end();
  }
}

/**
 * A TCP proxy in front of a server: `down()` closes every connection and refuses new ones (the
 * database "goes away" without stopping the shared server); `up()` lets them through again.
 */
export interface TcpProxy {
  readonly port: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let open = true;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createNetServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const down = (): void => {
    open = false;
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    down,
    up() {
      open = true;
    },
    close() {
      down();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

/**
 * Follows redirects like a browser (one cookie jar per host, `redirect: 'manual'`) until a
 * non-redirect answer; rejects when a connection dies on the way (a crashed service).
 */
export async function followRedirects(
  start: string,
  jar: Map<string, Map<string, string>> = new Map(),
): Promise<{ status: number; url: string; body: string }> {
  let url = start;
  for (let i = 0; i < 15; i++) {
    const u = new URL(url);
    const cookies = jar.get(u.host) ?? new Map<string, string>();
    jar.set(u.host, cookies);
    const res = await fetch(url, {
      redirect: 'manual',
      headers: cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {},
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.body?.cancel();
      url = new URL(loc, url).href;
      continue;
    }
    return { status: res.status, url, body: await res.text() };
  }
  throw new Error('too many redirects');
}
