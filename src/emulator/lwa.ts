// POST /auth/o2/token — Login with Amazon's token endpoint: the code exchange, refresh, grantless
// tokens, PKCE and the two secrets of a rotation.
import { createHash } from 'node:crypto';
import type { Region } from '../core/marketplaces.js';
import { GRANTLESS_SCOPES as AMAZON_GRANTLESS_SCOPES, RETIRED_GRANTLESS_SCOPES } from '../core/scopes.js';
import {
  BadRequest,
  json,
  mediaType,
  parseJsonObject,
  readText,
  requestId,
  sha256Base64url,
  sleep,
} from './http.js';
import type { AppSecret, EmulatorState } from './state.js';
import { REAUTHORIZE_AFTER_MS } from '../core/lifetimes.js';

/**
 * The grantless scopes LWA accepts for SP-API. `sellingpartnerapi::migration` is not among them: its
 * only operation, the Authorization API's `getAuthorizationCode`, was removed on March 27, 2024, so
 * it is refused like any unknown scope.
 *
 * @example
 * ```ts
 * GRANTLESS_SCOPES.has('sellingpartnerapi::client_credential:rotation'); // true
 * GRANTLESS_SCOPES.has('sellingpartnerapi::migration'); // false
 * ```
 */
export const GRANTLESS_SCOPES: ReadonlySet<string> = new Set(
  AMAZON_GRANTLESS_SCOPES.filter((s) => !RETIRED_GRANTLESS_SCOPES.includes(s)),
);

const GRANT_TYPES: ReadonlySet<string> = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
]);

// Amazon's own wording where it is known (developers' reports of LWA's answers).
const DESCRIPTIONS = {
  code: 'The request has an invalid grant parameter : code',
  redirect_uri: 'The request has an invalid grant parameter : redirect_uri',
  code_verifier: 'The request has an invalid grant parameter : code_verifier',
  refresh_token:
    "The request has an invalid grant parameter : refresh_token. User may have revoked or didn't grant the permission.",
  client: 'Client authentication failed',
  grant_type: 'The authorization grant type is not supported by the authorization server',
  scope: 'The request has an invalid parameter : scope',
} as const;

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/**
 * How a refresh token is named in the counters: a SHA-256 prefix, so stats never hold a token.
 *
 * @example
 * ```ts
 * (await control.stats()).refresh_by_token[tokenKey(refreshToken)]; // refreshes made with it
 * ```
 */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** An LWA error answer: `{ error_index, error_description, error, request_id }` with its status. */
export function lwaError(status: number, error: string, description: string): Response {
  const id = requestId();
  return json(
    status,
    {
      error_index: id.replaceAll('-', '').slice(0, 22),
      error_description: description,
      error,
      request_id: id,
    },
    { ...NO_STORE, 'x-amzn-requestid': id, 'content-type': 'application/json;charset=UTF-8' },
  );
}

function lwaOk(body: Record<string, unknown>): Response {
  return json(200, body, {
    ...NO_STORE,
    'x-amzn-requestid': requestId(),
    'content-type': 'application/json;charset=UTF-8',
  });
}

/** A new seller access token beside `refreshToken`: the answer to a code exchange and to a refresh. */
function sellerTokenResponse(
  state: EmulatorState,
  clientId: string,
  secret: AppSecret,
  seller: { readonly sellingPartnerId: string; readonly region: Region },
  refreshToken: string,
): { response: Response; outcome: string } {
  const access = state.issueAccessToken(
    {
      kind: 'seller',
      clientId,
      secret,
      sellingPartnerId: seller.sellingPartnerId,
      region: seller.region,
      scopes: [],
      refreshToken,
    },
    'Atza|',
  );
  return {
    response: lwaOk({
      access_token: access.token,
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: access.expiresIn,
    }),
    outcome: 'ok',
  };
}

/** The parsed parameters of a token request, or the error response they already deserve. */
export type TokenParams = { ok: true; params: Record<string, string> } | { ok: false; response: Response };

/**
 * Parses a token request body: form or JSON (Amazon accepts both: the official SDKs send each). A body in any
 * other media type is not read, so it looks like a request without grant_type, as on Amazon
 * (`unsupported_grant_type`, as developers report for a body LWA did not parse).
 */
export async function parseTokenRequest(request: Request, state: EmulatorState): Promise<TokenParams> {
  try {
    const text = await readText(request, state.maxBodyBytes);
    const type = mediaType(request);
    const params: Record<string, string> = {};
    if (type === 'application/json') {
      for (const [k, v] of Object.entries(parseJsonObject(text))) {
        if (typeof v === 'string') params[k] = v;
        else if (typeof v === 'number' || typeof v === 'boolean') params[k] = String(v);
        else if (v !== null)
          throw new BadRequest(400, 'invalid_request', `The request has an invalid parameter : ${k}`);
      }
    } else if (type === 'application/x-www-form-urlencoded') {
      for (const [k, v] of new URLSearchParams(text)) {
        if (k in params)
          throw new BadRequest(400, 'invalid_request', `The request has a repeated parameter : ${k}`);
        params[k] = v;
      }
    }
    return { ok: true, params };
  } catch (err) {
    if (!(err instanceof BadRequest)) throw err;
    const description =
      err.status === 413
        ? 'The request body is too large'
        : err.code === 'invalid_request'
          ? err.message
          : 'The request body is malformed';
    return { ok: false, response: lwaError(err.status, 'invalid_request', description) };
  }
}

function basicCredentials(request: Request): { id: string; secret: string } | null | 'bad' {
  const header = request.headers.get('authorization');
  if (header === null) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return 'bad';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'bad';
  // RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' ')),
    };
  } catch {
    return 'bad';
  }
}

/**
 * Answers a token request whose body is already parsed. Outcomes are counted by the caller from
 * the returned `outcome`.
 */
export async function handleToken(
  request: Request,
  params: Record<string, string>,
  state: EmulatorState,
  signal: AbortSignal = request.signal,
): Promise<{ response: Response; outcome: string }> {
  await sleep(state.latencyMs, signal);
  const fail = (status: number, error: string, description: string) => ({
    response: lwaError(status, error, description),
    outcome: error,
  });
  const missing = (name: string) =>
    fail(400, 'invalid_request', `The request is missing a required parameter : ${name}`);

  const grantType = params.grant_type;
  if (grantType === undefined || !GRANT_TYPES.has(grantType)) {
    return fail(400, 'unsupported_grant_type', DESCRIPTIONS.grant_type);
  }

  // Client authentication: body or HTTP Basic, never both (RFC 6749 §2.3).
  const basic = basicCredentials(request);
  if (basic === 'bad') return fail(401, 'invalid_client', DESCRIPTIONS.client);
  if (basic !== null && params.client_secret !== undefined) {
    return fail(400, 'invalid_request', 'The request uses more than one client authentication method');
  }
  if (basic !== null && params.client_id !== undefined && params.client_id !== basic.id) {
    return fail(401, 'invalid_client', DESCRIPTIONS.client);
  }
  const clientId = basic?.id ?? params.client_id;
  const clientSecret = basic?.secret ?? params.client_secret;
  if (clientId === undefined || clientId === '') return missing('client_id');
  if (clientSecret === undefined || clientSecret === '') return missing('client_secret');
  // LWA's client_id is at most 100 bytes (Login with Amazon docs); longer is not a client it knows.
  if (Buffer.byteLength(clientId) > 100) return fail(401, 'invalid_client', DESCRIPTIONS.client);
  const app = state.appByClientId(clientId);
  const secret = app === undefined ? undefined : state.matchingSecret(app, clientSecret);
  if (!app || !secret) return fail(401, 'invalid_client', DESCRIPTIONS.client);

  const now = state.now();
  if (grantType === 'authorization_code') {
    const code = params.code;
    if (code === undefined || code === '') return missing('code');
    const record = state.codes.get(code);
    if (!record || record.used || record.expiresAt <= now || record.clientId !== clientId) {
      return fail(400, 'invalid_grant', DESCRIPTIONS.code);
    }
    // Omitted: accepted (Amazon's own exchange example and widely used clients omit it). Sent: it
    // must be the one the code was issued for.
    const redirectUri = params.redirect_uri;
    if (redirectUri !== undefined && redirectUri !== record.redirectUri) {
      return fail(400, 'invalid_grant', DESCRIPTIONS.redirect_uri);
    }
    if (record.codeChallenge !== undefined) {
      const verifier = params.code_verifier;
      const valid =
        verifier !== undefined &&
        /^[A-Za-z0-9\-._~]{43,128}$/.test(verifier) &&
        (record.codeChallengeMethod === 'plain' ? verifier : sha256Base64url(verifier)) ===
          record.codeChallenge;
      if (!valid) return fail(400, 'invalid_grant', DESCRIPTIONS.code_verifier);
    }
    record.used = true;
    const refreshToken = state.issueRefreshToken({
      clientId,
      sellingPartnerId: record.sellingPartnerId,
      region: record.region,
      authorizedAt: now,
      revoked: false,
    });
    return sellerTokenResponse(state, clientId, secret, record, refreshToken);
  }

  if (grantType === 'refresh_token') {
    const token = params.refresh_token;
    if (token === undefined || token === '') return missing('refresh_token');
    const record = state.refreshTokens.get(token);
    if (
      !record ||
      record.revoked ||
      record.clientId !== clientId ||
      now - record.authorizedAt >= REAUTHORIZE_AFTER_MS
    ) {
      return fail(400, 'invalid_grant', DESCRIPTIONS.refresh_token);
    }
    let refreshToken = token;
    if (state.rotateRefreshTokens) {
      record.revoked = true;
      refreshToken = state.issueRefreshToken({ ...record, revoked: false });
    }
    state.stats.refresh_by_seller[record.sellingPartnerId] =
      (state.stats.refresh_by_seller[record.sellingPartnerId] ?? 0) + 1;
    const key = tokenKey(token);
    state.stats.refresh_by_token[key] = (state.stats.refresh_by_token[key] ?? 0) + 1;
    return sellerTokenResponse(state, clientId, secret, record, refreshToken);
  }

  // client_credentials (grantless)
  const scope = params.scope;
  if (scope === undefined || scope.trim() === '') return missing('scope');
  const scopes = scope.trim().split(/\s+/);
  if (!scopes.every((s) => GRANTLESS_SCOPES.has(s))) return fail(400, 'invalid_scope', DESCRIPTIONS.scope);
  const access = state.issueAccessToken(
    {
      kind: 'grantless',
      clientId,
      secret,
      sellingPartnerId: undefined,
      region: undefined,
      scopes,
      refreshToken: undefined,
    },
    'Atc|',
  );
  return {
    response: lwaOk({
      access_token: access.token,
      scope: scopes.join(' '),
      token_type: 'bearer',
      expires_in: access.expiresIn,
    }),
    outcome: 'ok',
  };
}
