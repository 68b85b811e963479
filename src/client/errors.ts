/**
 * The token client's errors: the service's stable codes as they come over HTTP, plus three of the
 * client's own (`network_error`, `timeout`, `invalid_response`). An error carries the code, the
 * status and the `Retry-After` delay — never a body, a token, an API key or a URL: its message is
 * made from the code and status alone, and the code is kept only when it looks like one.
 */

/**
 * The codes the token API's routes answer (`GET /v1/sellers/:id/access-token`,
 * `POST /v1/grantless-tokens`, `POST /v1/sellers/:id/restricted-data-tokens`, `GET /v1/sellers`,
 * `GET /v1/sellers/:id`), then the client's own.
 *
 * @example
 * TOKEN_API_ERROR_CODES.includes('seller_reauthorization_required'); // true
 */
export const TOKEN_API_ERROR_CODES = Object.freeze([
  // the request
  'credentials_in_url',
  'duplicate_parameter',
  'invalid_parameter',
  'invalid_json',
  'invalid_region',
  'region_required',
  'invalid_seller_id',
  'invalid_scope',
  'invalid_restricted_resources',
  'invalid_target_application',
  'invalid_limit',
  'invalid_status',
  'invalid_cursor',
  'invalid_search',
  'payload_too_large',
  'uri_too_long',
  'unsupported_media_type',
  'request_timeout',
  // who is asking
  'unauthorized',
  'insufficient_scope',
  'rate_limited',
  // the seller
  'seller_not_found',
  'seller_reauthorization_required',
  // the service and Amazon
  'internal_error',
  'credential_integrity_error',
  'upstream_request_failed',
  'upstream_unavailable',
  'upstream_credentials_invalid',
  'client_secret_expired',
  'store_unavailable',
  'too_many_connections',
  // the client's own
  'network_error',
  'timeout',
  'invalid_response',
] as const);

/**
 * A code of {@link TOKEN_API_ERROR_CODES}, or another the service may add later.
 *
 * @example
 * const code: TokenApiErrorCode = 'rate_limited';
 */
export type TokenApiErrorCode = (typeof TOKEN_API_ERROR_CODES)[number] | (string & {});

/** Codes a later attempt can cure (with `Retry-After` or backoff); the others need a change first. */
const NOT_RETRYABLE = new Set<string>([
  'credential_integrity_error',
  'upstream_credentials_invalid',
  'client_secret_expired',
  'upstream_request_failed',
  'invalid_response',
]);

/**
 * A failure of the token API or of reaching it.
 *
 * @example
 * try { await client.getAccessToken('A1EXAMPLESELLER'); }
 * catch (e) { if (e instanceof TokenApiError && e.code === 'seller_reauthorization_required') askToReconnect(); }
 */
export class TokenApiError extends Error {
  override readonly name = 'TokenApiError';
  readonly code: TokenApiErrorCode;
  /** The HTTP status; 0 when no answer came (`network_error`, `timeout`). */
  readonly status: number;
  /** The service's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: TokenApiErrorCode, status: number, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(
      status === 0 ? `token API: ${code}` : `token API answered ${status} ${code}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /** Whether trying again later can succeed: throttling, an unavailable upstream or store, the network. */
  get retryable(): boolean {
    if (NOT_RETRYABLE.has(this.code)) return false;
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Whether `err` says the seller must authorize the app again, from either token source: the token
 * client's `seller_reauthorization_required` or the library's `reauthorization_required`.
 *
 * @example
 * if (isReauthorizationRequired(err)) await sendReconnectLink(sellerId);
 */
export function isReauthorizationRequired(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'seller_reauthorization_required' || code === 'reauthorization_required';
}

/** A code from an error body when it looks like one (snake_case, short); else `invalid_response`. */
export function wireCode(value: unknown): TokenApiErrorCode {
  return typeof value === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(value) ? value : 'invalid_response';
}
