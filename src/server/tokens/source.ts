/**
 * The service's token source: the core's token manager (memory → store → one refresh per seller
 * across the cluster; breaker, retries, grantless and RDT caches) over the store-backed
 * `TokenVault`, with its events turned into logs and metrics. The token API's hot path peeks into
 * the manager's own cache (`peekAccessToken`), so that a cached token is served without a promise
 * and exactly while the manager would serve it.
 */
import {
  createTokenManager,
  type LwaThrottle,
  type TokenEvent,
  type TokenManager,
} from '../../core/token-manager.js';
import type { FetchLike } from '../../core/http.js';
import type { LwaCredentials } from '../../core/lwa.js';
import type { Region } from '../../core/marketplaces.js';
import type { AccessToken, SellerTokenKey } from '../../core/token-vault.js';
import type { Config } from '../../config.js';
import { createStoreTokenVault } from '../../storage/token-vault.js';
import type { Store } from '../../storage/store.js';
import { credentialsOf, type TokenSource } from './gateway.js';
import type { Logger } from '../http/log.js';
import type { TokenMetricsSink } from '../ops/metrics.js';
import type { UsageRecorder } from './usage.js';

/** Options of {@link createCoreTokenSource}. */
export interface CoreTokenSourceOptions {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  /** This process's lease owner id. */
  readonly owner: string;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  /** Token manager events (refreshes, failures, breaker), e.g. for audit and metrics. */
  readonly onEvent?: (event: TokenEvent) => void;
  /**
   * The LWA credentials: a live view (rotation.ts: the client-secret ring) or a function read at
   * each call; default: the config's.
   */
  readonly credentials?: LwaCredentials | (() => LwaCredentials);
  /** Token metrics (cache hits, joins, lease waits, refreshes). */
  readonly metrics?: TokenMetricsSink;
  /**
   * Called when a seller's token is handed to a caller (not on proactive refreshes): the hot set's
   * "last used" ({@link UsageRecorder.touch}); synchronous and cheap, it runs on the hot path.
   */
  readonly onUse?: (sellingPartnerId: string, region: Region) => void;
  /** The LWA 429 pause shared by every instance (cluster-throttle.ts); default this process's own. */
  readonly throttle?: LwaThrottle;
}

/**
 * Builds the token source.
 *
 * @example
 * const tokens = createCoreTokenSource({ config, store, log, owner: 'host:1234' });
 * const t = await tokens.getAccessToken({ sellingPartnerId: 'A1', region: 'na' });
 */
export function createCoreTokenSource(opts: CoreTokenSourceOptions): TokenSource & {
  readonly manager: TokenManager;
  /** A proactive refresh (see {@link TokenManager.refreshAccessToken}). */
  refreshAccessToken(key: SellerTokenKey, minExpiresAt: number): Promise<AccessToken>;
  close(): void;
} {
  const { config, log } = opts;
  const now = opts.now ?? Date.now;
  const vault = createStoreTokenVault(opts.store, { owner: opts.owner, now });
  const onEvent = opts.onEvent;
  const metrics = opts.metrics;
  const onUse = opts.onUse ?? ((): void => undefined);
  const manager = createTokenManager({
    credentials: liveCredentials(opts.credentials ?? credentialsOf(config)),
    vault,
    sandbox: config.sandbox,
    ...(config.amazonUrl !== undefined ? { amazonUrl: config.amazonUrl } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
    onEvent: (e) => {
      if (metrics !== undefined) countEvent(metrics, e);
      switch (e.type) {
        case 'cache_hit':
        case 'vault_hit':
        case 'single_flight_join':
        case 'lease_wait':
          break;
        case 'invalid_grant':
          log.warn('seller needs re-authorization', {
            seller_id: e.key?.sellingPartnerId,
            region: e.key?.region,
          });
          break;
        case 'invalid_client':
          log.error('LWA refused the client credentials', { code: 'invalid_client' });
          break;
        case 'refresh':
          log.info('access token refreshed', {
            seller_id: e.key?.sellingPartnerId,
            region: e.key?.region,
            duration_ms: e.durationMs,
          });
          break;
        default:
          log.info(`token manager: ${e.type}`, {
            seller_id: e.key?.sellingPartnerId,
            region: e.key?.region,
            code: e.code,
          });
      }
      onEvent?.(e);
    },
  });
  let closed = false;

  return {
    manager,
    peekAccessToken(sellingPartnerId, region) {
      const token = manager.peekAccessToken({ sellingPartnerId, region });
      if (token !== undefined) onUse(sellingPartnerId, region);
      return token;
    },
    async getAccessToken(key, options) {
      if (closed) throw new Error('token source closed');
      const t = await manager.getAccessToken(key);
      // The service's own requests (the profile sweep) are not uses: they would keep every seller
      // without a profile in the hot set.
      if (options?.use !== 'service') onUse(key.sellingPartnerId, key.region);
      return t;
    },
    async refreshAccessToken(key, minExpiresAt) {
      if (closed) throw new Error('token source closed');
      return manager.refreshAccessToken(key, { minExpiresAt });
    },
    getGrantlessToken: (scope) => manager.getGrantlessToken(scope),
    invalidate: (key, accessToken) => manager.invalidate(key, accessToken),
    async getRestrictedDataToken(key, request) {
      const t = await manager.getRestrictedDataToken(key, request);
      onUse(key.sellingPartnerId, key.region);
      return t;
    },
    forget: (key) => manager.forget(key),
    close() {
      closed = true;
    },
  };
}

function countEvent(metrics: TokenMetricsSink, e: TokenEvent): void {
  switch (e.type) {
    case 'cache_hit':
      metrics.cacheHit();
      break;
    case 'vault_hit':
      metrics.cacheMiss();
      break;
    case 'single_flight_join':
      metrics.singleFlightJoin();
      break;
    case 'lease_wait':
      metrics.leaseWait();
      break;
    case 'refresh':
      metrics.cacheMiss();
      metrics.refreshed('ok', (e.durationMs ?? 0) / 1000);
      break;
    case 'refresh_failed':
    case 'invalid_grant':
      metrics.refreshed(e.code ?? e.type, (e.durationMs ?? 0) / 1000);
      break;
    case 'invalid_client':
      metrics.invalidClient();
      metrics.refreshed('invalid_client', (e.durationMs ?? 0) / 1000);
      break;
    default:
      break;
  }
}

/** Credentials whose fields are read at each call, so a secret accepted by a rotation is used at once. */
function liveCredentials(source: LwaCredentials | (() => LwaCredentials)): LwaCredentials {
  if (typeof source !== 'function') return source;
  return {
    get clientId() {
      return source().clientId;
    },
    get clientSecret() {
      return source().clientSecret;
    },
    get clientSecretNext() {
      return source().clientSecretNext;
    },
  };
}
