/**
 * Access tokens per (selling partner, region): the memory cache, the vault, and the refresh — one
 * at a time in the process (single-flight) and across processes (the vault's lease, see
 * token-vault.ts for the protocol) — with LWA's answers turned into seller state: `invalid_grant`
 * marks the seller, `invalid_client` leaves it alone, a transient failure keeps serving a token that
 * is still valid.
 */
import {
  AuthorizationError,
  LwaError,
  isSpapiAuthError,
  type ErrorCode,
  type SpapiAuthError,
} from './errors.js';
import type { SleepFn } from './http.js';
import type { LwaTokenResult } from './lwa.js';
import { breakerError, throttleError, type LwaGuard } from './lwa-guard.js';
import type { Region } from './marketplaces.js';
import { ACCESS_TOKEN_LIFETIME_MS } from './lifetimes.js';
import { SingleFlightCache, type CacheEntry } from './single-flight.js';
import type { TokenEvent } from './token-manager.js';
import type {
  AccessToken,
  RefreshLease,
  SellerTokenKey,
  SellerTokenState,
  TokenVault,
} from './token-vault.js';

/** What the access-token cache needs from the manager that composes it. */
export interface AccessTokenDeps {
  readonly vault: TokenVault;
  readonly guard: LwaGuard;
  readonly now: () => number;
  readonly sleep: SleepFn;
  readonly random: () => number;
  readonly leaseTtlMs: number;
  readonly leaseWaitMs: number;
  /** How long a seller found `reauthorization_required` is answered from memory. */
  readonly memoMs: number;
  /** The refresh point of a token (expiry minus the margin). */
  readonly refreshAtOf: (expiresAt: number, lifetime: number) => number;
  /** One LWA refresh through the guard, with the manager's credentials. */
  readonly refresh: (refreshToken: string, deadline: number, hasStale: boolean) => Promise<LwaTokenResult>;
  readonly emit: (event: TokenEvent) => void;
  /** Whether anyone listens (the cache-hit path skips even the call when not). */
  readonly listening: boolean;
}

interface Entry extends CacheEntry<AccessToken> {
  readonly promise: Promise<AccessToken>;
  readonly hit: TokenEvent;
}

type SellerErrorCode = 'reauthorization_required' | 'seller_not_found';

/** A token this close to its expiry is no longer served, even when LWA is down. */
const STALE_GUARD_MS = 5_000;
/** Rounds of load → lease → wait before giving up (so that a frozen test clock cannot spin forever). */
const MAX_ROUNDS = 4;

/**
 * The access-token side of the token manager. The cache-hit path is a Map lookup, a clock read and
 * a comparison returning a promise made once per token: no allocation per call.
 *
 * @example
 * const tokens = new AccessTokens(deps);
 * const t = await tokens.get({ sellingPartnerId: 'A1', region: 'eu' });
 */
export class AccessTokens {
  // Null prototype: a bogus region such as 'constructor' finds nothing instead of a function.
  private readonly caches: Record<Region, SingleFlightCache<AccessToken, Entry>>;
  private readonly statusMemo = new Map<string, { until: number; code: 'reauthorization_required' }>();
  private readonly lifetimes = new Map<string, number>();
  private lastLifetime = ACCESS_TOKEN_LIFETIME_MS;
  // How often a waiter tries to take over the lease (a dead holder's lease expires unannounced).
  private readonly takeoverEveryMs: number;

  constructor(private readonly deps: AccessTokenDeps) {
    this.caches = Object.assign(Object.create(null) as object, {
      na: new SingleFlightCache<AccessToken, Entry>(deps.now),
      eu: new SingleFlightCache<AccessToken, Entry>(deps.now),
      fe: new SingleFlightCache<AccessToken, Entry>(deps.now),
    });
    this.takeoverEveryMs = Math.min(1_000, deps.leaseTtlMs / 4);
  }

  /** The cached token while it is before its refresh point (reported as a cache hit), else undefined. */
  peek(key: SellerTokenKey): AccessToken | undefined {
    const e = this.caches[key.region]?.fresh(key.sellingPartnerId);
    if (e === undefined) return undefined;
    if (this.deps.listening) this.deps.emit(e.hit);
    return e.value;
  }

  /**
   * The cached token's promise while fresh (reported as a cache hit), else undefined. `key` may be
   * anything: the caller checks it before going further.
   */
  cached(key: SellerTokenKey): Promise<AccessToken> | undefined {
    const e = this.caches[key.region]?.fresh(key.sellingPartnerId);
    if (e === undefined) return undefined;
    if (this.deps.listening) this.deps.emit(e.hit);
    return e.promise;
  }

  /** The cached token's promise when it lasts until `minExpiresAt` (a proactive refresh has nothing to do). */
  lasting(key: SellerTokenKey, minExpiresAt: number): Promise<AccessToken> | undefined {
    const e = this.caches[key.region]?.entry(key.sellingPartnerId);
    return e !== undefined && e.value.expiresAt >= minExpiresAt ? e.promise : undefined;
  }

  /**
   * The single-flight refresh of a checked key: joins the one in flight or starts one. With
   * `minExpiresAt`, a stored token that lasts that long is kept instead of refreshing.
   */
  load(key: SellerTokenKey, signal: AbortSignal | undefined, minExpiresAt?: number): Promise<AccessToken> {
    return this.caches[key.region].load(
      key.sellingPartnerId,
      () => this.refreshFlow(key, keyOf(key), minExpiresAt),
      signal,
      () => this.deps.emit({ type: 'single_flight_join', key }),
    );
  }

  /** Drops `accessToken` from memory if it is the cached one. */
  drop(key: SellerTokenKey, accessToken: string): void {
    const cache = this.caches[key.region];
    if (cache.entry(key.sellingPartnerId)?.value.accessToken === accessToken)
      cache.delete(key.sellingPartnerId);
  }

  /** Forgets what memory knows of a seller. */
  forget(key: SellerTokenKey): void {
    this.caches[key.region].delete(key.sellingPartnerId);
    this.statusMemo.delete(keyOf(key));
  }

  /** A token still usable for a short while (served when LWA fails). */
  usable(t: AccessToken | null | undefined): AccessToken | undefined {
    return t != null && t.expiresAt - STALE_GUARD_MS > this.deps.now() ? t : undefined;
  }

  private remember(key: SellerTokenKey, token: AccessToken, lifetime: number): AccessToken {
    const frozen = Object.freeze({ accessToken: token.accessToken, expiresAt: token.expiresAt });
    this.caches[key.region].set(key.sellingPartnerId, {
      value: frozen,
      refreshAt: this.deps.refreshAtOf(token.expiresAt, lifetime),
      promise: Promise.resolve(frozen),
      hit: Object.freeze({ type: 'cache_hit', key: Object.freeze({ ...key }), durationMs: 0 }),
    });
    return frozen;
  }

  private lifetimeOf(k: string): number {
    return this.lifetimes.get(k) ?? this.lastLifetime;
  }

  private checkStatus(k: string, state: SellerTokenState | null): SellerTokenState {
    if (state === null) throw sellerError('seller_not_found');
    if (state.status !== 'active') {
      // Any status but active (a row written by an older version may say `revoked`) needs a new authorization.
      this.statusMemo.set(k, { until: this.deps.now() + this.deps.memoMs, code: 'reauthorization_required' });
      throw sellerError('reauthorization_required');
    }
    return state;
  }

  // `minExpiresAt` set: a proactive refresh, which keeps the stored token only if it lasts that long.
  private async refreshFlow(key: SellerTokenKey, k: string, minExpiresAt?: number): Promise<AccessToken> {
    const { vault, now, guard } = this.deps;
    const memo = this.statusMemo.get(k);
    if (memo !== undefined) {
      if (memo.until > now()) throw sellerError(memo.code);
      this.statusMemo.delete(k);
    }
    const deadline = now() + this.deps.leaseWaitMs;
    const previous = this.caches[key.region].entry(key.sellingPartnerId)?.value;
    for (let round = 0; ; round++) {
      const state = this.checkStatus(k, await vault.load(key));
      const shared = state.accessToken;
      if (
        shared !== null &&
        (minExpiresAt === undefined
          ? now() < this.deps.refreshAtOf(shared.expiresAt, this.lifetimeOf(k)) &&
            shared.accessToken !== previous?.accessToken
          : shared.expiresAt >= minExpiresAt)
      ) {
        const token = this.remember(key, shared, this.lifetimeOf(k));
        this.deps.emit({ type: 'vault_hit', key });
        return token;
      }
      const stale = this.usable(previous) ?? this.usable(shared);
      const blockedFor = guard.breakerBlocked();
      if (blockedFor !== undefined) {
        if (stale !== undefined) {
          this.deps.emit({ type: 'stale_served', key, code: 'upstream_unavailable' });
          return stale;
        }
        throw breakerError(blockedFor);
      }
      const throttledFor = guard.throttledFor();
      if (throttledFor > 0) {
        // Throttled app-wide: serve a still-valid token at once, else wait it out within the deadline.
        if (stale !== undefined) {
          this.deps.emit({ type: 'stale_served', key, code: 'rate_limited' });
          return stale;
        }
        if (now() + throttledFor > deadline || round >= MAX_ROUNDS) throw throttleError(throttledFor);
        await this.deps.sleep(throttledFor);
        continue;
      }
      const lease = await vault.acquireLease(key, this.deps.leaseTtlMs);
      if (lease === null) {
        const waited = await this.waitForOther(key, k, state.version, deadline);
        if (waited !== undefined && 'token' in waited)
          return this.remember(key, waited.token, this.lifetimeOf(k));
        if (waited !== undefined)
          return this.refreshWithLease(key, k, waited.state, waited.lease, stale, deadline);
        if (now() >= deadline || round >= MAX_ROUNDS) {
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
      if (lease.version !== state.version && round < MAX_ROUNDS) {
        // The row changed between our load and our lease: usually another instance has just
        // refreshed and released. Look again rather than make a second LWA call.
        await vault.releaseLease(key, lease).catch(() => undefined);
        continue;
      }
      return this.refreshWithLease(key, k, state, lease, stale, deadline);
    }
  }

  /**
   * Waits for another owner's refresh: re-loads with backoff until a fresher token appears, and
   * tries the lease now and then, so that a dead holder's lease is taken over soon after it
   * expires rather than after this whole wait. Ends with their token, our lease with the state it
   * was taken on (refresh with it), or nothing at the deadline.
   */
  private async waitForOther(
    key: SellerTokenKey,
    k: string,
    version: number,
    deadline: number,
  ): Promise<
    | { readonly token: AccessToken }
    | { readonly lease: RefreshLease; readonly state: SellerTokenState }
    | undefined
  > {
    const { vault, now, random } = this.deps;
    const started = now();
    this.deps.emit({ type: 'lease_wait', key });
    let delay = 25;
    let triedAt = started;
    for (let polls = 0; polls < 100 && now() < deadline; polls++) {
      await this.deps.sleep(Math.floor(delay / 2 + random() * (delay / 2)));
      delay = Math.min(delay * 1.6, 500);
      const state = this.checkStatus(k, await vault.load(key));
      if (state.version !== version && this.usable(state.accessToken) !== undefined) {
        this.deps.emit({ type: 'vault_hit', key, durationMs: now() - started });
        return { token: state.accessToken! };
      }
      // A lease attempt is a write: at most one per takeoverEveryMs per waiting process.
      if (now() - triedAt < this.takeoverEveryMs) continue;
      triedAt = now();
      const lease = await vault.acquireLease(key, this.deps.leaseTtlMs);
      if (lease === null) continue;
      if (lease.version === state.version) return { lease, state };
      // The row changed since this load (someone just wrote it): release and look again.
      await vault.releaseLease(key, lease).catch(() => undefined);
    }
    return undefined;
  }

  private async refreshWithLease(
    key: SellerTokenKey,
    k: string,
    state: SellerTokenState,
    lease: RefreshLease,
    stale: AccessToken | undefined,
    deadline: number,
  ): Promise<AccessToken> {
    const { vault, now } = this.deps;
    const started = now();
    let res: LwaTokenResult;
    try {
      res = await this.deps.refresh(state.refreshToken, deadline, stale !== undefined);
    } catch (err) {
      return this.refreshFailed(key, k, lease, stale, err, now() - started);
    }
    const lifetime = res.expiresAt - res.issuedAt;
    this.lifetimes.set(k, lifetime);
    this.lastLifetime = lifetime;
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
      const theirs = current?.status === 'active' ? this.usable(current.accessToken) : undefined;
      if (theirs !== undefined) return this.remember(key, theirs, lifetime);
    }
    const fresh = this.remember(key, token, lifetime);
    this.deps.emit({ type: 'refresh', key, durationMs: now() - started });
    return fresh;
  }

  /** A failed refresh: `invalid_grant` marks the seller; a transient failure serves `stale` when there is one. */
  private async refreshFailed(
    key: SellerTokenKey,
    k: string,
    lease: RefreshLease,
    stale: AccessToken | undefined,
    err: unknown,
    durationMs: number,
  ): Promise<AccessToken> {
    const code: ErrorCode = isSpapiAuthError(err) ? err.code : 'upstream_unavailable';
    const failure = { code, message: isSpapiAuthError(err) ? err.message : 'refresh failed' };
    if (code === 'reauthorization_required') {
      await this.deps.vault.markReauthorizationRequired(key, lease, failure);
      this.statusMemo.set(k, { until: this.deps.now() + this.deps.memoMs, code });
      this.caches[key.region].delete(key.sellingPartnerId);
      this.deps.emit({ type: 'invalid_grant', key, durationMs, code });
      throw err;
    }
    await this.deps.vault.releaseLease(key, lease, failure).catch(() => undefined);
    if (code === 'invalid_client') {
      this.deps.emit({ type: 'invalid_client', key, durationMs, code });
      throw err;
    }
    this.deps.emit({ type: 'refresh_failed', key, durationMs, code });
    if (stale !== undefined && (err as SpapiAuthError).retryable === true) {
      this.deps.emit({ type: 'stale_served', key, code });
      return stale;
    }
    throw err;
  }
}

function keyOf(key: SellerTokenKey): string {
  return `${key.region}:${key.sellingPartnerId}`;
}

function sellerError(code: SellerErrorCode): AuthorizationError {
  return new AuthorizationError(
    code,
    code === 'reauthorization_required'
      ? 'the seller must authorize the application again'
      : 'no authorization for this seller and region',
  );
}
