/**
 * The service's token source: access tokens from memory, then from the store (shared by every
 * instance and restart), then from one refresh per seller across the cluster (in-process
 * single-flight plus the store's lease and compare-and-set, see core/token-vault.ts); grantless
 * tokens cached per scope; restricted data tokens cached per request shape.
 *
 * It speaks to LWA only through the core's client (`core/lwa.ts`) and to the store only through
 * the core's `TokenVault` seam (`storage/token-vault.ts`).
 */
import { AuthorizationError, LwaError, SpApiError, isSpapiAuthError } from '../core/errors.js';
import type { FetchLike } from '../core/http.js';
import { getGrantlessToken, refreshAccessToken, type GrantlessScope } from '../core/lwa.js';
import { spapiEndpoint } from '../core/marketplaces.js';
import type { AccessToken, SellerTokenKey, TokenVault } from '../core/token-vault.js';
import type { Config } from '../config.js';
import { createStoreTokenVault } from '../storage/token-vault.js';
import type { Store } from '../storage/store.js';
import { credentialsOf, type TokenSource } from './amazon.js';
import type { RdtRequest, RestrictedDataToken } from './context.js';
import type { Logger } from './log.js';

const LEASE_TTL_MS = 15_000;
const WAIT_DEADLINE_MS = 12_000;
const MARGIN_MS = 5 * 60_000;
const JITTER_MS = 60_000;
const RDT_MARGIN_MS = 60_000;
const CACHE_MAX = 100_000;

interface Cached {
  readonly token: AccessToken;
  /** When to stop serving it from memory (expiry minus the margin). */
  readonly refreshAt: number;
}

/** Options of {@link createCoreTokenSource}. */
export interface CoreTokenSourceOptions {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly owner: string;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  readonly random?: () => number;
}

/**
 * Builds the token source.
 *
 * @example
 * const tokens = createCoreTokenSource({ config, store, log, owner: 'host:1234' });
 * const t = await tokens.getAccessToken({ sellingPartnerId: 'A1', region: 'na' });
 */
export function createCoreTokenSource(opts: CoreTokenSourceOptions): TokenSource & { close(): void } {
  const { config, log } = opts;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const vault: TokenVault = createStoreTokenVault(opts.store, { owner: opts.owner, now });
  const credentials = credentialsOf(config);
  const transport = {
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(config.amazonUrl ? { amazonUrl: config.amazonUrl } : {}),
  };
  const memory = new Map<string, Cached>();
  const lifetimes = new Map<string, number>();
  const inflight = new Map<string, Promise<AccessToken>>();
  const grantless = new Map<string, Cached>();
  const grantlessInflight = new Map<string, Promise<AccessToken>>();
  const rdts = new Map<string, RestrictedDataToken>();
  let closed = false;

  // Margin: 5 minutes plus up to one of jitter, but never more than a fifth of the token's life.
  const refreshAtOf = (t: AccessToken, issuedAt: number): number => {
    const life = Math.max(0, t.expiresAt - issuedAt);
    return t.expiresAt - Math.min(MARGIN_MS + random() * JITTER_MS, life / 5);
  };
  const remember = (map: Map<string, Cached>, k: string, t: AccessToken, issuedAt: number): void => {
    if (map.size >= CACHE_MAX) map.clear();
    map.set(k, { token: t, refreshAt: refreshAtOf(t, issuedAt) });
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  const obtain = async (key: SellerTokenKey, k: string): Promise<AccessToken> => {
    const deadline = now() + WAIT_DEADLINE_MS;
    let firstVersion: number | undefined;
    for (let attempt = 0; ; attempt++) {
      const state = await vault.load(key);
      if (state === null) throw new AuthorizationError('seller_not_found', 'no such seller in that region');
      if (state.status === 'reauthorization_required') {
        throw new AuthorizationError(
          'reauthorization_required',
          'the seller must authorize the application again',
        );
      }
      if (state.status === 'revoked')
        throw new AuthorizationError('seller_revoked', 'the seller was revoked');
      firstVersion ??= state.version;
      const shared = state.accessToken;
      if (shared !== null) {
        const remaining = shared.expiresAt - now();
        const life = lifetimes.get(k);
        // Fresh: beyond the margin; or beyond a fifth of a short lifetime seen here; or just written
        // by the instance whose refresh we waited for (the row version moved).
        if (
          remaining > MARGIN_MS ||
          (life !== undefined && remaining > life / 5) ||
          (state.version !== firstVersion && remaining > 1_000)
        ) {
          const refreshAt = Math.max(
            now() + Math.min(remaining / 2, 1_000),
            shared.expiresAt - Math.min(MARGIN_MS, (life ?? 3_600_000) / 5),
          );
          memory.set(k, { token: shared, refreshAt });
          return shared;
        }
      }
      const lease = await vault.acquireLease(key, LEASE_TTL_MS);
      if (lease === null) {
        if (now() > deadline) {
          throw new LwaError('upstream_unavailable', 'another instance is still refreshing this token', {
            retryAfterMs: 1_000,
          });
        }
        // Another instance is refreshing: re-read soon (the row changes when it commits).
        await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), 500));
        continue;
      }
      const issuedAt = now();
      let result;
      try {
        result = await refreshAccessToken(credentials, state.refreshToken, transport);
      } catch (err) {
        if (isSpapiAuthError(err, 'reauthorization_required')) {
          await vault.markReauthorizationRequired(key, lease, { code: 'reauthorization_required' });
          log.warn('seller needs re-authorization', { seller_id: key.sellingPartnerId, region: key.region });
        } else {
          const code = isSpapiAuthError(err) ? err.code : 'upstream_unavailable';
          await vault.releaseLease(key, lease, { code }).catch(() => {});
          if (code === 'invalid_client') log.error('LWA refused the client credentials', { code });
        }
        throw err;
      }
      const token: AccessToken = { accessToken: result.accessToken, expiresAt: result.expiresAt };
      const committed = await vault.commitRefresh(key, lease, token);
      if (!committed) continue; // Our lease was taken over: the newer stored token wins.
      remember(memory, k, token, issuedAt);
      if (lifetimes.size >= CACHE_MAX) lifetimes.clear();
      lifetimes.set(k, token.expiresAt - issuedAt);
      log.info('access token refreshed', { seller_id: key.sellingPartnerId, region: key.region });
      return token;
    }
  };

  const getAccessToken = (key: SellerTokenKey): Promise<AccessToken> => {
    const k = `${key.region}|${key.sellingPartnerId}`;
    const hit = memory.get(k);
    if (hit !== undefined && hit.refreshAt > now()) return Promise.resolve(hit.token);
    let p = inflight.get(k);
    if (p === undefined) {
      p = obtain(key, k).finally(() => inflight.delete(k));
      inflight.set(k, p);
    }
    return p;
  };

  const getGrantless = (scope: string): Promise<AccessToken> => {
    const hit = grantless.get(scope);
    if (hit !== undefined && hit.refreshAt > now()) return Promise.resolve(hit.token);
    let p = grantlessInflight.get(scope);
    if (p === undefined) {
      const issuedAt = now();
      p = getGrantlessToken(credentials, scope as GrantlessScope, transport)
        .then((r) => {
          const t = { accessToken: r.accessToken, expiresAt: r.expiresAt };
          remember(grantless, scope, t, issuedAt);
          return t;
        })
        .finally(() => grantlessInflight.delete(scope));
      grantlessInflight.set(scope, p);
    }
    return p;
  };

  const getRdt = async (key: SellerTokenKey, request: RdtRequest): Promise<RestrictedDataToken> => {
    const k = `${key.region}|${key.sellingPartnerId}|${JSON.stringify(request)}`;
    const hit = rdts.get(k);
    if (hit !== undefined && hit.expiresAt - RDT_MARGIN_MS > now()) return hit;
    const access = await getAccessToken(key);
    const base = config.amazonUrl ?? spapiEndpoint(key.region, config.sandbox);
    const doFetch = opts.fetch ?? ((r: Request) => fetch(r));
    const sentAt = now();
    let res: Response;
    try {
      res = await doFetch(
        new Request(`${base}/tokens/2021-03-01/restrictedDataToken`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'x-amz-access-token': access.accessToken,
          },
          body: JSON.stringify(request),
          redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
        }),
      );
    } catch {
      throw new SpApiError('spapi_request_failed', 'the Tokens API could not be reached');
    }
    const text = (await res.text()).slice(0, 16_384);
    if (res.status !== 200) {
      let upstream: string | undefined;
      try {
        upstream = (JSON.parse(text) as { errors?: { code?: string }[] }).errors?.[0]?.code;
      } catch {
        upstream = undefined;
      }
      if (res.status === 403) memory.delete(`${key.region}|${key.sellingPartnerId}`);
      throw new SpApiError('spapi_request_failed', `the Tokens API answered ${res.status}`, {
        status: res.status,
        ...(upstream !== undefined && /^[A-Za-z0-9_.]{1,64}$/.test(upstream)
          ? { upstreamError: upstream }
          : {}),
      });
    }
    let body: {
      restrictedDataToken?: unknown;
      expiresIn?: unknown;
      payload?: { restrictedDataToken?: unknown; expiresIn?: unknown };
    };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new SpApiError('invalid_spapi_response', 'the Tokens API answered something that is not JSON');
    }
    const src = body.restrictedDataToken === undefined && body.payload ? body.payload : body;
    if (
      typeof src.restrictedDataToken !== 'string' ||
      typeof src.expiresIn !== 'number' ||
      !(src.expiresIn > 0)
    ) {
      throw new SpApiError(
        'invalid_spapi_response',
        'the Tokens API answer lacks restrictedDataToken or expiresIn',
      );
    }
    const rdt = { restrictedDataToken: src.restrictedDataToken, expiresAt: sentAt + src.expiresIn * 1000 };
    if (rdts.size >= CACHE_MAX) rdts.clear();
    rdts.set(k, rdt);
    return rdt;
  };

  return {
    peekAccessToken(sellingPartnerId, region) {
      const hit = memory.get(`${region}|${sellingPartnerId}`);
      return hit !== undefined && hit.refreshAt > now() ? hit.token : undefined;
    },
    getAccessToken: (key) =>
      closed ? Promise.reject(new Error('token source closed')) : getAccessToken(key),
    getGrantlessToken: getGrantless,
    getRestrictedDataToken: getRdt,
    forget(key) {
      memory.delete(`${key.region}|${key.sellingPartnerId}`);
      const prefix = `${key.region}|${key.sellingPartnerId}|`;
      for (const k of rdts.keys()) if (k.startsWith(prefix)) rdts.delete(k);
    },
    close() {
      closed = true;
    },
  };
}
