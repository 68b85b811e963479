/**
 * The composition root: from a validated config to the whole service (store, operations, the
 * core's token manager over the store-backed vault, gateway, routes), built once in dependency
 * order by {@link createService}, listening with {@link startService}, and back down again in the
 * right order on shutdown. `serve`, `dev`, the CLI's `token` and the tests all build it here.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { FetchLike } from '../core/http.js';
import type { LwaCredentials } from '../core/lwa.js';
import type { Region } from '../core/marketplaces.js';
import { createTokenManager, type TokenManager } from '../core/token-manager.js';
import { generateKey, parseKeyRing, type KeyRing } from '../storage/crypto.js';
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import { createStoreTokenVault } from '../storage/token-vault.js';
import { createApp, type App, type AppDeps } from './app.js';
import type { AmazonGateway } from './context.js';
import { connectionLimit, openFileLimit } from './http/connections.js';
import { trustedProxyCheck } from './http/client-address.js';
import { silentLogger, type Logger } from './http/log.js';
import { listen, type RunningServer } from './http/node.js';
import type { Handler } from './http/request.js';
import { registerAdminRoutes } from './admin/routes.js';
import { AuditBuffer } from './ops/audit.js';
import { createOperations, registerOperationsRoutes, type Operations } from './ops/operations.js';
import { cacheSellerCounts } from './ops/seller-counts.js';
import { startProfileSweep } from './domain/profile.js';
import { generateApiKey, hashApiKey, type Scope } from './tokens/api-keys.js';
import { createClusterThrottle, LWA_THROTTLE, type ClusterThrottle } from './tokens/cluster-throttle.js';
import { createAmazonGateway, liveCredentials } from './tokens/gateway.js';
import { createRefresher, type Refresher, type RefreshDueSource } from './tokens/refresher.js';
import { tokenEventHandler } from './tokens/token-events.js';
import { createUsageRecorder, usageIntervalMs, type UsageRecorder } from './tokens/usage.js';

/**
 * Opens the store of a database URL; a relative `sqlite:` path is taken from `cwd`.
 *
 * @example
 * const store = await openServiceStore('sqlite:./data/spapi-auth.db', process.cwd(), keyRing);
 */
export async function openServiceStore(
  databaseUrl: string,
  cwd: string,
  keyRing: KeyRing | null,
  options: { migrate?: boolean } = {},
): Promise<Store> {
  let url = databaseUrl;
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path !== ':memory:' && !isAbsolute(path)) url = `sqlite:${resolve(cwd, path)}`;
  }
  return openStore(url, { keyRing, ...(options.migrate === false ? { migrate: false } : {}) });
}

/**
 * The dev key ring: read from `<dataDir>/encryption-keys`, or generated there (mode 0600) on first
 * run. `generated` tells the caller to warn.
 *
 * @example
 * const { value, generated } = devKeyRing('./data');
 */
export function devKeyRing(dataDir: string): { value: string; generated: boolean; path: string } {
  const path = resolve(dataDir, 'encryption-keys');
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), generated: false, path };
  const value = `dev1:${generateKey()}`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, value + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return { value, generated: true, path };
}

/**
 * The dev API key: kept in `<dataDir>/dev-api-key` (mode 0600) and re-created when the store no
 * longer knows it (a fresh database).
 *
 * @example
 * const { key } = await devApiKey(store, './data');
 */
export async function devApiKey(store: Store, dataDir: string): Promise<{ id: string; key: string }> {
  const path = resolve(dataDir, 'dev-api-key');
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    const record = await store.findApiKeyByHash(hashApiKey(key));
    if (record !== null && record.revokedAt === null) return { id: record.id, key };
  }
  const k = generateApiKey();
  const scopes: Scope[] = ['tokens:read', 'sellers:read', 'sellers:write', 'connect'];
  await store.createApiKey(
    { id: k.id, name: 'dev', hash: k.hash, scopes },
    { audit: [{ action: 'api_key.created', actor: 'dev', outcome: 'ok', details: { key_id: k.id } }] },
  );
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, k.key + '\n', { mode: 0o600 });
  return { id: k.id, key: k.key };
}

/**
 * Parses the config's key ring (null when none is configured).
 *
 * @example
 * const store = await openServiceStore(config.databaseUrl, cwd, keyRingOf(config));
 */
export function keyRingOf(config: Pick<Config, 'encryptionKeys'>): KeyRing | null {
  return config.encryptionKeys === undefined ? null : parseKeyRing(config.encryptionKeys);
}

/** What {@link createService} takes besides the config; every field has a default. */
export interface ServiceOptions {
  /**
   * The store to run on (default: the config's `DATABASE_URL`, a relative `sqlite:` path taken
   * from `cwd`, with the config's key ring, migrated). The service closes it on `close()`.
   */
  readonly store?: Store;
  /** Where a relative `sqlite:` path of `DATABASE_URL` is taken from (default: the process's). */
  readonly cwd?: string;
  /** The service's logger (default: none). */
  readonly log?: Logger;
  /** The fetch every Amazon call goes through (default: the global one). */
  readonly fetch?: FetchLike;
  /** The service's clock (default `Date.now`). */
  readonly now?: () => number;
  /** This process's lease owner id (default host:pid:random). */
  readonly owner?: string;
  /** The fetch webhooks are delivered with (default: the global one). */
  readonly webhookFetch?: FetchLike;
  /** How often buffered audit records are written (ms; default 1000). */
  readonly auditIntervalMs?: number;
  /** How long the sellers' counts by status are shared (ms; tests: 0, every read counts). */
  readonly sellerCountsTtlMs?: number;
  /** Dev: the embedded emulator's handler, answering every path no route claims. */
  readonly fallback?: Handler;
  /** Dev: the emulator's test accounts (see {@link AppDeps.devPartners}). */
  readonly devPartners?: AppDeps['devPartners'];
  /** Extra route modules, see {@link AppDeps.extensions}. */
  readonly extensions?: AppDeps['extensions'];
  /** Called on each use of a seller's access token, besides the hot set's recorder. */
  readonly onUse?: (sellingPartnerId: string, region: Region) => void;
}

/** A service built by {@link createService}: requests go to `fetch` (or `app.handle`); nothing listens. */
export interface ServiceParts {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly app: App;
  readonly amazon: AmazonGateway;
  readonly tokens: TokenManager;
  readonly ops: Operations;
  /** Requests in process (`Request → Response`). */
  readonly fetch: (req: Request) => Promise<Response>;
  /**
   * Starts the background work: the client-secret ring, webhook deliveries, the notification
   * queue, the purge of expired flows, the profile sweep and the proactive refresher.
   */
  start(): Promise<void>;
  /** Stops the background work, flushes the audit, closes the store (after the server, if any). */
  close(): Promise<void>;
}

/** A running service: {@link ServiceParts} and the HTTP server. */
export interface Service extends ServiceParts {
  readonly server: RunningServer;
}

/**
 * Builds the whole service once (store, key ring, operations, token manager, gateway, routes) from
 * a config: what `serve`, `dev`, the CLI's `token` and the tests run. Nothing listens and no
 * background work runs until {@link startService} (or `start()`).
 *
 * @example
 * const service = await createService(config, { log });
 * const res = await service.fetch(new Request(`${config.publicUrl}/healthz`));
 * await service.close();
 */
export async function createService(config: Config, options: ServiceOptions = {}): Promise<ServiceParts> {
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const opened =
    options.store ??
    (await openServiceStore(config.databaseUrl, options.cwd ?? process.cwd(), keyRingOf(config)));
  // The admin home and /metrics count sellers by status: a full scan, shared for a few seconds.
  const store = cacheSellerCounts(opened, {
    now,
    ...(options.sellerCountsTtlMs !== undefined ? { ttlMs: options.sellerCountsTtlMs } : {}),
  });
  // Operations (operations.ts): metrics, the client-secret ring, webhooks, the dashboard.
  const ops = createOperations({
    config,
    store,
    log,
    ...(options.now ? { now: options.now } : {}),
    ...(options.webhookFetch ? { webhookFetch: options.webhookFetch } : {}),
  });
  const fetch = ops.instrument(options.fetch);
  const credentials = (): LwaCredentials => ops.ring.credentials();
  // Made before the token manager, so its events are audited from the first one.
  const audit = new AuditBuffer(store, log, options.auditIntervalMs ?? 1000, now);
  const { usage, throttle } = startTokenUpkeep(config, store, log);
  const tokens = createTokenManager({
    credentials: liveCredentials(credentials),
    vault: createStoreTokenVault(store, {
      owner: options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      now,
    }),
    sandbox: config.sandbox,
    ...(config.amazonUrl !== undefined ? { amazonUrl: config.amazonUrl } : {}),
    fetch,
    ...(options.now ? { now: options.now } : {}),
    throttle,
    onEvent: tokenEventHandler({ log, metrics: ops.metrics, audit }),
  });
  ops.metrics.breakerState = () => tokens.breakerState().state;
  const onUse = useRecorder(usage, options.onUse);
  const amazon = createAmazonGateway({
    config,
    tokens,
    fetch,
    credentials,
    ...(options.now ? { now: options.now } : {}),
    ...(onUse ? { onUse } : {}),
  });
  const app = createApp({
    config,
    store,
    amazon,
    log,
    audit,
    ...(options.now ? { now: options.now } : {}),
    ...(options.fallback ? { fallback: options.fallback } : {}),
    ...(options.devPartners ? { devPartners: options.devPartners } : {}),
    extensions: [
      ...(options.extensions ?? []),
      (router, ctx) => registerOperationsRoutes(router, ctx, ops),
      (router, ctx) => registerAdminRoutes(router, ctx, ops),
    ],
    onResponse: (route, status) => ops.metrics.request(route, status),
  });
  const stops: (() => void)[] = [];
  let refresher: Refresher | undefined;
  let closing: Promise<void> | undefined;
  return {
    config,
    store,
    log,
    app,
    amazon,
    tokens,
    ops,
    fetch: app.fetch,
    async start() {
      await ops.start(amazon);
      stops.push(startPurge(store, log));
      // Profiles the callback or an import could not read (throttled, Amazon down) are fetched later.
      stops.push(startProfileSweep({ store, amazon, log, now }));
      refresher = startRefresher(config, store, tokens, log);
    },
    close: () =>
      (closing ??= (async () => {
        for (const stop of stops) stop();
        // Refreshes in flight finish (their lease and commit) before the store closes.
        await refresher?.stop();
        await usage?.close();
        await throttle.close();
        await ops.close();
        await app.close();
        await store.close();
      })()),
  };
}

/** The hot set's recorder and the caller's own `onUse`, as one callback (none when neither). */
function useRecorder(
  usage: UsageRecorder | undefined,
  extra: ServiceOptions['onUse'],
): ServiceOptions['onUse'] {
  if (usage === undefined) return extra;
  if (extra === undefined) return usage.touch;
  return (id, region) => {
    usage.touch(id, region);
    extra(id, region);
  };
}

/** What {@link startService} takes: {@link ServiceOptions} and the port (default `config.port`; 0: any free one). */
export interface StartServiceOptions extends ServiceOptions {
  readonly port?: number;
}

/**
 * Builds the service ({@link createService}), starts its background work and listens on
 * `config.host:config.port`.
 *
 * @example
 * const service = await startService(config, { log });
 * process.once('SIGTERM', () => void service.close());
 */
export async function startService(config: Config, options: StartServiceOptions = {}): Promise<Service> {
  const parts = await createService(config, options);
  const { log, ops, app } = parts;
  let server: RunningServer;
  try {
    await parts.start();
    const cap = connectionLimit(config.maxConnections, openFileLimit());
    if (cap.reducedFrom !== undefined) {
      log.warn('SPAPI_AUTH_MAX_CONNECTIONS is above what the open-file limit (ulimit -n) leaves room for', {
        count: cap.limit,
      });
    }
    server = await listen(app.handle, {
      port: options.port ?? config.port,
      host: config.host,
      headersTimeoutMs: config.headersTimeoutS * 1000,
      requestTimeoutMs: config.requestTimeoutS * 1000,
      keepAliveTimeoutMs: config.keepAliveTimeoutS * 1000,
      maxConnections: cap.limit,
      shareExempt: trustedProxyCheck(config.trustedProxies),
    });
  } catch (err) {
    await parts.close().catch(() => undefined);
    throw err;
  }
  ops.metrics.connections = server.connections;
  let closing: Promise<void> | undefined;
  return {
    ...parts,
    server,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await parts.close();
      })()),
  };
}

/**
 * What keeps tokens cheap across instances: the hot set's coalesced "last used" recorder (when
 * `SPAPI_AUTH_REFRESH_IDLE_AFTER` is above 0; every instance records, whether or not it runs the
 * refresher) and the LWA 429 pause shared through the store.
 *
 * @example
 * const { usage, throttle } = startTokenUpkeep(config, store, log);
 * await usage?.close(); await throttle.close();
 */
export function startTokenUpkeep(
  config: Pick<Config, 'refreshIdleAfterS'>,
  store: Pick<Store, 'recordSellerUse' | 'raiseClusterDeadline' | 'readClusterDeadline'>,
  log: Logger,
): { usage: UsageRecorder | undefined; throttle: ClusterThrottle } {
  const usage =
    config.refreshIdleAfterS > 0
      ? createUsageRecorder({
          write: (keys, at) => store.recordSellerUse(keys, at),
          log,
          intervalMs: usageIntervalMs(config.refreshIdleAfterS),
        })
      : undefined;
  const throttle = createClusterThrottle({
    backend: {
      publish: (until) => store.raiseClusterDeadline(LWA_THROTTLE, until),
      read: () => store.readClusterDeadline(LWA_THROTTLE),
    },
    log,
  });
  return { usage, throttle };
}

/**
 * Starts the proactive refresher when `SPAPI_AUTH_REFRESH_RATE_LIMIT` is above 0; returns it, or
 * undefined when off.
 *
 * @example
 * const refresher = startRefresher(config, store, manager, log);
 * await refresher?.stop();
 */
export function startRefresher(
  config: Pick<Config, 'refreshRateLimit'> & Partial<Pick<Config, 'refreshIdleAfterS'>>,
  store: RefreshDueSource,
  tokens: Pick<TokenManager, 'refreshAccessToken'>,
  log: Logger,
): Refresher | undefined {
  if (config.refreshRateLimit <= 0) return undefined;
  const refresher = createRefresher({
    store,
    refresh: (key, minExpiresAt) => tokens.refreshAccessToken(key, { minExpiresAt }),
    ratePerSecond: config.refreshRateLimit,
    idleAfterMs: (config.refreshIdleAfterS ?? 0) * 1000,
    log,
  });
  refresher.start();
  return refresher;
}

/**
 * How often expired OAuth transactions and connect/Appstore sessions are deleted.
 *
 * @example
 * startPurge(store, log, PURGE_INTERVAL_MS);
 */
export const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Deletes expired transactions and sessions now and then (each instance; the delete is idempotent).
 * Returns the function that stops it.
 *
 * @example
 * const stop = startPurge(store, log); process.once('SIGTERM', stop);
 */
export function startPurge(
  store: Pick<Store, 'purgeExpired'>,
  log: Logger,
  intervalMs = PURGE_INTERVAL_MS,
): () => void {
  const run = (): void => {
    store.purgeExpired().then(
      (n) => {
        if (n > 0) log.info('purged expired transactions and sessions', { count: n });
      },
      (err: unknown) =>
        log.warn('purge of expired transactions failed', { error_name: (err as Error)?.name ?? 'Error' }),
    );
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
