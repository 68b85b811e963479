// The service in-process with its operations side wired as service.ts wires it (metrics, the
// client-secret ring, webhooks, dashboard), over the in-process emulator, with an injectable clock,
// a webhook fetch, and a store that can be closed and reopened (SQLite) to simulate a restart.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../../src/config.js';
import { createEmulator } from '../../src/emulator/index.js';
import { devApplication } from '../../src/emulator/dev-app.js';
import { createKeyRing, type KeyRing } from '../../src/storage/crypto.js';
import type { AppDeps } from '../../src/server/app.js';
import type { AmazonGateway } from '../../src/server/context.js';
import { createLogger } from '../../src/server/http/log.js';
import type { Operations } from '../../src/server/ops/operations.js';
import { createService } from '../../src/server/service.js';
import { checkedApp } from './openapi-responses.js';
import {
  CANARY_SECRET,
  PUBLIC_URL,
  lwaCallCounter,
  openTestStore,
  serviceEnv,
  testApiKeys,
  type AfterHooks,
  type TestService,
} from './service.js';

export { CANARY_SECRET, PUBLIC_URL };

export interface OpsService extends TestService {
  readonly ops: Operations;
  readonly amazon: AmazonGateway;
  readonly keyRing: KeyRing;
  /** Moves the service's clock (not the emulator's). */
  advance(ms: number): void;
  /** The service's clock. */
  now(): number;
}

export interface OpsOptions {
  readonly env?: Record<string, string>;
  readonly mode?: 'dev' | 'serve';
  readonly sqlitePath?: string;
  /** PostgreSQL at the test server, in this schema (several services may share one). */
  readonly postgresSchema?: string;
  readonly keyRing?: KeyRing;
  readonly webhookFetch?: (req: Request) => Promise<Response>;
  /** The emulator's client secrets (default: the canary secret only). */
  readonly emulatorSecrets?: readonly string[];
  /** Dev mode: the test accounts the start page may offer. */
  readonly devPartners?: AppDeps['devPartners'];
  /** The service's clock stands still except for `advance` (default: real time plus `advance`). */
  readonly frozenClock?: boolean;
  /**
   * With `frozenClock`: the emulator's clock stands at the same moment, moved only through its own
   * control API (`POST /__emulator/clock`), so both sides can be moved in step (default: real time).
   */
  readonly frozenEmulatorClock?: boolean;
  /** The captured log's level (default debug). */
  readonly logLevel?: 'debug' | 'info';
  /** Called on each use of a seller's access token (the hot set's recorder in a served instance). */
  readonly onUse?: (sellingPartnerId: string, region: string) => void;
}

/**
 * {@link makeOpsService}, closed when the test ends (`t.after`).
 *
 * @example
 * it('…', async (t) => { const svc = await testOpsService(t, { frozenClock: true }); … });
 */
export async function testOpsService(t: AfterHooks, opts: OpsOptions = {}): Promise<OpsService> {
  const svc = await makeOpsService(opts);
  t.after(() => svc.close());
  return svc;
}

export async function makeOpsService(opts: OpsOptions = {}): Promise<OpsService> {
  let offset = 0;
  const frozenAt = Date.now();
  const now = (): number => (opts.frozenClock === true ? frozenAt : Date.now()) + offset;
  const app0 = devApplication(PUBLIC_URL);
  const secrets = opts.emulatorSecrets ?? [CANARY_SECRET];
  const emulatorApp = { ...app0, clientSecret: secrets[0]!, clientSecrets: secrets.slice(1) };
  const emulator = createEmulator({
    applications: [emulatorApp],
    ...(opts.frozenClock === true && opts.frozenEmulatorClock === true ? { now: () => frozenAt } : {}),
  });
  await emulator.control.consentMode('auto');
  const env = serviceEnv(emulatorApp, opts.env);
  const config: Config =
    opts.mode === 'dev'
      ? loadConfig(env, {
          mode: 'dev',
          devDefaults: {
            clientId: emulatorApp.clientId,
            clientSecret: CANARY_SECRET,
            applicationId: emulatorApp.id,
          },
        })
      : loadConfig(env, { mode: 'serve' });
  const keyRing = opts.keyRing ?? createKeyRing([['k1', randomBytes(32)]]);
  const store = await openTestStore({
    keyRing,
    now,
    ...(opts.sqlitePath === undefined ? {} : { sqlitePath: opts.sqlitePath }),
    ...(opts.postgresSchema === undefined ? {} : { postgresSchema: opts.postgresSchema }),
  });
  const logs: string[] = [];
  const log = createLogger({ sink: (l) => logs.push(l), level: opts.logLevel ?? 'debug' });
  const service = await createService(config, {
    store,
    log,
    now,
    owner: `test:${randomBytes(4).toString('hex')}`,
    fetch: (req) => emulator.fetch(req),
    auditIntervalMs: 50,
    sellerCountsTtlMs: 0,
    ...(opts.webhookFetch ? { webhookFetch: opts.webhookFetch } : {}),
    ...(opts.devPartners ? { devPartners: opts.devPartners } : {}),
    ...(opts.onUse ? { onUse: opts.onUse } : {}),
  });
  const { ops, amazon } = service;
  // Every response a test sees is checked against the declared routes (test/helpers/openapi-responses.ts).
  const app = checkedApp(service.app);
  await ops.ring.reload();
  const { key, apiKey } = await testApiKeys(store);
  return {
    app,
    emulator,
    store,
    config,
    logs,
    apiKey,
    key,
    ops,
    amazon,
    keyRing,
    advance: (ms) => void (offset += ms),
    now,
    lwaCalls: lwaCallCounter(emulator),
    close: () => service.close(),
  };
}

/** One request a receiver saw. */
export interface Received {
  readonly body: string;
  readonly headers: IncomingMessage['headers'];
  readonly status: number;
}

/** A webhook receiver on 127.0.0.1:0 answering with `statuses` in turn (then the last one). */
export async function startReceiver(statuses: readonly number[] = [200]): Promise<{
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses[Math.min(received.length, statuses.length - 1)]!;
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, status });
      if (status >= 300 && status < 400) res.setHeader('location', 'http://127.0.0.1:9/elsewhere');
      res.statusCode = status;
      res.end(status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/spapi`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A browser's request to the app: GET, or a form POST from `origin`; redirects not followed. */
export type BrowserCall = (path: string, cookie?: string, form?: Record<string, string>) => Promise<Response>;

/**
 * Requests as a browser on `origin` sends them (its `Host`; its `Origin` on a form POST), through
 * the app in process.
 */
export function browserCall(
  app: { fetch(req: Request): Promise<Response> },
  origin: string = PUBLIC_URL,
): BrowserCall {
  return (path, cookie, form) =>
    app.fetch(
      new Request(`${origin}${path}`, {
        method: form ? 'POST' : 'GET',
        headers: {
          host: new URL(origin).host,
          ...(cookie ? { cookie } : {}),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded', origin } : {}),
        },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
        redirect: 'manual',
      }),
    );
}

/** Signs in to the dashboard with the shared password; resolves to the session's cookie pair. */
export async function passwordSession(call: BrowserCall, password: string): Promise<string> {
  const form = await call('/admin/login');
  const anon = cookiePair(form.headers.get('set-cookie'));
  const signedIn = await call('/admin/login', anon, { csrf: csrfOf(await form.text()), password });
  if (signedIn.status !== 303) throw new Error(`sign-in answered ${signedIn.status}`);
  return cookiePair(signedIn.headers.get('set-cookie'));
}

/** The admin forms' CSRF token in a page. */
export function csrfOf(page: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('no CSRF token in the page');
  return m[1]!;
}

/** The `name=value` of a Set-Cookie header. */
export function cookiePair(setCookie: string | null): string {
  if (setCookie === null) throw new Error('no Set-Cookie');
  return setCookie.split(';')[0]!;
}
