/**
 * The token manager: access tokens per (selling partner, region), grantless tokens per scope and
 * restricted data tokens per request shape — cached in memory until their expiry minus a margin,
 * refreshed once at a time (single-flight in the process, the vault's lease across processes),
 * with the LWA outcomes turned into seller state (security.md §3, product.md "Token lifecycle").
 *
 * The cache-hit path is a Map lookup, a clock read and a comparison returning a promise made once
 * per token: no allocation per call.
 */
import {
  AuthorizationError,
  LwaError,
  SpApiError,
  isSpapiAuthError,
  type ErrorCode,
  type SpapiAuthError,
} from './errors.js';
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
import { isRegion, type Region } from './marketplaces.js';
import { SELLING_PARTNER_ID_RE } from './consent.js';
import {
  DEFAULT_USER_AGENT,
  buildRestrictedDataTokenRequest,
  canonicalResources,
  processRestrictedDataTokenResponse,
  type RestrictedDataTokenRequest,
} from './rdt.js';
import type {
  AccessToken,
  RefreshLease,
  SellerTokenKey,
  SellerTokenState,
  TokenVault,
} from './token-vault.js';

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

/** Circuit breaker bounds for LWA (one breaker for the whole app: LWA limits per client id). */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  readonly failureThreshold?: number;
  /** How long it stays open before one probe is let through. Default 30,000 ms. */
  readonly cooldownMs?: number;
}

/** Options of {@link createTokenManager}. */
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
  /** How long a seller found `reauthorization_required` / `revoked` is answered from memory. Default 5,000 ms. */
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

/** The state of the LWA circuit breaker. */
export interface BreakerState {
  readonly state: 'closed' | 'open' | 'half_open';
  readonly consecutiveFailures: number;
  /** Epoch ms until which no LWA call is made (open, or throttled by a 429 `Retry-After`). */
  readonly openUntil: number;
}

/** The token manager. */
export interface TokenManager {
  /**
   * A valid access token for a seller in a region: from memory, the vault, or one LWA refresh.
   * Rejects with `reauthorization_required`, `seller_not_found`, `seller_revoked`,
   * `invalid_client`, `upstream_unavailable`, `rate_limited`…
   */
  getAccessToken(key: SellerTokenKey, options?: TokenCallOptions): Promise<AccessToken>;
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

interface Entry {
  readonly token: AccessToken;
  readonly refreshAt: number;
  readonly promise: Promise<AccessToken>;
  readonly hit: TokenEvent;
}

const HOUR = 3_600_000;
const STALE_GUARD_MS = 5_000;

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
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
  if (typeof options !== 'object' || options === null) throw new TypeError('options are required');
  const { vault, onEvent } = options;
  if (typeof vault?.load !== 'function') throw new TypeError('vault must implement TokenVault');
  const creds0 = options.credentials;
  if (typeof creds0?.clientId !== 'string' || typeof creds0.clientSecret !== 'string') {
    throw new TypeError('credentials need clientId and clientSecret');
  }
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const marginMs = options.marginMs ?? 5 * 60_000;
  const jitterMs = options.jitterMs ?? 60_000;
  const leaseTtlMs = options.leaseTtlMs ?? 15_000;
  const leaseWaitMs = options.leaseWaitMs ?? 12_000;
  // How often a waiter tries to take over the lease (a dead holder's lease expires unannounced).
  const takeoverEveryMs = Math.min(1_000, leaseTtlMs / 4);
  const memoMs = options.sellerStatusMemoMs ?? 5_000;
  const threshold = options.breaker?.failureThreshold ?? 5;
  const cooldownMs = options.breaker?.cooldownMs ?? 30_000;
  // A refresh, retries included, must end well inside the lease (15 s): 4 s per attempt, and no
  // retry starts after 8 s, so the worst case is about 12 s.
  const retry = { ...DEFAULT_RETRY, timeoutMs: 4_000, maxTotalMs: 8_000, ...options.retry };

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
    sleep: lwaSleep,
    random,
    retry,
    onThrottle,
  });

  // Null prototype: a bogus region such as 'constructor' finds nothing instead of a function.
  const caches: Record<Region, Map<string, Entry>> = Object.assign(Object.create(null) as object, {
    na: new Map<string, Entry>(),
    eu: new Map<string, Entry>(),
    fe: new Map<string, Entry>(),
  });
  const inflight = new Map<string, Promise<AccessToken>>();
  const statusMemo = new Map<
    string,
    { until: number; code: 'reauthorization_required' | 'seller_revoked' }
  >();
  const lifetimes = new Map<string, number>();
  let lastLifetime = HOUR;

  const emit = (event: TokenEvent): void => {
    if (onEvent !== undefined) {
      try {
        onEvent(event);
      } catch {
        // A failing listener must not break token delivery.
      }
    }
  };

  /** The refresh point: expiry minus 5 min + jitter, capped at a fifth of the lifetime. */
  const refreshAtOf = (expiresAt: number, lifetime: number): number =>
    expiresAt - Math.min(marginMs + random() * jitterMs, Math.max(0, lifetime) / 5);

  const remember = (key: SellerTokenKey, token: AccessToken, lifetime: number): void => {
    const frozen = Object.freeze({ accessToken: token.accessToken, expiresAt: token.expiresAt });
    caches[key.region].set(key.sellingPartnerId, {
      token: frozen,
      refreshAt: refreshAtOf(token.expiresAt, lifetime),
      promise: Promise.resolve(frozen),
      hit: Object.freeze({ type: 'cache_hit', key: Object.freeze({ ...key }), durationMs: 0 }),
    });
  };

  /** A token still usable for a short while (served when LWA fails). */
  const usable = (t: AccessToken | null | undefined): AccessToken | undefined =>
    t != null && t.expiresAt - STALE_GUARD_MS > now() ? t : undefined;

  // ---- 429 throttle ---------------------------------------------------------------------------
  // LWA throttles per client id (security.md §3.5): a 429 with Retry-After holds back every LWA call
  // of this manager, learnt from the retry loop the moment the 429 arrives, not when the call ends.
  let blockedUntil = 0;
  const onThrottle = (retryAfterMs: number): void => {
    blockedUntil = Math.max(blockedUntil, now() + retryAfterMs);
  };
  const throttleError = (retryAfterMs: number): LwaError =>
    new LwaError('upstream_unavailable', 'LWA throttled this app (429): not calling it before Retry-After', {
      retryAfterMs,
    });
  // Another call's retry waits for the throttle too; past the retry budget it gives up instead.
  const lwaSleep: SleepFn = async (ms, signal) => {
    await sleep(ms, signal);
    const rest = blockedUntil - now();
    if (rest > 0) {
      if (rest > retry.maxTotalMs) throw throttleError(rest);
      await sleep(rest, signal);
    }
  };

  // ---- circuit breaker ----------------------------------------------------------------------
  let failures = 0;
  let openUntil = 0;
  let probing = false;
  const breakerAllow = (): { ok: true } | { ok: false; retryAfterMs: number } => {
    const t = now();
    if (t < openUntil) return { ok: false, retryAfterMs: openUntil - t };
    if (failures >= threshold) {
      if (probing) return { ok: false, retryAfterMs: Math.max(1000, cooldownMs / 10) };
      probing = true;
    }
    return { ok: true };
  };
  /** Would a call be refused now? (Does not take the half-open probe.) */
  const breakerBlocked = (): number | undefined => {
    const t = now();
    if (t < openUntil) return openUntil - t;
    if (failures >= threshold && probing) return Math.max(1000, cooldownMs / 10);
    return undefined;
  };
  const breakerSuccess = (): void => {
    const wasOpen = failures >= threshold;
    failures = 0;
    probing = false;
    if (wasOpen) emit({ type: 'breaker_close' });
  };
  const breakerFailure = (err: unknown): void => {
    probing = false;
    if (
      !isSpapiAuthError(err) ||
      err.code === 'reauthorization_required' ||
      err.code === 'authorization_code_invalid'
    ) {
      return;
    }
    failures++;
    if (failures >= threshold) {
      openUntil = Math.max(openUntil, now() + cooldownMs);
      emit({ type: 'breaker_open', code: err.code });
    }
  };
  const breakerError = (retryAfterMs: number): LwaError =>
    new LwaError('upstream_unavailable', 'LWA circuit breaker is open: not calling LWA for now', {
      retryAfterMs,
    });

  /**
   * One LWA call through the throttle and the breaker. A 429 seen since the caller's own check (or
   * by a caller without one) is waited out when it ends before `deadline` and the caller has no
   * still-valid token to fall back on; otherwise the call is refused without counting as a failure.
   */
  const callLwa = async <T extends LwaTokenResult>(
    call: (c: LwaCredentials) => Promise<T>,
    deadline: number,
    hasStale: boolean,
  ): Promise<T> => {
    const throttledFor = blockedUntil - now();
    if (throttledFor > 0) {
      if (hasStale || now() + throttledFor > deadline) throw throttleError(throttledFor);
      await sleep(throttledFor);
    }
    const gate = breakerAllow();
    if (!gate.ok) throw breakerError(gate.retryAfterMs);
    try {
      const res = await call(credentials());
      breakerSuccess();
      if (res.clientSecretUsed === 'next') {
        // Prefer the secret that worked, keep the other as the fallback.
        preferNext = !preferNext;
        emit({ type: 'client_secret_switched' });
      }
      return res;
    } catch (err) {
      breakerFailure(err);
      throw err;
    }
  };

  // ---- access tokens --------------------------------------------------------------------------
  const sellerError = (
    code: 'reauthorization_required' | 'seller_revoked' | 'seller_not_found',
  ): AuthorizationError =>
    new AuthorizationError(
      code,
      code === 'reauthorization_required'
        ? 'the seller must authorize the application again'
        : code === 'seller_revoked'
          ? 'the seller authorization was revoked'
          : 'no authorization for this seller and region',
    );

  const checkStatus = (k: string, state: SellerTokenState | null): SellerTokenState => {
    if (state === null) throw sellerError('seller_not_found');
    if (state.status !== 'active') {
      const code = state.status === 'revoked' ? 'seller_revoked' : 'reauthorization_required';
      statusMemo.set(k, { until: now() + memoMs, code });
      throw sellerError(code);
    }
    return state;
  };

  const lifetimeOf = (k: string): number => lifetimes.get(k) ?? lastLifetime;

  /**
   * Waits for another owner's refresh: re-loads with backoff until a fresher token appears, and
   * tries the lease now and then, so that a dead holder's lease is taken over soon after it
   * expires (T-C6) rather than after this whole wait. Ends with their token, our lease with the
   * state it was taken on (refresh with it), or nothing at the deadline.
   */
  const waitForOther = async (
    key: SellerTokenKey,
    k: string,
    version: number,
    deadline: number,
  ): Promise<
    | { readonly token: AccessToken }
    | { readonly lease: RefreshLease; readonly state: SellerTokenState }
    | undefined
  > => {
    const started = now();
    emit({ type: 'lease_wait', key });
    let delay = 25;
    let triedAt = started;
    for (let polls = 0; polls < 100 && now() < deadline; polls++) {
      await sleep(Math.floor(delay / 2 + random() * (delay / 2)));
      delay = Math.min(delay * 1.6, 500);
      const state = checkStatus(k, await vault.load(key));
      if (state.version !== version && usable(state.accessToken) !== undefined) {
        emit({ type: 'vault_hit', key, durationMs: now() - started });
        return { token: state.accessToken! };
      }
      // A lease attempt is a write: at most one per takeoverEveryMs per waiting process.
      if (now() - triedAt < takeoverEveryMs) continue;
      triedAt = now();
      const lease = await vault.acquireLease(key, leaseTtlMs);
      if (lease === null) continue;
      if (lease.version === state.version) return { lease, state };
      // The row changed since this load (someone just wrote it): release and look again.
      await vault.releaseLease(key, lease).catch(() => undefined);
    }
    return undefined;
  };

  // `minExpiresAt` set: a proactive refresh, which keeps the stored token only if it lasts that long.
  const refreshFlow = async (key: SellerTokenKey, k: string, minExpiresAt?: number): Promise<AccessToken> => {
    const memo = statusMemo.get(k);
    if (memo !== undefined) {
      if (memo.until > now()) throw sellerError(memo.code);
      statusMemo.delete(k);
    }
    const deadline = now() + leaseWaitMs;
    const previous = caches[key.region].get(key.sellingPartnerId)?.token;
    // Bounded in rounds too, so that a frozen test clock cannot spin forever.
    for (let round = 0; ; round++) {
      const state = checkStatus(k, await vault.load(key));
      const shared = state.accessToken;
      if (
        shared !== null &&
        (minExpiresAt === undefined
          ? now() < refreshAtOf(shared.expiresAt, lifetimeOf(k)) &&
            shared.accessToken !== previous?.accessToken
          : shared.expiresAt >= minExpiresAt)
      ) {
        remember(key, shared, lifetimeOf(k));
        emit({ type: 'vault_hit', key });
        return caches[key.region].get(key.sellingPartnerId)!.token;
      }
      const stale = usable(previous) ?? usable(shared);
      const blockedFor = breakerBlocked();
      if (blockedFor !== undefined) {
        if (stale !== undefined) {
          emit({ type: 'stale_served', key, code: 'upstream_unavailable' });
          return stale;
        }
        throw breakerError(blockedFor);
      }
      const throttledFor = blockedUntil - now();
      if (throttledFor > 0) {
        // Throttled app-wide: serve a still-valid token at once, else wait it out within the deadline.
        if (stale !== undefined) {
          emit({ type: 'stale_served', key, code: 'rate_limited' });
          return stale;
        }
        if (now() + throttledFor > deadline || round >= 4) throw throttleError(throttledFor);
        await sleep(throttledFor);
        continue;
      }
      const lease = await vault.acquireLease(key, leaseTtlMs);
      if (lease === null) {
        const waited = await waitForOther(key, k, state.version, deadline);
        if (waited !== undefined && 'token' in waited) {
          remember(key, waited.token, lifetimeOf(k));
          return caches[key.region].get(key.sellingPartnerId)!.token;
        }
        if (waited !== undefined) {
          return refreshWithLease(key, k, waited.state, waited.lease, stale, deadline);
        }
        if (now() >= deadline || round >= 4) {
          if (stale !== undefined) return stale;
          throw new LwaError(
            'upstream_unavailable',
            'timed out waiting for another instance to refresh the token',
            {
              retryAfterMs: 1000,
            },
          );
        }
        continue;
      }
      if (lease.version !== state.version && round < 4) {
        // The row changed between our load and our lease: usually another instance has just
        // refreshed and released. Look again rather than make a second LWA call.
        await vault.releaseLease(key, lease).catch(() => undefined);
        continue;
      }
      return refreshWithLease(key, k, state, lease, stale, deadline);
    }
  };

  const refreshWithLease = async (
    key: SellerTokenKey,
    k: string,
    state: SellerTokenState,
    lease: RefreshLease,
    stale: AccessToken | undefined,
    deadline: number,
  ): Promise<AccessToken> => {
    const started = now();
    let res: LwaTokenResult;
    try {
      res = await callLwa(
        (c) => lwaRefresh(c, state.refreshToken, lwaOptions()),
        deadline,
        stale !== undefined,
      );
    } catch (err) {
      const code: ErrorCode = isSpapiAuthError(err) ? err.code : 'upstream_unavailable';
      const failure = { code, message: isSpapiAuthError(err) ? err.message : 'refresh failed' };
      const durationMs = now() - started;
      if (code === 'reauthorization_required') {
        await vault.markReauthorizationRequired(key, lease, failure);
        statusMemo.set(k, { until: now() + memoMs, code });
        caches[key.region].delete(key.sellingPartnerId);
        emit({ type: 'invalid_grant', key, durationMs, code });
        throw err;
      }
      await vault.releaseLease(key, lease, failure).catch(() => undefined);
      if (code === 'invalid_client') {
        emit({ type: 'invalid_client', key, durationMs, code });
        throw err;
      }
      emit({ type: 'refresh_failed', key, durationMs, code });
      if (stale !== undefined && (err as SpapiAuthError).retryable === true) {
        emit({ type: 'stale_served', key, code });
        return stale;
      }
      throw err;
    }
    const lifetime = res.expiresAt - res.issuedAt;
    lifetimes.set(k, lifetime);
    lastLifetime = lifetime;
    const token: AccessToken = { accessToken: res.accessToken, expiresAt: res.expiresAt };
    // LWA may rotate the refresh token (it echoes the same one today); a dropped rotated token
    // would make the next refresh present a spent one and lock the seller out.
    const rotated =
      res.refreshToken !== undefined && res.refreshToken !== state.refreshToken
        ? res.refreshToken
        : undefined;
    if (!(await vault.commitRefresh(key, lease, token, rotated))) {
      // Our lease was taken over (we were paused): a newer token may be stored; prefer it.
      const current = await vault.load(key);
      const theirs = current?.status === 'active' ? usable(current.accessToken) : undefined;
      if (theirs !== undefined) {
        remember(key, theirs, lifetime);
        return caches[key.region].get(key.sellingPartnerId)!.token;
      }
    }
    remember(key, token, lifetime);
    emit({ type: 'refresh', key, durationMs: now() - started });
    return caches[key.region].get(key.sellingPartnerId)!.token;
  };

  const slowAccessToken = async (
    key: SellerTokenKey,
    options: TokenCallOptions | undefined,
    minExpiresAt?: number,
  ): Promise<AccessToken> => {
    assertKey(key);
    const k = `${key.region}:${key.sellingPartnerId}`;
    let p = inflight.get(k);
    if (p !== undefined) {
      emit({ type: 'single_flight_join', key });
    } else {
      p = refreshFlow(key, k, minExpiresAt).finally(() => inflight.delete(k));
      inflight.set(k, p);
    }
    return raceSignal(p, options?.signal);
  };

  // ---- grantless ------------------------------------------------------------------------------
  const grantless = new Map<string, { token: AccessToken; refreshAt: number }>();
  const grantlessInflight = new Map<string, Promise<AccessToken>>();
  const fetchGrantless = async (scope: string): Promise<AccessToken> => {
    const previous = usable(grantless.get(scope)?.token);
    const started = now();
    try {
      const res = await callLwa(
        (c) => lwaGrantless(c, scope, lwaOptions()),
        started + leaseWaitMs,
        previous !== undefined,
      );
      const token = Object.freeze({ accessToken: res.accessToken, expiresAt: res.expiresAt });
      grantless.set(scope, { token, refreshAt: refreshAtOf(res.expiresAt, res.expiresAt - res.issuedAt) });
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
  };

  // ---- restricted data tokens -----------------------------------------------------------------
  const rdts = new Map<string, { token: RestrictedDataToken; refreshAt: number; accessToken: string }>();
  const rdtInflight = new Map<string, Promise<RestrictedDataToken>>();
  const fetchRdt = async (
    key: SellerTokenKey,
    request: RestrictedDataTokenRequest,
    cacheKey: string,
  ): Promise<RestrictedDataToken> => {
    const fetchFn = options.fetch ?? ((r: Request) => fetch(r));
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
                  buildRestrictedDataTokenRequest(key.region, access.accessToken, request, {
                    ...(options.amazonUrl === undefined ? {} : { amazonUrl: options.amazonUrl }),
                    sandbox: options.sandbox === true,
                    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
                  }),
                  { signal },
                ),
              ),
            ),
          (err) =>
            err instanceof SpApiError && (err.status === 429 || (err.status ?? 0) >= 500)
              ? err.retryAfterMs === undefined
                ? { retry: true }
                : { retry: true, afterMs: err.retryAfterMs }
              : { retry: false },
          retry,
          { now, sleep, random },
        );
        const token = Object.freeze({
          restrictedDataToken: res.restrictedDataToken,
          expiresAt: started + res.expiresIn * 1000,
        });
        rdts.set(cacheKey, {
          token,
          refreshAt: refreshAtOf(token.expiresAt, res.expiresIn * 1000),
          accessToken: access.accessToken,
        });
        emit({ type: 'rdt_created', key, durationMs: now() - started });
        return token;
      } catch (err) {
        if (err instanceof SpApiError && err.status === 403 && !invalidated) {
          // The access token was rejected before its time: drop it, refresh once, retry once.
          invalidated = true;
          await manager.invalidate(key, access.accessToken);
          continue;
        }
        throw err;
      }
    }
  };

  const manager: TokenManager = {
    getAccessToken(key, callOptions) {
      if (key !== null && typeof key === 'object') {
        const e = caches[key.region]?.get(key.sellingPartnerId);
        if (e !== undefined && now() < e.refreshAt) {
          if (onEvent !== undefined) emit(e.hit);
          return e.promise;
        }
      }
      return slowAccessToken(key, callOptions);
    },

    refreshAccessToken(key, refreshOptions) {
      const min = refreshOptions?.minExpiresAt;
      if (min !== undefined && !Number.isFinite(min)) {
        return Promise.reject(new TypeError('minExpiresAt must be epoch ms'));
      }
      if (key !== null && typeof key === 'object') {
        const e = caches[key.region]?.get(key.sellingPartnerId);
        if (e !== undefined && min !== undefined && e.token.expiresAt >= min) return e.promise;
      }
      return slowAccessToken(key, refreshOptions, min ?? Number.POSITIVE_INFINITY);
    },

    getGrantlessToken(scope, callOptions) {
      const e = grantless.get(scope);
      if (e !== undefined && now() < e.refreshAt) return Promise.resolve(e.token);
      if (typeof scope !== 'string' || !/^[A-Za-z0-9:_. -]{1,256}$/.test(scope)) {
        return Promise.reject(
          new TypeError('scope must be a grantless scope such as sellingpartnerapi::notifications'),
        );
      }
      let p = grantlessInflight.get(scope);
      if (p === undefined) {
        p = fetchGrantless(scope).finally(() => grantlessInflight.delete(scope));
        grantlessInflight.set(scope, p);
      }
      return raceSignal(p, callOptions?.signal);
    },

    async getRestrictedDataToken(key, request, callOptions) {
      assertKey(key);
      const resources = canonicalResources(request.restrictedResources);
      const cacheKey = `${key.region}:${key.sellingPartnerId}:${request.targetApplication ?? ''}:${JSON.stringify(resources)}`;
      const e = rdts.get(cacheKey);
      if (e !== undefined && now() < e.refreshAt) return e.token;
      let p = rdtInflight.get(cacheKey);
      if (p === undefined) {
        p = fetchRdt(key, { ...request, restrictedResources: resources }, cacheKey).finally(() =>
          rdtInflight.delete(cacheKey),
        );
        rdtInflight.set(cacheKey, p);
      }
      return raceSignal(p, callOptions?.signal);
    },

    async invalidate(key, accessToken) {
      assertKey(key);
      const prefix = `${key.region}:${key.sellingPartnerId}:`;
      for (const [k, r] of rdts) {
        if (k.startsWith(prefix) && r.token.restrictedDataToken === accessToken) {
          rdts.delete(k);
          return manager.invalidate(key, r.accessToken);
        }
      }
      const e = caches[key.region].get(key.sellingPartnerId);
      if (e !== undefined && e.token.accessToken === accessToken)
        caches[key.region].delete(key.sellingPartnerId);
      emit({ type: 'invalidated', key });
      await vault.discardAccessToken?.(key, accessToken);
    },

    forget(key) {
      assertKey(key);
      caches[key.region].delete(key.sellingPartnerId);
      statusMemo.delete(`${key.region}:${key.sellingPartnerId}`);
      const prefix = `${key.region}:${key.sellingPartnerId}:`;
      for (const k of rdts.keys()) if (k.startsWith(prefix)) rdts.delete(k);
    },

    breakerState() {
      const t = now();
      const until = Math.max(openUntil, blockedUntil);
      return Object.freeze({
        state: t < until ? 'open' : failures >= threshold ? 'half_open' : 'closed',
        consecutiveFailures: failures,
        openUntil: until,
      });
    },

    clientSecretInUse: () => (preferNext ? 'next' : 'current'),
  };
  return manager;
}
