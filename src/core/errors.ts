/**
 * The closed set of errors the core raises. Each has a stable snake_case `code` (listed, with its
 * meaning and remedy, in docs/errors.md — a test fails when the two drift apart), and carries only
 * what is safe to log: the HTTP status, the LWA `error` value and Amazon's request id. Never a
 * body, a token, a code, a state or a secret. Bad arguments are plain `TypeError`s.
 */

/**
 * Every error code the core can raise, with the class that carries it and whether a retry may help
 * (the registry the service maps to HTTP responses; docs/errors.md explains each).
 *
 * @example
 * ERROR_CODES.upstream_unavailable; // { errorClass: 'LwaError', retryable: true }
 * Object.keys(ERROR_CODES); // every code
 */
export const ERROR_CODES = Object.freeze({
  // Callback from Amazon (the redirect URI)
  invalid_callback: { errorClass: 'CallbackError', retryable: false },
  code_missing: { errorClass: 'CallbackError', retryable: false },
  authorization_denied: { errorClass: 'CallbackError', retryable: false },
  // State (CSRF) checks
  state_missing: { errorClass: 'StateError', retryable: false },
  state_invalid: { errorClass: 'StateError', retryable: false },
  state_expired: { errorClass: 'StateError', retryable: false },
  state_used: { errorClass: 'StateError', retryable: false },
  state_not_bound: { errorClass: 'StateError', retryable: false },
  // The Appstore Login URI request
  invalid_callback_uri: { errorClass: 'LoginRequestError', retryable: false },
  invalid_login_request: { errorClass: 'LoginRequestError', retryable: false },
  // Login with Amazon token endpoint
  authorization_code_invalid: { errorClass: 'LwaError', retryable: false },
  invalid_client: { errorClass: 'LwaError', retryable: false },
  invalid_scope: { errorClass: 'LwaError', retryable: false },
  invalid_request: { errorClass: 'LwaError', retryable: false },
  invalid_token_response: { errorClass: 'LwaError', retryable: false },
  unexpected_redirect: { errorClass: 'LwaError', retryable: false },
  rate_limited: { errorClass: 'LwaError', retryable: true },
  upstream_unavailable: { errorClass: 'LwaError', retryable: true },
  // The state of one seller's authorization
  reauthorization_required: { errorClass: 'AuthorizationError', retryable: false },
  seller_not_found: { errorClass: 'AuthorizationError', retryable: false },
  // SP-API calls made by the core (Tokens API)
  spapi_request_failed: { errorClass: 'SpApiError', retryable: false },
  invalid_spapi_response: { errorClass: 'SpApiError', retryable: false },
} as const);

/**
 * A stable error code; `switch (err.code)` narrows.
 *
 * @example
 * if (isSpapiAuthError(err) && err.code === 'reauthorization_required') askTheSellerAgain();
 */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes by class, for narrowing. */
export type CodeOf<C extends string> = {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]['errorClass'] extends C ? K : never;
}[ErrorCode];

/** What an error may carry besides its code and message; nothing secret. */
export interface ErrorDetails {
  /** HTTP status of the upstream response, when there was one. */
  readonly status?: number;
  /** The LWA `error` value (e.g. `invalid_grant`) or SP-API `errors[0].code`, when known. */
  readonly upstreamError?: string;
  /** Amazon's request id (`x-amzn-RequestId` or LWA's `request_id`). */
  readonly requestId?: string;
  /** How long to wait before trying again (from `Retry-After`, or the circuit breaker). */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/**
 * The base of every core error. Not thrown directly: one of the subclasses is.
 *
 * @example
 * try {
 *   await tokens.getAccessToken({ sellingPartnerId: 'A3FH', region: 'na' });
 * } catch (err) {
 *   if (err instanceof SpapiAuthError && err.code === 'reauthorization_required') askSellerToReconnect();
 * }
 */
export abstract class SpapiAuthError extends Error {
  abstract readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly upstreamError: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.upstreamError = details.upstreamError;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** True when the same call may succeed later (429, 5xx, network). */
  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** A log-safe plain object (no stack, no cause). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      upstreamError: this.upstreamError,
      requestId: this.requestId,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

/**
 * The constructor {@link defineError} returns. Declared rather than inferred: an inferred class
 * expression type would copy the statics of the `Error` constructor into the published
 * declarations, and with `@types/node` those name `NodeJS.CallSite`, which a project without Node
 * types cannot compile.
 */
type ErrorClass<C extends string> = new (
  code: CodeOf<C>,
  message: string,
  details?: ErrorDetails,
) => SpapiAuthError & { readonly code: CodeOf<C> };

function defineError<C extends string>(name: C): ErrorClass<C> {
  return class extends SpapiAuthError {
    readonly code: CodeOf<C>;
    constructor(code: CodeOf<C>, message: string, details?: ErrorDetails) {
      super(message, details);
      this.code = code;
      this.name = name;
    }
  };
}

/**
 * The callback Amazon sent to the redirect URI is unusable: a parameter missing, repeated, too long
 * or with bad characters (`invalid_callback`), no `spapi_oauth_code` (`code_missing`), or an
 * `error=` response (`authorization_denied`, with `upstreamError` = Amazon's `error` value).
 *
 * @example
 * const r = parseCallback(request.url);
 * if (!r.ok && r.error instanceof CallbackError) console.log(r.error.code);
 */
export class CallbackError extends defineError('CallbackError') {}

/**
 * The `state` of a callback failed a check: absent, malformed or unknown, expired, already used, or
 * not bound to this browser. The core raises `state_missing` and `state_invalid`; the service raises
 * the others after looking the transaction up.
 *
 * @example
 * throw new StateError('state_expired', 'the authorization took longer than 10 minutes');
 */
export class StateError extends defineError('StateError') {}

/**
 * The Appstore Login URI request is unusable: `amazon_callback_uri` is not an Amazon confirm URL of
 * this application (`invalid_callback_uri`), or another parameter is missing or malformed
 * (`invalid_login_request`). Never redirect after this error.
 *
 * @example
 * try { parseLoginRequest(url, { applicationId }); } catch (e) { if (e instanceof LoginRequestError) respond(400); }
 */
export class LoginRequestError extends defineError('LoginRequestError') {}

/**
 * Login with Amazon refused or failed a token request: our credentials (`invalid_client`), a bad or
 * used authorization code (`authorization_code_invalid`), throttling (`rate_limited`), an outage
 * (`upstream_unavailable`), a malformed answer (`invalid_token_response`), a redirect
 * (`unexpected_redirect`), `invalid_scope` or `invalid_request`.
 *
 * @example
 * if (err instanceof LwaError && err.retryable) setTimeout(retry, err.retryAfterMs ?? 1000);
 */
export class LwaError extends defineError('LwaError') {}

/**
 * One seller's authorization cannot give tokens: LWA said `invalid_grant` on refresh (or an earlier
 * refresh did; a seller's revocation and the 365-day lapse look the same) →
 * `reauthorization_required`; the vault has no such seller → `seller_not_found`.
 *
 * @example
 * if (err instanceof AuthorizationError && err.code === 'reauthorization_required') sendReconnectEmail();
 */
export class AuthorizationError extends defineError('AuthorizationError') {}

/**
 * An SP-API call made by the core itself (the Tokens API) failed (`spapi_request_failed`, with
 * `upstreamError` = Amazon's `errors[0].code`) or answered something unreadable
 * (`invalid_spapi_response`).
 *
 * @example
 * if (err instanceof SpApiError) console.log(err.status, err.upstreamError, err.requestId);
 */
export class SpApiError extends defineError('SpApiError') {}

/**
 * True for any core error, optionally of one code.
 *
 * @example
 * if (isSpapiAuthError(err, 'invalid_client')) alarm();
 */
export function isSpapiAuthError(err: unknown, code?: ErrorCode): err is SpapiAuthError {
  return err instanceof SpapiAuthError && (code === undefined || err.code === code);
}
