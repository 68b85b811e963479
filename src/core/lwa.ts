/**
 * The Login with Amazon token client (`POST https://api.amazon.com/auth/o2/token`). Each grant is a pair of pure functions — one
 * builds the `Request`, one turns the `Response` into a validated object or a typed error — and a
 * thin async function joining them through the injected `fetch`, with timeouts, no redirects, a
 * byte cap, bounded retries and the second client secret.
 */
import type { GrantlessScope } from './scopes.js';
import { AuthorizationError, LwaError, type SpapiAuthError } from './errors.js';
import {
  BodyTooLargeError,
  DEFAULT_RETRY,
  amazonRequest,
  amazonRequestId,
  networkError,
  parseRetryAfter,
  readCappedText,
  withRetries,
  type RetryOptions,
  type TransportOptions,
} from './http.js';
import { LWA_TOKEN_URL } from './marketplaces.js';
import { isVisibleAscii } from './printable.js';

/**
 * The app's LWA credentials.
 *
 * @example
 * const credentials: LwaCredentials = { clientId: 'amzn1.application-oa2-client.x', clientSecret };
 */
export interface LwaCredentials {
  readonly clientId: string;
  /** The secret tried first. */
  readonly clientSecret: string;
  /** During a rotation, the other valid secret: tried once when the first gets `invalid_client`. */
  readonly clientSecretNext?: string;
}

/**
 * The longest client secret taken, in visible ASCII characters: LWA's are about 80
 * (`amzn1.oa2-cs.v1.` and 64 hex), so 512 leaves room for a format change while bounding what the
 * configuration, a rotation notification and the admin's OpenID provider secret may carry.
 */
export const CLIENT_SECRET_MAX_LENGTH = 512;

/**
 * Whether `value` has the shape every client secret must have: 1 to
 * {@link CLIENT_SECRET_MAX_LENGTH} visible ASCII characters.
 *
 * @example
 * isClientSecretShape('amzn1.oa2-cs.v1.0123abcd'); // true
 */
export function isClientSecretShape(value: unknown): value is string {
  return isVisibleAscii(value, CLIENT_SECRET_MAX_LENGTH);
}

/** Where the token endpoint is: Amazon's, or `amazonUrl`'s `/auth/o2/token` (the emulator). */
export interface LwaEndpointOptions {
  /**
   * Sends every Amazon call to this base URL instead (the emulator; `SPAPI_AUTH_AMAZON_URL`), naming
   * the real host (`api.amazon.com`) in the `x-amzn-emulator-host` header.
   */
  readonly amazonUrl?: string;
}

/** Options of the joined LWA calls. */
export interface LwaCallOptions extends LwaEndpointOptions, TransportOptions {
  readonly retry?: RetryOptions;
  /** Cap on the bytes of a token response read (decoded). Default 16 KiB. */
  readonly maxResponseBytes?: number;
  /**
   * Called as soon as LWA answers 429 with a `Retry-After` (before this call waits it out), so the
   * caller can hold back its other LWA calls: LWA throttles per client id, not per seller.
   *
   * @example
   * refreshAccessToken(creds, rt, { onThrottle: (ms) => (blockedUntil = Date.now() + ms) });
   */
  readonly onThrottle?: (retryAfterMs: number) => void;
}

/** Grant grammar shared by the three requests. */
export type LwaGrant = 'authorization_code' | 'refresh_token' | 'client_credentials';

export type { GrantlessScope } from './scopes.js';

/** A validated token response. */
export interface LwaTokenResponse {
  readonly accessToken: string;
  /** Seconds, as sent by LWA (bounded to 1..86,400). */
  readonly expiresIn: number;
  /** Present on the code grant (required there), usually echoed on the refresh grant. */
  readonly refreshToken?: string;
  /** Echoed by LWA on the client-credentials grant. */
  readonly scope?: string;
  readonly requestId?: string;
}

/** What the joined calls return: the response plus what we computed around it. */
export interface LwaTokenResult extends LwaTokenResponse {
  /** Epoch ms: the time before the request was sent plus `expiresIn`. */
  readonly expiresAt: number;
  /** Epoch ms before the request that succeeded was sent. */
  readonly issuedAt: number;
  /** Which secret LWA accepted; when `'next'`, persist that the rotation happened. */
  readonly clientSecretUsed: 'current' | 'next';
}

/** The code-grant result: the refresh token is guaranteed. */
export interface LwaAuthorizationCodeResult extends LwaTokenResult {
  readonly refreshToken: string;
}

const MAX_TOKEN_BYTES = 2048;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024;

function assertParam(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string`);
  }
}

function buildTokenRequest(
  form: Record<string, string | undefined>,
  opts: LwaEndpointOptions | undefined,
): Request {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
  return amazonRequest(
    LWA_TOKEN_URL,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
        accept: 'application/json',
      },
      body: body.toString(),
      redirect: 'manual',
    },
    opts?.amazonUrl,
  );
}

/** Parameters of the authorization-code grant. */
export interface AuthorizationCodeParams {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The `spapi_oauth_code` from the callback. */
  readonly code: string;
  /** The same redirect URI the consent URL carried (required by RFC 6749 when it was sent). */
  readonly redirectUri?: string;
  /** The PKCE verifier, when the consent URL carried a challenge. */
  readonly codeVerifier?: string;
}

/**
 * Builds the code-exchange request (`grant_type=authorization_code`), form-encoded.
 *
 * @example
 * const req = buildAuthorizationCodeRequest({ clientId, clientSecret, code, redirectUri });
 * const tokens = await processAuthorizationCodeResponse(await fetch(req));
 */
export function buildAuthorizationCodeRequest(
  params: AuthorizationCodeParams,
  options?: LwaEndpointOptions,
): Request {
  assertParam(params.clientId, 'clientId');
  assertParam(params.clientSecret, 'clientSecret');
  assertParam(params.code, 'code');
  return buildTokenRequest(
    {
      grant_type: 'authorization_code',
      code: params.code,
      redirect_uri: params.redirectUri,
      code_verifier: params.codeVerifier,
      client_id: params.clientId,
      client_secret: params.clientSecret,
    },
    options,
  );
}

/** Parameters of the refresh grant. */
export interface RefreshTokenParams {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
}

/**
 * Builds the refresh request (`grant_type=refresh_token`), form-encoded (a token containing `+`,
 * `&` or `=` survives).
 *
 * @example
 * const res = await fetch(buildRefreshTokenRequest({ clientId, clientSecret, refreshToken }));
 */
export function buildRefreshTokenRequest(params: RefreshTokenParams, options?: LwaEndpointOptions): Request {
  assertParam(params.clientId, 'clientId');
  assertParam(params.clientSecret, 'clientSecret');
  assertParam(params.refreshToken, 'refreshToken');
  return buildTokenRequest(
    {
      grant_type: 'refresh_token',
      refresh_token: params.refreshToken,
      client_id: params.clientId,
      client_secret: params.clientSecret,
    },
    options,
  );
}

/** Parameters of the client-credentials (grantless) grant. */
export interface GrantlessParams {
  readonly clientId: string;
  readonly clientSecret: string;
  /** One scope, or several separated by spaces. */
  readonly scope: GrantlessScope | (string & {});
}

/**
 * Builds the grantless request (`grant_type=client_credentials` with a scope).
 *
 * @example
 * buildGrantlessRequest({ clientId, clientSecret, scope: 'sellingpartnerapi::notifications' });
 */
export function buildGrantlessRequest(params: GrantlessParams, options?: LwaEndpointOptions): Request {
  assertParam(params.clientId, 'clientId');
  assertParam(params.clientSecret, 'clientSecret');
  assertParam(params.scope, 'scope');
  return buildTokenRequest(
    {
      grant_type: 'client_credentials',
      scope: params.scope,
      client_id: params.clientId,
      client_secret: params.clientSecret,
    },
    options,
  );
}

function requestIdOf(response: Response, body?: Record<string, unknown>): string | undefined {
  const header = response.headers.get('x-amzn-requestid');
  const fromBody = body?.['request_id'];
  const id = header ?? (typeof fromBody === 'string' ? fromBody : undefined);
  return amazonRequestId(id);
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function errorFromLwa(
  grant: LwaGrant,
  status: number,
  lwaError: string | undefined,
  requestId: string | undefined,
  retryAfterMs: number | undefined,
): SpapiAuthError {
  const d = { status, upstreamError: lwaError, requestId, retryAfterMs };
  switch (lwaError) {
    case 'invalid_grant':
      if (grant === 'refresh_token') {
        return new AuthorizationError(
          'reauthorization_required',
          'LWA rejected the refresh token (invalid_grant): the seller must authorize the application again',
          d,
        );
      }
      if (grant === 'authorization_code') {
        return new LwaError(
          'authorization_code_invalid',
          'LWA rejected the authorization code (invalid_grant): expired, already used, or another redirect URI or PKCE verifier',
          d,
        );
      }
      return new LwaError('invalid_request', 'LWA answered invalid_grant to a client-credentials request', d);
    case 'invalid_client':
    case 'unauthorized_client':
      return new LwaError('invalid_client', `LWA rejected the client credentials (${lwaError})`, d);
    case 'invalid_scope':
      return new LwaError('invalid_scope', 'LWA rejected the scope (invalid_scope)', d);
    case 'server_error':
    case 'temporarily_unavailable':
      return new LwaError('upstream_unavailable', `LWA is unavailable (${lwaError})`, d);
  }
  if (status === 429) return new LwaError('rate_limited', 'LWA throttled the request (429)', d);
  if (status >= 500) return new LwaError('upstream_unavailable', `LWA answered ${status}`, d);
  if (status === 401) return new LwaError('invalid_client', 'LWA answered 401', d);
  return new LwaError(
    'invalid_request',
    `LWA rejected the request (${status}${lwaError === undefined ? '' : ` ${lwaError}`})`,
    d,
  );
}

function invalid(what: string, status: number, requestId: string | undefined): LwaError {
  return new LwaError('invalid_token_response', `invalid LWA token response: ${what}`, {
    status,
    requestId,
  });
}

function checkToken(
  body: Record<string, unknown>,
  field: string,
  status: number,
  requestId: string | undefined,
): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0)
    throw invalid(`${field} missing or not a string`, status, requestId);
  if (v.length > MAX_TOKEN_BYTES)
    throw invalid(`${field} longer than ${MAX_TOKEN_BYTES} bytes`, status, requestId);
  // Visible ASCII: what an LWA token looks like (`Atza|…`, `Atzr|…`, `Atc|…`).
  if (!isVisibleAscii(v, MAX_TOKEN_BYTES))
    throw invalid(`${field} contains whitespace, control or non-ASCII characters`, status, requestId);
  return v;
}

/** Options of the `process…Response` halves. */
export interface ProcessOptions {
  /** Cap on the bytes read from the body (decoded). Default 16 KiB. */
  readonly maxResponseBytes?: number;
  /** For `Retry-After` dates; defaults to `Date.now()`. */
  readonly now?: () => number;
}

async function processTokenResponse(
  grant: LwaGrant,
  response: Response,
  options: ProcessOptions | undefined,
): Promise<LwaTokenResponse> {
  const status = response.status;
  if (response.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
    await response.body?.cancel().catch(() => undefined);
    throw new LwaError('unexpected_redirect', `LWA answered a redirect (${status}); not followed`, {
      status,
      requestId: requestIdOf(response),
    });
  }
  let text: string;
  try {
    text = await readCappedText(response, options?.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw invalid('body too large', status, requestIdOf(response));
    throw err;
  }
  const body = parseJsonObject(text);
  const requestId = requestIdOf(response, body);
  const lwaErrorRaw = body?.['error'];
  const lwaError =
    typeof lwaErrorRaw === 'string' && /^[a-z_]{1,64}$/i.test(lwaErrorRaw) ? lwaErrorRaw : undefined;
  if (status !== 200 || lwaErrorRaw !== undefined) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), (options?.now ?? Date.now)());
    throw errorFromLwa(grant, status, lwaError, requestId, retryAfterMs);
  }
  const contentType = response.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(contentType))
    throw invalid('content-type is not application/json', status, requestId);
  if (body === undefined) throw invalid('body is not a JSON object', status, requestId);
  const accessToken = checkToken(body, 'access_token', status, requestId);
  const tokenType = body['token_type'];
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
    throw invalid('token_type is not bearer', status, requestId);
  }
  const rawExpires = body['expires_in'];
  const expiresIn =
    typeof rawExpires === 'number'
      ? rawExpires
      : typeof rawExpires === 'string' && /^\d{1,6}$/.test(rawExpires)
        ? Number(rawExpires)
        : NaN;
  if (!Number.isInteger(expiresIn) || expiresIn <= 0 || expiresIn > 86_400) {
    throw invalid('expires_in is not a whole number of seconds in 1..86400', status, requestId);
  }
  let refreshToken: string | undefined;
  if (body['refresh_token'] !== undefined || grant === 'authorization_code') {
    refreshToken = checkToken(body, 'refresh_token', status, requestId);
  }
  const scope = body['scope'];
  if (scope !== undefined && typeof scope !== 'string')
    throw invalid('scope is not a string', status, requestId);
  return Object.freeze({
    accessToken,
    expiresIn,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    ...(scope === undefined ? {} : { scope }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/**
 * Validates a code-exchange response: a bearer access token, a refresh token (required here),
 * `expires_in`, sizes ≤ 2048 bytes, no control characters. Throws a typed error otherwise
 * (`authorization_code_invalid` for `invalid_grant`).
 *
 * @example
 * const { accessToken, refreshToken, expiresIn } = await processAuthorizationCodeResponse(response);
 */
export async function processAuthorizationCodeResponse(
  response: Response,
  options?: ProcessOptions,
): Promise<LwaTokenResponse & { readonly refreshToken: string }> {
  return (await processTokenResponse('authorization_code', response, options)) as LwaTokenResponse & {
    readonly refreshToken: string;
  };
}

/**
 * Validates a refresh response. `invalid_grant` → `AuthorizationError('reauthorization_required')`.
 *
 * @example
 * const { accessToken, expiresIn } = await processRefreshTokenResponse(response);
 */
export function processRefreshTokenResponse(
  response: Response,
  options?: ProcessOptions,
): Promise<LwaTokenResponse> {
  return processTokenResponse('refresh_token', response, options);
}

/**
 * Validates a grantless (client-credentials) response.
 *
 * @example
 * const { accessToken } = await processGrantlessResponse(response);
 */
export function processGrantlessResponse(
  response: Response,
  options?: ProcessOptions,
): Promise<LwaTokenResponse> {
  return processTokenResponse('client_credentials', response, options);
}

function retryDecision(err: unknown): { retry: boolean; afterMs?: number } {
  if (err instanceof LwaError && (err.code === 'upstream_unavailable' || err.code === 'rate_limited')) {
    return err.retryAfterMs === undefined ? { retry: true } : { retry: true, afterMs: err.retryAfterMs };
  }
  return { retry: false };
}

async function callLwa<T extends LwaTokenResponse>(
  credentials: LwaCredentials,
  build: (clientSecret: string) => Request,
  process: (response: Response, options: ProcessOptions) => Promise<T>,
  options: LwaCallOptions | undefined,
  defaultAttempts: number,
): Promise<T & { expiresAt: number; issuedAt: number; clientSecretUsed: 'current' | 'next' }> {
  const fetchFn = options?.fetch ?? ((r: Request) => fetch(r));
  const now = options?.now ?? Date.now;
  const retry = { ...DEFAULT_RETRY, maxAttempts: defaultAttempts, ...options?.retry };
  const processOpts: ProcessOptions = { maxResponseBytes: options?.maxResponseBytes, now };
  const withSecret = async (secret: string) => {
    let issuedAt = 0;
    const result = await withRetries(
      async (signal) => {
        issuedAt = now();
        // Built outside the try: a bad argument is the caller's TypeError, not a network error to retry.
        const request = new Request(build(secret), { signal });
        try {
          return await process(await fetchFn(request), processOpts);
        } catch (err) {
          throw networkError(err, 'LWA request');
        }
      },
      (err) => {
        if (err instanceof LwaError && err.code === 'rate_limited' && err.retryAfterMs !== undefined) {
          options?.onThrottle?.(err.retryAfterMs);
        }
        return retryDecision(err);
      },
      retry,
      options ?? {},
    );
    return { ...result, issuedAt, expiresAt: issuedAt + result.expiresIn * 1000 };
  };
  try {
    return { ...(await withSecret(credentials.clientSecret)), clientSecretUsed: 'current' };
  } catch (err) {
    if (
      credentials.clientSecretNext !== undefined &&
      err instanceof LwaError &&
      err.code === 'invalid_client'
    ) {
      return { ...(await withSecret(credentials.clientSecretNext)), clientSecretUsed: 'next' };
    }
    throw err;
  }
}

/**
 * Exchanges an authorization code (`spapi_oauth_code`) for a refresh and an access token. The code
 * is single use: at most one retry, and only for a network error, 429 or 5xx.
 *
 * @example
 * const t = await exchangeAuthorizationCode(
 *   { clientId, clientSecret },
 *   { code: cb.spapiOauthCode, redirectUri: 'https://app.example/oauth/callback' },
 * );
 * await vault.save(cb.sellingPartnerId, t.refreshToken);
 */
export async function exchangeAuthorizationCode(
  credentials: LwaCredentials,
  params: { readonly code: string; readonly redirectUri?: string; readonly codeVerifier?: string },
  options?: LwaCallOptions,
): Promise<LwaAuthorizationCodeResult> {
  return callLwa(
    credentials,
    (clientSecret) =>
      buildAuthorizationCodeRequest({ ...params, clientId: credentials.clientId, clientSecret }, options),
    processAuthorizationCodeResponse,
    options,
    2,
  );
}

/**
 * Gets a new access token from a refresh token. Prefer the token manager, which caches and makes
 * one call per seller at a time.
 *
 * @example
 * const { accessToken, expiresAt } = await refreshAccessToken({ clientId, clientSecret }, refreshToken);
 */
export async function refreshAccessToken(
  credentials: LwaCredentials,
  refreshToken: string,
  options?: LwaCallOptions,
): Promise<LwaTokenResult> {
  return callLwa(
    credentials,
    (clientSecret) =>
      buildRefreshTokenRequest({ clientId: credentials.clientId, clientSecret, refreshToken }, options),
    processRefreshTokenResponse,
    options,
    DEFAULT_RETRY.maxAttempts,
  );
}

/**
 * Gets a grantless access token for a scope (client-credentials grant).
 *
 * @example
 * const { accessToken } = await getGrantlessToken({ clientId, clientSecret }, 'sellingpartnerapi::notifications');
 */
export async function getGrantlessToken(
  credentials: LwaCredentials,
  scope: GrantlessParams['scope'],
  options?: LwaCallOptions,
): Promise<LwaTokenResult> {
  return callLwa(
    credentials,
    (clientSecret) => buildGrantlessRequest({ clientId: credentials.clientId, clientSecret, scope }, options),
    processGrantlessResponse,
    options,
    DEFAULT_RETRY.maxAttempts,
  );
}
