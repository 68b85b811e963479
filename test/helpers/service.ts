// Builds the service in-process (createService, no background work) over the memory store and the in-process emulator, with canary
// secrets, a captured log, and a tiny browser (cookie jar + redirect following across origins).
import type { AfterHooks } from './after.js';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config.js';
import {
  createEmulator,
  startEmulator,
  type Emulator,
  type RunningEmulator,
} from '../../src/emulator/index.js';
import { devApplication } from '../../src/emulator/dev-app.js';
import type { EmulatorOptions } from '../../src/emulator/types.js';
import { createKeyRing, type KeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import { createPostgresStore } from '../../src/storage/postgres.js';
import { PG_URL, freePort as freePortOf } from './e2e.js';
import type { Store } from '../../src/storage/store.js';
import { generateApiKey, type Scope } from '../../src/server/tokens/api-keys.js';
import type { App } from '../../src/server/app.js';
import { createLogger } from '../../src/server/http/log.js';
import { createService, startService, type Service } from '../../src/server/service.js';
import { checkedApp } from './openapi-responses.js';

export const PUBLIC_URL = 'http://localhost:3000';
// The emulator answers in-process for any host; a loopback origin is what the core accepts over http.
export const AMAZON_URL = 'http://127.0.0.1:4999';
/** Marker secrets: none may ever appear in a log line, an error body or the store in clear. */
export const CANARY_SECRET = 'CANARYsecret0ClientSecretValue0000000000000000';

export interface TestService {
  readonly app: App;
  readonly emulator: Emulator;
  readonly store: Store;
  readonly config: Config;
  readonly logs: string[];
  /** An API key with every scope. */
  readonly apiKey: string;
  key(scopes: readonly Scope[]): Promise<string>;
  /** Token-endpoint calls at the emulator, by grant. */
  lwaCalls(grant?: string): Promise<number>;
  close(): Promise<void>;
}

export async function makeService(
  env: Record<string, string> = {},
  opts: {
    now?: () => number;
    sqlitePath?: string;
    postgresSchema?: string;
    logLevel?: 'debug' | 'info';
  } = {},
): Promise<TestService> {
  const app0 = devApplication(PUBLIC_URL);
  const emulatorApp = { ...app0, clientSecret: CANARY_SECRET };
  const emulator = createEmulator({ applications: [emulatorApp], ...(opts.now ? { now: opts.now } : {}) });
  await emulator.control.consentMode('auto');
  const config = loadConfig(serviceEnv(emulatorApp, env), { mode: 'serve' });
  const store = await openTestStore({
    keyRing: createKeyRing([['k1', randomBytes(32)]]),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.sqlitePath === undefined ? {} : { sqlitePath: opts.sqlitePath }),
    ...(opts.postgresSchema === undefined ? {} : { postgresSchema: opts.postgresSchema }),
  });
  const logs: string[] = [];
  const log = createLogger({ sink: (l) => logs.push(l), level: opts.logLevel ?? 'debug' });
  const service = await createService(config, {
    store,
    log,
    fetch: (req) => emulator.fetch(req),
    auditIntervalMs: 50,
    sellerCountsTtlMs: 0,
    ...(opts.now ? { now: opts.now } : {}),
  });
  // Every response a test sees is checked against the declared routes (test/helpers/openapi-responses.ts).
  const app = checkedApp(service.app);
  const { key, apiKey } = await testApiKeys(store);
  return {
    app,
    emulator,
    store,
    config,
    logs,
    apiKey,
    key,
    lwaCalls: lwaCallCounter(emulator),
    close: () => service.close(),
  };
}

export type { AfterHooks };

/**
 * {@link makeService}, closed when the test ends (`t.after`).
 *
 * @example
 * it('…', async (t) => { const svc = await testService(t); … });
 */
export async function testService(
  t: AfterHooks,
  env: Record<string, string> = {},
  opts: Parameters<typeof makeService>[1] = {},
): Promise<TestService> {
  const svc = await makeService(env, opts);
  t.after(() => svc.close());
  return svc;
}

/** The environment of a test service wired to the in-process emulator's application. */
export function serviceEnv(
  emulatorApp: { readonly clientId: string; readonly id: string },
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    LWA_CLIENT_ID: emulatorApp.clientId,
    LWA_CLIENT_SECRET: CANARY_SECRET,
    SPAPI_APPLICATION_ID: emulatorApp.id,
    SPAPI_AUTH_PUBLIC_URL: PUBLIC_URL,
    SPAPI_AUTH_AMAZON_URL: AMAZON_URL,
    SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    SPAPI_AUTH_RETURN_ORIGINS: 'https://app.example.com',
    DATABASE_URL: 'memory:',
    // Every in-process request comes from 127.0.0.1: tests of the per-address limit turn it on.
    SPAPI_AUTH_OAUTH_RATE_LIMIT: '0',
    ...env,
  };
}

/**
 * SQLite in memory (`memory:`), SQLite at `sqlitePath` (closed and reopened by tests to simulate a restart), or
 * PostgreSQL at the test server in the schema `postgresSchema`.
 */
export function openTestStore(opts: {
  readonly keyRing: KeyRing;
  readonly now?: () => number;
  readonly sqlitePath?: string;
  readonly postgresSchema?: string;
}): Promise<Store> {
  const storeOptions = { keyRing: opts.keyRing, ...(opts.now ? { now: opts.now } : {}) };
  if (opts.postgresSchema !== undefined) {
    return createPostgresStore({ ...storeOptions, url: PG_URL, schema: opts.postgresSchema });
  }
  return opts.sqlitePath === undefined
    ? openStore('memory:', storeOptions)
    : createSqliteStore({ ...storeOptions, path: opts.sqlitePath });
}

/** `key(scopes)` mints an API key in the store; `apiKey` is one with every scope. */
export async function testApiKeys(
  store: Store,
): Promise<{ key(scopes: readonly Scope[]): Promise<string>; apiKey: string }> {
  const key = async (scopes: readonly Scope[]): Promise<string> => {
    const k = generateApiKey();
    await store.createApiKey({ id: k.id, name: 'test', hash: k.hash, scopes: [...scopes] });
    return k.key;
  };
  return { key, apiKey: await key(['tokens:read', 'sellers:read', 'sellers:write', 'connect']) };
}

/** Token-endpoint calls at the emulator, for one grant or all. */
export function lwaCallCounter(emulator: Emulator): (grant?: string) => Promise<number> {
  return async (grant) => {
    const stats = await emulator.control.stats();
    const sum = (g: Record<string, number> | undefined): number =>
      Object.values(g ?? {}).reduce((a, b) => a + b, 0);
    if (grant !== undefined) return sum(stats.token[grant]);
    return Object.values(stats.token).reduce((a, g) => a + sum(g), 0);
  };
}

/** Calls the service's API in-process. */
export function api(
  svc: TestService,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = svc.apiKey,
  headers: Record<string, string> = {},
): Promise<Response> {
  const h: Record<string, string> = { ...headers };
  if (key !== null) h.authorization = `Bearer ${key}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  return svc.app.fetch(
    new Request(`${PUBLIC_URL}${path}`, {
      method,
      headers: h,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }),
  );
}

/** A minimal browser: one cookie jar per origin host, manual redirects across the service and the emulator. */
export class Browser {
  readonly cookies = new Map<string, Map<string, string>>();
  /** Every URL visited, in order. */
  readonly visited: string[] = [];
  constructor(private readonly svc: TestService) {}

  private jar(host: string): Map<string, string> {
    let j = this.cookies.get(host);
    if (!j) this.cookies.set(host, (j = new Map()));
    return j;
  }

  async request(url: string, init: { accept?: string } = {}): Promise<Response> {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    const jar = this.jar(u.host);
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.accept) headers.accept = init.accept;
    const req = new Request(url, { headers, redirect: 'manual' });
    const res = u.origin === PUBLIC_URL ? await this.svc.app.fetch(req) : await this.svc.emulator.fetch(req);
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (attrs.some((a) => /max-age=0/i.test(a.trim())) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /** Follows redirects until a non-redirect or a stop condition; returns the last response and its URL. */
  async follow(
    url: string,
    stop: (url: string) => boolean = () => false,
    init: { accept?: string } = {},
  ): Promise<{ res: Response; url: string }> {
    let current = url;
    for (let i = 0; i < 20; i++) {
      this.visited.push(current);
      if (stop(current)) return { res: new Response(null, { status: 299 }), url: current };
      const res = await this.request(current, init);
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || loc === null) return { res, url: current };
      current = new URL(loc, current).href;
    }
    throw new Error('too many redirects');
  }
}

/** Every canary-like marker string in `text`. */
export function leaks(text: string, markers: readonly string[]): string[] {
  return markers.filter((m) => text.includes(m));
}

/** A request exactly as a client wrote it (no URL normalisation), straight into the app's handler. */
export async function rawRequest(
  svc: TestService,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const q = target.indexOf('?');
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const res = await svc.app.handle({
    method,
    path: q < 0 ? target : target.slice(0, q),
    rawQuery: q < 0 ? '' : target.slice(q + 1),
    header: (name) => lower[name],
    body: async () => new Uint8Array(),
    remoteAddress: '127.0.0.1',
  });
  const body =
    res.body === null ? '' : typeof res.body === 'string' ? res.body : new TextDecoder().decode(res.body);
  return { status: res.status, headers: res.headers, body };
}

/** The error code of a JSON error body. */
export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

/** Connects a seller through the whole website flow (consent in auto mode). */
export async function connectSeller(
  svc: TestService,
  opts: { sellerId?: string; marketplace?: string; userRef?: string } = {},
): Promise<void> {
  await svc.emulator.control.consentMode('auto', opts.sellerId ?? 'A1EMUSELLERNA01');
  const res = await api(svc, 'POST', '/v1/connect-sessions', {
    user_ref: opts.userRef ?? 'u1',
    marketplace: opts.marketplace ?? 'US',
  });
  const { url } = (await res.json()) as { url: string };
  const { res: last } = await new Browser(svc).follow(url);
  if (last.status !== 200) throw new Error(`connect failed: ${last.status} ${await last.text()}`);
}

// `dev` and the redirect URIs registered at the emulator need a port before the server starts.
export { freePort } from './e2e.js';

/** A served service on a real port of localhost, its emulator on 127.0.0.1 (another site). */
export interface LocalService {
  readonly publicUrl: string;
  readonly emulator: RunningEmulator;
  readonly store: Store;
  readonly service: Service;
  close(): Promise<void>;
}

/**
 * Starts `serve` in process for a browser test: the dev application at `http://localhost:<port>`,
 * an emulator of its own on 127.0.0.1 (so the return from consent or sign-in is cross-site), a
 * `memory:` store; `env` adds settings; `port` when the URL must be known first (a free one otherwise).
 */
export async function startLocalService(
  env: Record<string, string> = {},
  port?: number,
  emulatorOptions: Pick<EmulatorOptions, 'rates'> = {},
): Promise<LocalService> {
  port ??= await freePortOf();
  const publicUrl = `http://localhost:${port}`;
  const app = { ...devApplication(publicUrl), clientSecret: CANARY_SECRET };
  const emulator = await startEmulator({ port: 0, applications: [app], ...emulatorOptions });
  const key = randomBytes(32);
  const config = loadConfig(
    serviceEnv(app, {
      SPAPI_AUTH_PUBLIC_URL: publicUrl,
      SPAPI_AUTH_AMAZON_URL: emulator.url,
      SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${key.toString('base64')}`,
      PORT: String(port),
      ...env,
    }),
    { mode: 'serve' },
  );
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', key]]) });
  const service = await startService(config, { store, log: createLogger({ sink: () => undefined }) });
  return {
    publicUrl,
    emulator,
    store,
    service,
    async close() {
      await service.close();
      await emulator.close();
    },
  };
}
