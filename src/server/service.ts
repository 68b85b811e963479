/**
 * Wiring: from a validated config to a running service (store, token source over the core's token
 * manager and the store-backed vault, gateway, app, `node:http` server) and back down again in the
 * right order on shutdown. The CLI's `serve` and `dev` are thin layers over {@link startService}.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { FetchLike } from '../core/http.js';
import { generateKey, parseKeyRing, type KeyRing } from '../storage/crypto.js';
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import type { LwaThrottle, TokenEvent, TokenManager } from '../core/token-manager.js';
import type { Region } from '../core/marketplaces.js';
import { createClusterThrottle, LWA_THROTTLE, type ClusterThrottle } from './tokens/cluster-throttle.js';
import { createUsageRecorder, usageIntervalMs, type UsageRecorder } from './tokens/usage.js';
import { createAmazonGateway, type TokenSource } from './tokens/gateway.js';
import { startProfileSweep } from './domain/profile.js';
import { auditTokenEvent } from './ops/audit.js';
import { generateApiKey, hashApiKey, type Scope } from './tokens/api-keys.js';
import { createApp, type App, type AppDeps } from './app.js';
import type { Handler } from './http/request.js';
import type { Logger } from './http/log.js';
import type { LwaCredentials } from '../core/lwa.js';
import type { TokenMetricsSink } from './ops/metrics.js';
import { registerAdminRoutes } from './admin/routes.js';
import { createOperations, registerOperationsRoutes } from './ops/operations.js';
import { listen, type RunningServer } from './http/node.js';
import { trustedProxyCheck } from './http/client-address.js';
import { connectionLimit, openFileLimit } from './http/connections.js';
import { createRefresher, type Refresher, type RefreshDueSource } from './tokens/refresher.js';
import { cacheSellerCounts } from './ops/seller-counts.js';
import { createCoreTokenSource } from './tokens/source.js';
import type { AccessToken, SellerTokenKey } from '../core/token-vault.js';

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

/** Options of {@link createTokenSource}. */
export interface TokenSourceOptions {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  /** This process's lease owner id (default host:pid:random). */
  readonly owner?: string;
  /** The LWA credentials per call (the client-secret ring); default: the config's. */
  readonly credentials?: () => LwaCredentials;
  /** Token metrics (cache hits, joins, lease waits, refreshes). */
  readonly metrics?: TokenMetricsSink;
  /** Token manager events, e.g. {@link auditTokenEvent}. */
  readonly onEvent?: (event: TokenEvent) => void;
  /** Each token handed to a caller (the hot set's last use, {@link UsageRecorder.touch}). */
  readonly onUse?: (sellingPartnerId: string, region: Region) => void;
  /** The LWA 429 pause shared by the instances ({@link createClusterThrottle}). */
  readonly throttle?: LwaThrottle;
}

/**
 * The token source the gateway uses: the core's token manager over the store-backed vault.
 *
 * @example
 * const tokens = createTokenSource({ config, store, log });
 */
export function createTokenSource(opts: TokenSourceOptions): TokenSource & {
  close?(): void;
  readonly manager?: Pick<TokenManager, 'breakerState'>;
  refreshAccessToken?(key: SellerTokenKey, minExpiresAt: number): Promise<AccessToken>;
} {
  return createCoreTokenSource({
    ...opts,
    owner: opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
  });
}

/** A running service. */
export interface Service {
  readonly app: App;
  readonly server: RunningServer;
  readonly store: Store;
  /** Stops accepting requests, lets in-flight ones finish, flushes the audit, closes the store. */
  close(): Promise<void>;
}

/**
 * Starts the service on `config.host:config.port` over an open store.
 *
 * @example
 * const service = await startService({ config, store, log });
 * process.once('SIGTERM', () => void service.close());
 */
export async function startService(opts: {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly fetch?: FetchLike;
  /** Dev: the embedded emulator's handler. */
  readonly fallback?: Handler;
  /** Dev: the emulator's test accounts (see {@link AppDeps.devPartners}). */
  readonly devPartners?: AppDeps['devPartners'];
  readonly port?: number;
  /** Extra route modules, see {@link AppDeps.extensions}. */
  readonly extensions?: AppDeps['extensions'];
}): Promise<Service> {
  const { config, log } = opts;
  // The admin home and /metrics count sellers by status: a full scan, shared for a few seconds.
  const store = cacheSellerCounts(opts.store);
  // Operations (operations.ts): metrics, the client-secret ring, webhooks, the dashboard.
  const ops = createOperations({ config, store, log });
  const fetch = ops.instrument(opts.fetch);
  const credentials = (): LwaCredentials => ops.ring.credentials();
  // The audit buffer is the app's; refresh events are forwarded to it once the app exists.
  let sink: ((e: TokenEvent) => void) | undefined;
  const { usage, throttle } = startTokenUpkeep(config, store, log);
  const tokens = createTokenSource({
    config,
    store,
    log,
    fetch,
    credentials,
    metrics: ops.metrics,
    onEvent: (e) => sink?.(e),
    ...(usage === undefined ? {} : { onUse: usage.touch }),
    throttle,
  });
  const manager = tokens.manager;
  if (manager !== undefined) ops.metrics.breakerState = () => manager.breakerState().state;
  const amazon = createAmazonGateway({ config, tokens, fetch, credentials });
  const app = createApp({
    config,
    store,
    amazon,
    log,
    ...(opts.fallback ? { fallback: opts.fallback } : {}),
    ...(opts.devPartners ? { devPartners: opts.devPartners } : {}),
    extensions: [
      ...(opts.extensions ?? []),
      (router, ctx) => registerOperationsRoutes(router, ctx, ops),
      (router, ctx) => registerAdminRoutes(router, ctx, ops),
    ],
    onResponse: (route, status) => ops.metrics.request(route, status),
  });
  await ops.start(amazon);
  sink = (e) => auditTokenEvent(app.context.audit, e);
  const cap = connectionLimit(config.maxConnections, openFileLimit());
  if (cap.reducedFrom !== undefined) {
    log.warn('SPAPI_AUTH_MAX_CONNECTIONS is above what the open-file limit (ulimit -n) leaves room for', {
      count: cap.limit,
    });
  }
  const server = await listen(app.handle, {
    port: opts.port ?? config.port,
    host: config.host,
    headersTimeoutMs: config.headersTimeoutS * 1000,
    requestTimeoutMs: config.requestTimeoutS * 1000,
    keepAliveTimeoutMs: config.keepAliveTimeoutS * 1000,
    maxConnections: cap.limit,
    shareExempt: trustedProxyCheck(config.trustedProxies),
  });
  ops.metrics.connections = server.connections;
  const stopPurge = startPurge(store, log);
  // Profiles the callback or an import could not read (throttled, Amazon down) are fetched later.
  const stopProfiles = startProfileSweep({ store, amazon, log, now: Date.now });
  const refresher = startRefresher(config, store, tokens, log);
  let closing: Promise<void> | undefined;
  return {
    app,
    server,
    store,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        stopPurge();
        stopProfiles();
        // Refreshes in flight finish (their lease and commit) before the store closes.
        await refresher?.stop();
        await usage?.close();
        await throttle.close();
        await ops.close();
        await app.close();
        tokens.close?.();
        await store.close();
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
 * Starts the proactive refresher when `SPAPI_AUTH_REFRESH_RATE_LIMIT` is above 0 (and the token
 * source can refresh ahead of time); returns it, or undefined when off.
 *
 * @example
 * const refresher = startRefresher(config, store, tokens, log);
 * await refresher?.stop();
 */
export function startRefresher(
  config: Pick<Config, 'refreshRateLimit'> & Partial<Pick<Config, 'refreshIdleAfterS'>>,
  store: RefreshDueSource,
  tokens: Pick<ReturnType<typeof createTokenSource>, 'refreshAccessToken'>,
  log: Logger,
): Refresher | undefined {
  const refresh = tokens.refreshAccessToken;
  if (config.refreshRateLimit <= 0 || refresh === undefined) return undefined;
  const refresher = createRefresher({
    store,
    refresh: (key, minExpiresAt) => refresh.call(tokens, key, minExpiresAt),
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
