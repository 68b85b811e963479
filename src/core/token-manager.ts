/**
 * The token manager: access tokens per (selling partner, region), grantless tokens per scope and
 * restricted data tokens per request shape — cached in memory until their expiry minus a margin,
 * refreshed once at a time (single-flight in the process, the vault's lease across processes),
 * with the LWA outcomes turned into seller state. Composed of three parts: the access-token cache
 * and its lease flow (`access-tokens.ts`), the LWA throttle and circuit breaker (`lwa-guard.ts`),
 * and single-flight caches (`single-flight.ts`) for grantless and restricted data tokens.
 */
import { AccessTokens } from './access-tokens.js';
import { SpApiError, isSpapiAuthError } from './errors.js';
import type { ErrorCode } from './errors.js';
import {
  DEFAULT_RETRY,
  defaultSleep,
  withRetries,
  type FetchLike,
  type RetryOptions,
  type SleepFn,
} from './http.js';
import {
  getGrantlessToken as lwaGrantless,
  refreshAccessToken as lwaRefresh,
  type GrantlessParams,
  type LwaCallOptions,
  type LwaCredentials,
  type LwaTokenResult,
} from './lwa.js';
import {
  createLwaGuard,
  createLwaThrottle,
  type BreakerOptions,
  type BreakerState,
  type LwaGuard,
  type LwaThrottle,
} from './lwa-guard.js';
import { isRegion } from './marketplaces.js';
import { SELLING_PARTNER_ID_RE } from './consent.js';
import { REFRESH_JITTER_MS, REFRESH_MARGIN_MS, refreshLeadMs } from './refresh-point.js';
import {
  DEFAULT_USER_AGENT,
  buildRestrictedDataTokenRequest,
  canonicalResources,
  processRestrictedDataTokenResponse,
  type RestrictedDataTokenRequest,
} from './rdt.js';
import { SingleFlightCache, type CacheEntry } from './single-flight.js';
import type { AccessToken, SellerTokenKey, TokenVault } from './token-vault.js';

export type { BreakerOptions, BreakerState, LwaThrottle } from './lwa-guard.js';

/** What the manager reports, for metrics, audit and webhooks. Keys and codes only; never a token. */
export type TokenEventType =
  | 'cache_hit'
  | 'vault_hit'
  | 'refresh'
  | 'refresh_failed'
  | 'single_flight_join'
  | 'lease_wait'
  | 'invalid_grant'
  | 'invalid_client'
  | 'client_secret_switched'
  | 'breaker_open'
  | 'breaker_close'
  | 'stale_served'
  | 'grantless_refresh'
  | 'rdt_created'
  | 'invalidated';

/**
 * One event. `cache_hit` events are preallocated per token and reused on every hit (the hot path
 * allocates nothing): treat events as read-only and copy what you keep.
 */
export interface TokenEvent {
  readonly type: TokenEventType;
  readonly key?: SellerTokenKey;
  readonly scope?: string;
  /** Time spent in the LWA or Tokens API call, or waiting (lease waits). */
  readonly durationMs?: number;
  readonly code?: ErrorCode;
}

/**
 * Options of {@link createTokenManager}: the credentials and the vault are required.
 *
 * @example
 * const options: TokenManagerOptions = { credentials: { clientId, clientSecret }, vault: createMemoryTokenVault() };
 * const tokens = createTokenManager(options);
 */
export interface TokenManagerOptions {
  readonly credentials: LwaCredentials;
  /** Where refresh tokens live: {@link createMemoryTokenVault}, or the service's store. */
  readonly vault: TokenVault;
  /** Send every Amazon call (LWA, SP-API) to this base URL (the emulator). */
  readonly amazonUrl?: string;
  /** Call the SP-API sandbox endpoints (for the Tokens API). */
  readonly sandbox?: boolean;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  readonly sleep?: SleepFn;
  readonly random?: () => number;
  /** LWA retry bounds. Default 3 attempts, 4 s each, no retry after 8 s (inside the 15 s lease). */
  readonly retry?: RetryOptions;
  /** Refresh this long before expiry. Default 5 minutes; never more than a fifth of the lifetime. */
  readonly marginMs?: number;
  /** Random extra margin, up to this much. Default 1 minute. */
  readonly jitterMs?: number;
  /** Lease time-to-live; must exceed the LWA timeout. Default 15,000 ms. */
  readonly leaseTtlMs?: number;
  /** How long to wait for another instance's refresh in total. Default 12,000 ms. */
  readonly leaseWaitMs?: number;
  readonly breaker?: BreakerOptions;
  /**
   * The app-wide pause after an LWA 429 (default: one of this manager's own). Pass one made by
   * `createLwaThrottle({ onPause })` to observe pauses, or your own to impose a pause shared by
   * several instances.
   */
  readonly throttle?: LwaThrottle;
  /** How long a seller found `reauthorization_required` is answered from memory. Default 5,000 ms. */
  readonly sellerStatusMemoMs?: number;
  /** User-Agent for the Tokens API call (Amazon's format; see `buildUserAgent`). */
  readonly userAgent?: string;
  /** Receives {@link TokenEvent}s; keep it cheap, it runs on the hot path. */
  readonly onEvent?: (event: TokenEvent) => void;
}

/** Options of one call. */
export interface TokenCallOptions {
  /** Stops waiting (the shared refresh carries on for the others). */
  readonly signal?: AbortSignal;
}

/** Options of {@link TokenManager.refreshAccessToken}. */
export interface TokenRefreshOptions extends TokenCallOptions {
  /**
   * Keep a token (in memory or in the vault, e.g. refreshed meanwhile by another instance) that
   * expires at or after this time (epoch ms) instead of refreshing; default: always refresh.
   */
  readonly minExpiresAt?: number;
}

/** A restricted data token and its expiry. */
export interface RestrictedDataToken {
  readonly restrictedDataToken: string;
  /** Epoch ms, from the time before the Tokens API request. */
  readonly expiresAt: number;
}

/**
 * The token manager: access tokens per seller (cached, refreshed once however many callers ask),
 * grantless tokens and restricted data tokens.
 *
 * @example
 * const tokens: TokenManager = createTokenManager({ credentials, vault });
 * const { accessToken } = await tokens.getAccessToken({ sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' });
 */
export interface TokenManager {
  /**
   * A valid access token for a seller in a region: from memory, the vault, or one LWA refresh.
   * Rejects with `reauthorization_required`, `seller_not_found`, `invalid_client`,
   * `upstream_unavailable`, `rate_limited`…
   */
  getAccessToken(key: SellerTokenKey, options?: TokenCallOptions): Promise<AccessToken>;
  /**
   * The token {@link getAccessToken} would answer from memory right now (before its refresh
   * point), synchronously, or undefined: for a hot path that wants no promise. Counts as a cache hit.
   */
  peekAccessToken(key: SellerTokenKey): AccessToken | undefined;
  /**
   * Refreshes a seller's access token ahead of its refresh point (proactive refresh), through the
   * same single-flight and vault lease as {@link getAccessToken}: joins a refresh in flight, and
   * makes no LWA call when the token held already expires at or after `minExpiresAt`. Rejects
   * like {@link getAccessToken}; while LWA is unavailable it may resolve to the current token.
   */
  refreshAccessToken(key: SellerTokenKey, options?: TokenRefreshOptions): Promise<AccessToken>;
  /** A grantless token for a scope, cached per scope. */
  getGrantlessToken(scope: GrantlessParams['scope'], options?: TokenCallOptions): Promise<AccessToken>;
  /** A restricted data token, cached per (seller, region, resources, target application). */
  getRestrictedDataToken(
    key: SellerTokenKey,
    request: RestrictedDataTokenRequest,
    options?: TokenCallOptions,
  ): Promise<RestrictedDataToken>;
  /**
   * Drops an access token SP-API rejected early (403), here and in the vault, if it is still current.
   * Given a restricted data token instead, drops that RDT and the access token it was made from.
   */
  invalidate(key: SellerTokenKey, accessToken: string): Promise<void>;
  /** Forgets what memory knows of a seller (after re-authorization or deletion). */
  forget(key: SellerTokenKey): void;
  /** The LWA breaker, for health pages. */
  breakerState(): BreakerState;
  /** Which configured secret LWA accepted last (`'next'` once a rotation was seen). */
  clientSecretInUse(): 'current' | 'next';
}

type RdtEntry = CacheEntry<RestrictedDataToken> & { readonly accessToken: string };

/** What the grantless and restricted-data parts share with the manager. */
interface ManagerParts {
  readonly options: TokenManagerOptions;
  readonly now: () => number;
  readonly sleep: SleepFn;
  readonly random: () => number;
  readonly retry: Required<RetryOptions>;
  readonly leaseWaitMs: number;
  readonly emit: (event: TokenEvent) => void;
  readonly refreshAtOf: (expiresAt: number, lifetime: number) => number;
  readonly usable: (t: AccessToken | null | undefined) => AccessToken | undefined;
  /** One LWA call through the guard with the preferred secret. */
  readonly callLwa: <T extends LwaTokenResult>(
    call: (c: LwaCredentials, o: LwaCallOptions) => Promise<T>,
    deadline: number,
    hasStale: boolean,
  ) => Promise<T>;
}

function assertKey(key: SellerTokenKey): void {
  if (
    typeof key !== 'object' ||
    key === null ||
    !isRegion(key.region) ||
    typeof key.sellingPartnerId !== 'string' ||
    !SELLING_PARTNER_ID_RE.test(key.sellingPartnerId)
  ) {
    throw new TypeError("key must be { sellingPartnerId, region: 'na' | 'eu' | 'fe' }");
  }
}

function checkOptions(options: TokenManagerOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('options are required');
  if (typeof options.vault?.load !== 'function') throw new TypeError('vault must implement TokenVault');
  const c = options.credentials;
  if (typeof c?.clientId !== 'string' || typeof c.clientSecret !== 'string') {
    throw new TypeError('credentials need clientId and clientSecret');
  }
}

/**
 * Creates a token manager.
 *
 * @example
 * const vault = createMemoryTokenVault();
 * vault.put({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' }, refreshToken);
 * const tokens = createTokenManager({ credentials: { clientId, clientSecret }, vault });
 * const { accessToken } = await tokens.getAccessToken({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' });
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  checkOptions(options);
  const { vault, onEvent } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const marginMs = options.marginMs ?? REFRESH_MARGIN_MS;
  const jitterMs = options.jitterMs ?? REFRESH_JITTER_MS;
  const leaseWaitMs = options.leaseWaitMs ?? 12_000;
  // A refresh, retries included, must end well inside the lease (15 s): 4 s per attempt, and no
  // retry starts after 8 s, so the worst case is about 12 s.
  const retry = { ...DEFAULT_RETRY, timeoutMs: 4_000, maxTotalMs: 8_000, ...options.retry };

  const emit = (event: TokenEvent): void => {
    if (onEvent !== undefined) {
      try {
        onEvent(event);
      } catch {
        // A failing listener must not break token delivery.
      }
    }
  };
  /** The refresh point (`refresh-point.ts`), with this manager's margin and jitter. */
  const refreshAtOf = (expiresAt: number, lifetime: number): number =>
    expiresAt - refreshLeadMs(lifetime, random(), marginMs, jitterMs);

  // LWA throttles per client id: a 429 with Retry-After holds back every LWA call of this manager,
  // learnt from the retry loop the moment the 429 arrives, not when the call ends.
  const guard: LwaGuard = createLwaGuard({
    now,
    sleep,
    throttle: options.throttle ?? createLwaThrottle(),
    ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
    maxRetryWaitMs: retry.maxTotalMs,
    onEvent: emit,
  });

  // Which of the two configured secrets to try first. Kept as a flag rather than a copy of the
  // credentials so that a live credentials object (the service's client-secret ring, whose getters
  // change after a rotation) keeps being read on every call.
  let preferNext = false;
  const credentials = (): LwaCredentials => {
    const c = options.credentials;
    return preferNext && c.clientSecretNext !== undefined
      ? { clientId: c.clientId, clientSecret: c.clientSecretNext, clientSecretNext: c.clientSecret }
      : c;
  };
  const lwaOptions = (): LwaCallOptions => ({
    ...(options.amazonUrl === undefined ? {} : { amazonUrl: options.amazonUrl }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    now,
    sleep: guard.sleep,
    random,
    retry,
    onThrottle: guard.onThrottle,
  });
  const callLwa: ManagerParts['callLwa'] = async (call, deadline, hasStale) => {
    const res = await guard.call(() => call(credentials(), lwaOptions()), deadline, hasStale);
    if (res.clientSecretUsed === 'next') {
      // Prefer the secret that worked, keep the other as the fallback.
      preferNext = !preferNext;
      emit({ type: 'client_secret_switched' });
    }
    return res;
  };

  const access = new AccessTokens({
    vault,
    guard,
    now,
    sleep,
    random,
    leaseTtlMs: options.leaseTtlMs ?? 15_000,
    leaseWaitMs,
    memoMs: options.sellerStatusMemoMs ?? 5_000,
    refreshAtOf,
    refresh: (refreshToken, deadline, hasStale) =>
      callLwa((c, o) => lwaRefresh(c, refreshToken, o), deadline, hasStale),
    emit,
    listening: onEvent !== undefined,
  });
  const parts: ManagerParts = {
    options,
    now,
    sleep,
    random,
    retry,
    leaseWaitMs,
    emit,
    refreshAtOf,
    usable: (t) => access.usable(t),
    callLwa,
  };
  const grantless = new SingleFlightCache<AccessToken>(now);
  const rdts = new SingleFlightCache<RestrictedDataToken, RdtEntry>(now);

  const slowAccessToken = async (
    key: SellerTokenKey,
    signal: AbortSignal | undefined,
    minExpiresAt?: number,
  ): Promise<AccessToken> => {
    assertKey(key);
    return access.load(key, signal, minExpiresAt);
  };

  const manager: TokenManager = {
    getAccessToken(key, callOptions) {
      if (key !== null && typeof key === 'object') {
        const hit = access.cached(key);
        if (hit !== undefined) return hit;
      }
      return slowAccessToken(key, callOptions?.signal);
    },

    peekAccessToken(key) {
      // Only the shape is checked on this hot path: a key that is not cached finds nothing.
      if (key === null || typeof key !== 'object') assertKey(key);
      return access.peek(key);
    },

    refreshAccessToken(key, refreshOptions) {
      const min = refreshOptions?.minExpiresAt;
      if (min !== undefined && !Number.isFinite(min)) {
        return Promise.reject(new TypeError('minExpiresAt must be epoch ms'));
      }
      if (key !== null && typeof key === 'object' && min !== undefined) {
        const lasting = access.lasting(key, min);
        if (lasting !== undefined) return lasting;
      }
      return slowAccessToken(key, refreshOptions?.signal, min ?? Number.POSITIVE_INFINITY);
    },

    getGrantlessToken(scope, callOptions) {
      const e = grantless.fresh(scope);
      if (e !== undefined) return Promise.resolve(e.value);
      if (typeof scope !== 'string' || !/^[A-Za-z0-9:_. -]{1,256}$/.test(scope)) {
        return Promise.reject(
          new TypeError('scope must be a grantless scope such as sellingpartnerapi::notifications'),
        );
      }
      return grantless.load(scope, () => fetchGrantless(parts, grantless, scope), callOptions?.signal);
    },

    async getRestrictedDataToken(key, request, callOptions) {
      assertKey(key);
      const resources = canonicalResources(request.restrictedResources);
      const cacheKey = `${key.region}:${key.sellingPartnerId}:${request.targetApplication ?? ''}:${JSON.stringify(resources)}`;
      const e = rdts.fresh(cacheKey);
      if (e !== undefined) return e.value;
      return rdts.load(
        cacheKey,
        () => fetchRdt(parts, rdts, manager, key, { ...request, restrictedResources: resources }, cacheKey),
        callOptions?.signal,
      );
    },

    async invalidate(key, accessToken) {
      assertKey(key);
      const prefix = `${key.region}:${key.sellingPartnerId}:`;
      const rdt = rdts.find((k, r) => k.startsWith(prefix) && r.value.restrictedDataToken === accessToken);
      if (rdt !== undefined) {
        rdts.delete(rdt.key);
        return manager.invalidate(key, rdt.entry.accessToken);
      }
      access.drop(key, accessToken);
      emit({ type: 'invalidated', key });
      await vault.discardAccessToken?.(key, accessToken);
    },

    forget(key) {
      assertKey(key);
      access.forget(key);
      const prefix = `${key.region}:${key.sellingPartnerId}:`;
      rdts.deleteWhere((k) => k.startsWith(prefix));
    },

    breakerState: () => guard.state(),

    clientSecretInUse: () => (preferNext ? 'next' : 'current'),
  };
  return manager;
}

/** One grantless LWA call; on a transient failure, the previous token while it is still valid. */
async function fetchGrantless(
  parts: ManagerParts,
  cache: SingleFlightCache<AccessToken>,
  scope: string,
): Promise<AccessToken> {
  const { now, emit } = parts;
  const previous = parts.usable(cache.entry(scope)?.value);
  const started = now();
  try {
    const res = await parts.callLwa(
      (c, o) => lwaGrantless(c, scope, o),
      started + parts.leaseWaitMs,
      previous !== undefined,
    );
    const token = Object.freeze({ accessToken: res.accessToken, expiresAt: res.expiresAt });
    cache.set(scope, {
      value: token,
      refreshAt: parts.refreshAtOf(res.expiresAt, res.expiresAt - res.issuedAt),
    });
    emit({ type: 'grantless_refresh', scope, durationMs: now() - started });
    return token;
  } catch (err) {
    if (isSpapiAuthError(err) && err.code === 'invalid_client')
      emit({ type: 'invalid_client', scope, code: err.code });
    if (previous !== undefined && isSpapiAuthError(err) && err.retryable) {
      emit({ type: 'stale_served', scope, code: err.code });
      return previous;
    }
    throw err;
  }
}

/**
 * One Tokens API call (retried on 429 and 5xx) with the seller's access token; a 403 means the
 * access token was rejected before its time: it is dropped, refreshed once and the call retried once.
 */
async function fetchRdt(
  parts: ManagerParts,
  cache: SingleFlightCache<RestrictedDataToken, RdtEntry>,
  manager: TokenManager,
  key: SellerTokenKey,
  request: RestrictedDataTokenRequest,
  cacheKey: string,
): Promise<RestrictedDataToken> {
  const { options, now, sleep, random } = parts;
  const fetchFn = options.fetch ?? ((r: Request) => fetch(r));
  const endpoint = {
    ...(options.amazonUrl === undefined ? {} : { amazonUrl: options.amazonUrl }),
    sandbox: options.sandbox === true,
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
  };
  let invalidated = false;
  for (;;) {
    const access = await manager.getAccessToken(key);
    const started = now();
    try {
      const res = await withRetries(
        async (signal) =>
          processRestrictedDataTokenResponse(
            await fetchFn(
              new Request(
                buildRestrictedDataTokenRequest(key.region, access.accessToken, request, endpoint),
                {
                  signal,
                },
              ),
            ),
          ),
        (err) =>
          err instanceof SpApiError && (err.status === 429 || (err.status ?? 0) >= 500)
            ? err.retryAfterMs === undefined
              ? { retry: true }
              : { retry: true, afterMs: err.retryAfterMs }
            : { retry: false },
        parts.retry,
        { now, sleep, random },
      );
      const token = Object.freeze({
        restrictedDataToken: res.restrictedDataToken,
        expiresAt: started + res.expiresIn * 1000,
      });
      cache.set(cacheKey, {
        value: token,
        refreshAt: parts.refreshAtOf(token.expiresAt, res.expiresIn * 1000),
        accessToken: access.accessToken,
      });
      parts.emit({ type: 'rdt_created', key, durationMs: now() - started });
      return token;
    } catch (err) {
      if (err instanceof SpApiError && err.status === 403 && !invalidated) {
        invalidated = true;
        await manager.invalidate(key, access.accessToken);
        continue;
      }
      throw err;
    }
  }
}
