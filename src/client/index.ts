/**
 * `spapi-auth/client`: the token API's client for the app's workers, when the service runs
 * elsewhere. Zero dependencies, no `node:` imports, `fetch` injected (the global by default).
 *
 * - One request per seller and region however many callers ask at once (single-flight), and none
 *   while the token it holds is before `expires_at` minus a margin (1 minute by default).
 * - Bounded retries: `Retry-After` is honoured (429, 503) when it fits in the time budget; 5xx
 *   answers and network errors are retried after full-jitter backoff; 3 attempts in all by default.
 * - The service's error codes as {@link TokenApiError}s; no token or API key in any error.
 * - A {@link TokenProvider} (what the SDK adapters take), like the library's token manager.
 */
import { DEFAULT_RETRY, readCappedText, parseRetryAfter, withRetries } from '../core/http.js';
import type { FetchLike, RetryOptions, SleepFn } from '../core/http.js';
import type { Region } from '../core/marketplaces.js';
import type { RestrictedDataTokenRequest } from '../core/rdt.js';
import type { GrantlessScope } from '../core/scopes.js';
import { SingleFlightCache } from '../core/single-flight.js';
import type { AccessToken, SellerTokenKey } from '../core/token-vault.js';
import { TokenApiError, wireCode } from './errors.js';
import type {
  AccessTokenBody,
  GrantlessTokenBody,
  RestrictedDataTokenBody,
  Seller,
  SellerPage,
  SellerStatus,
} from './wire.js';

export {
  TOKEN_API_ERROR_CODES,
  TokenApiError,
  isReauthorizationRequired,
  type TokenApiErrorCode,
} from './errors.js';
export type * from './wire.js';
export type { AccessToken, FetchLike, GrantlessScope, Region, RestrictedDataTokenRequest, RetryOptions };
export type { SellerTokenKey, SleepFn };

/** Options of {@link createTokenClient}: the service's URL and an API key are required. */
export interface TokenClientOptions {
  /** The service's base URL, e.g. `https://auth.internal.example.com`. */
  readonly baseUrl: string;
  /** An API key with `tokens:read` (and `sellers:read` for the seller calls). */
  readonly apiKey: string;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  readonly sleep?: SleepFn;
  readonly random?: () => number;
  /** Ask again this long before `expires_at`. Default 60,000 ms. */
  readonly marginMs?: number;
  /** Attempts, backoff and time budget. Default 3 attempts, 200 ms base, 5 s cap, 20 s in all, 10 s each. */
  readonly retry?: RetryOptions;
}

/** A seller's access token from the service: the token, its expiry, its region and SP-API endpoint. */
export interface ServiceAccessToken extends AccessToken {
  readonly region: Region;
  /** The region's SP-API base URL (the emulator's, when the service talks to it). */
  readonly endpoint: string;
}

/** A restricted data token and its expiry (epoch ms). */
export interface RestrictedDataToken {
  readonly restrictedDataToken: string;
  readonly expiresAt: number;
}

/** Options of one call. */
export interface TokenClientCallOptions {
  /** Stops this caller's wait (a request shared with other callers carries on). */
  readonly signal?: AbortSignal;
}

/** Filters and paging of {@link TokenClient.listSellers}. */
export interface ListSellersQuery {
  readonly limit?: number;
  readonly status?: SellerStatus;
  readonly cursor?: string;
  /** A seller id or user_ref prefix. */
  readonly search?: string;
}

/**
 * The token API, cached and single-flight.
 *
 * @example
 * const client: TokenClient = createTokenClient({ baseUrl, apiKey });
 * const { accessToken, endpoint } = await client.getAccessToken('A1EXAMPLESELLER');
 */
export interface TokenClient {
  /**
   * A seller's access token (`region` when the seller is authorized in several). Takes a
   * `SellerTokenKey` too, which makes the client a token provider for the SDK adapters.
   */
  getAccessToken(
    seller: string | SellerTokenKey,
    region?: Region,
    options?: TokenClientCallOptions,
  ): Promise<ServiceAccessToken>;
  /** A grantless token for a scope, cached per scope. */
  getGrantlessToken(scope: GrantlessScope, options?: TokenClientCallOptions): Promise<AccessToken>;
  /** A restricted data token, cached per seller, region and request. */
  getRestrictedDataToken(
    seller: string | SellerTokenKey,
    request: RestrictedDataTokenRequest,
    options?: TokenClientCallOptions & { readonly region?: Region },
  ): Promise<RestrictedDataToken>;
  /** A page of authorizations (`GET /v1/sellers`), as the service sends it. */
  listSellers(query?: ListSellersQuery, options?: TokenClientCallOptions): Promise<SellerPage>;
  /** One seller in every region (`GET /v1/sellers/:id`), as the service sends it. */
  getSeller(sellingPartnerId: string, options?: TokenClientCallOptions): Promise<Seller>;
  /**
   * Forgets a token SP-API refused, if it is the one held: the next call asks the service again and
   * says so (`?refused=` with the token's SHA-256), so the service drops that token too and refreshes
   * once, or answers with the newer token it holds.
   */
  invalidate(seller: string | SellerTokenKey, accessToken: string): Promise<void>;
}

/** Bodies of the token API are small; a seller page of 500 items is well under this. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const DEFAULT_MARGIN_MS = 60_000;

/**
 * A client of the service's token API.
 *
 * @example
 * import { createTokenClient } from 'spapi-auth/client';
 * const tokens = createTokenClient({ baseUrl: 'http://localhost:3000', apiKey }); // a tokens:read key
 * const t = await tokens.getAccessToken('A1EXAMPLESELLER', 'eu');
 */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  if (typeof options.apiKey !== 'string' || options.apiKey === '')
    throw new TypeError('createTokenClient: apiKey is required');
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:')
    throw new TypeError('createTokenClient: baseUrl must be an http(s) URL');
  const now = options.now ?? Date.now;
  const marginMs = options.marginMs ?? DEFAULT_MARGIN_MS;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const fetchFn: FetchLike = options.fetch ?? ((request) => globalThis.fetch(request));
  const transport = {
    now,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
  };
  const authorization = `Bearer ${options.apiKey}`;
  const root = base.href.endsWith('/') ? base.href : `${base.href}/`;

  /** One call of the API with bounded retries; resolves to the parsed 2xx body. */
  const call = <T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> =>
    withRetries(
      async (attemptSignal) => {
        const headers: Record<string, string> = { authorization, accept: 'application/json' };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const request = new Request(new URL(path, root), {
          method,
          headers,
          signal: attemptSignal,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        let response: Response;
        let text: string;
        try {
          response = await fetchFn(request);
          text = await readCappedText(response, MAX_BODY_BYTES);
        } catch (err) {
          throw transportError(err);
        }
        return parseBody<T>(response, text, now());
      },
      (err) =>
        err instanceof TokenApiError && err.retryable
          ? { retry: true, ...(err.retryAfterMs === undefined ? {} : { afterMs: err.retryAfterMs }) }
          : { retry: false },
      retry,
      { ...transport, ...(signal ? { signal } : {}) },
    );

  const cache = <V>() => new SingleFlightCache<V>(now);
  const accessTokens = cache<ServiceAccessToken>();
  const grantless = cache<AccessToken>();
  const rdts = cache<RestrictedDataToken>();
  const refreshAt = (expiresAt: number): number => expiresAt - marginMs;
  /** Per access-token cache key: the token SP-API refused, until the service gave another. */
  const refused = new Map<string, { readonly token: string; readonly fingerprint: string }>();
  const keyOf = (seller: string | SellerTokenKey, region?: Region): [id: string, region?: Region] =>
    typeof seller === 'string' ? [seller, region] : [seller.sellingPartnerId, seller.region];

  return {
    getAccessToken(seller, region, opts) {
      const [id, r] = keyOf(seller, region);
      const k = `${id}\n${r ?? ''}`;
      const refusal = refused.get(k);
      const hit = accessTokens.fresh(k);
      // A token SP-API refused is never served again, even by a load that began before the refusal.
      if (hit !== undefined && hit.value.accessToken !== refusal?.token) return Promise.resolve(hit.value);
      const query = [
        ...(r === undefined ? [] : [`region=${r}`]),
        ...(refusal === undefined ? [] : [`refused=${refusal.fingerprint}`]),
      ];
      const path = `v1/sellers/${encodeURIComponent(id)}/access-token${query.length ? `?${query.join('&')}` : ''}`;
      // A load that reports a refusal does not join one that does not (it would bring the old token back).
      return accessTokens.load(
        refusal === undefined ? k : `${k}\nrefused`,
        async () => {
          const b = await call<AccessTokenBody>('GET', path);
          const token = {
            accessToken: requireString(b.access_token),
            expiresAt: requireDate(b.expires_at),
            region: requireString(b.region) as Region,
            endpoint: requireString(b.endpoint),
          };
          if (
            refusal !== undefined &&
            refused.get(k)?.token === refusal.token &&
            token.accessToken !== refusal.token
          )
            refused.delete(k);
          accessTokens.set(k, { value: token, refreshAt: refreshAt(token.expiresAt) });
          return token;
        },
        opts?.signal,
      );
    },
    getGrantlessToken(scope, opts) {
      const hit = grantless.fresh(scope);
      if (hit !== undefined) return Promise.resolve(hit.value);
      return grantless.load(
        scope,
        async () => {
          const b = await call<GrantlessTokenBody>('POST', 'v1/grantless-tokens', { scope });
          const token = { accessToken: requireString(b.access_token), expiresAt: requireDate(b.expires_at) };
          grantless.set(scope, { value: token, refreshAt: refreshAt(token.expiresAt) });
          return token;
        },
        opts?.signal,
      );
    },
    getRestrictedDataToken(seller, request, opts) {
      const [id, r] = keyOf(seller, opts?.region);
      const body = {
        restrictedResources: request.restrictedResources,
        ...(request.targetApplication === undefined ? {} : { targetApplication: request.targetApplication }),
        ...(r === undefined ? {} : { region: r }),
      };
      const k = `${id}\n${JSON.stringify(body)}`;
      const hit = rdts.fresh(k);
      if (hit !== undefined) return Promise.resolve(hit.value);
      return rdts.load(
        k,
        async () => {
          const b = await call<RestrictedDataTokenBody>(
            'POST',
            `v1/sellers/${encodeURIComponent(id)}/restricted-data-tokens`,
            body,
          );
          const token = {
            restrictedDataToken: requireString(b.restricted_data_token),
            expiresAt: requireDate(b.expires_at),
          };
          rdts.set(k, { value: token, refreshAt: refreshAt(token.expiresAt) });
          return token;
        },
        opts?.signal,
      );
    },
    listSellers(query = {}, opts) {
      const q = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) if (value !== undefined) q.set(name, String(value));
      const qs = q.size === 0 ? '' : `?${q}`;
      return call<SellerPage>('GET', `v1/sellers${qs}`, undefined, opts?.signal);
    },
    getSeller(sellingPartnerId, opts) {
      return call<Seller>(
        'GET',
        `v1/sellers/${encodeURIComponent(sellingPartnerId)}`,
        undefined,
        opts?.signal,
      );
    },
    async invalidate(seller, accessToken) {
      const [id] = keyOf(seller);
      const held = accessTokens.find(
        (k, e) => k.startsWith(`${id}\n`) && e.value.accessToken === accessToken,
      );
      if (held === undefined || refused.get(held.key)?.token === accessToken) return;
      // The next request for it tells the service (by fingerprint, never the token), which then
      // drops the token everywhere and refreshes once, instead of handing the same token back.
      const fingerprint = await sha256Hex(accessToken);
      if (refused.size >= MAX_REFUSALS) refused.clear();
      refused.set(held.key, { token: accessToken, fingerprint });
    },
  };
}

/** Refusals remembered at most (one per seller and region asked for). */
const MAX_REFUSALS = 10_000;

/** Hex SHA-256 of a string (Web Crypto: the client has no node: imports). */
async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A network failure or a timeout, without the request (its headers hold the API key). */
function transportError(err: unknown): TokenApiError {
  if (err instanceof TokenApiError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return new TokenApiError('timeout', 0);
  return new TokenApiError(name === 'BodyTooLargeError' ? 'invalid_response' : 'network_error', 0);
}

/** The 2xx body as JSON, or the error body's code as a {@link TokenApiError}. */
function parseBody<T>(response: Response, text: string, now: number): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.ok) {
    if (json === null || typeof json !== 'object')
      throw new TokenApiError('invalid_response', response.status);
    return json as T;
  }
  const code = wireCode((json as { error?: { code?: unknown } } | undefined)?.error?.code);
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now);
  // A proxy's page (no JSON error) in front of an unavailable service is still worth a retry.
  const effective = code === 'invalid_response' && response.status >= 500 ? 'upstream_unavailable' : code;
  throw new TokenApiError(effective, response.status, retryAfterMs);
}

function requireString(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TokenApiError('invalid_response', 200);
  return value;
}

function requireDate(value: unknown): number {
  const t = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new TokenApiError('invalid_response', 200);
  return t;
}
