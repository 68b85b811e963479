/**
 * Every error code the service answers over HTTP, with its status and a default message: the one
 * list that `HttpError`, `errorResponse` and the flow pages accept (a code that is not here does not
 * compile) and that docs/errors.md documents (a test fails when the two disagree). The codes of the
 * core that the browser flows show as they are (`state_invalid`, `invalid_callback`, …) are here
 * too, with the status the service answers them with.
 */
import type { ErrorCode } from '../../core/errors.js';

/**
 * One registered HTTP error: its status, its default message, and whether a call site may give a
 * more precise message (`details`); without it the registry's message is the only one users see.
 */
export interface HttpErrorSpec {
  readonly status: number;
  readonly message: string;
  readonly details?: true;
}

/**
 * The registry: stable code → status and default message. Add a code here (and a row to
 * docs/errors.md) before answering it.
 *
 * @example
 * HTTP_ERRORS.seller_not_found.status; // 404
 */
export const HTTP_ERRORS = Object.freeze({
  // 400: a malformed request
  invalid_json: { status: 400, message: 'The body is not valid JSON.', details: true },
  invalid_user_ref: {
    status: 400,
    message: 'user_ref must be a string of 1 to 256 printable characters.',
    details: true,
  },
  invalid_marketplace: { status: 400, message: 'Unknown marketplace.', details: true },
  invalid_kind: { status: 400, message: 'kind must be seller or vendor.' },
  invalid_return_to: {
    status: 400,
    message: 'return_to must be a URL on an allowed origin (SPAPI_AUTH_RETURN_ORIGINS).',
  },
  invalid_region: { status: 400, message: 'region must be na, eu or fe.' },
  region_required: {
    status: 400,
    message: 'The seller is authorized in several regions: name one.',
    details: true,
  },
  invalid_limit: { status: 400, message: 'limit must be a whole number from 1 to 500.' },
  invalid_status: { status: 400, message: 'Unknown status filter.', details: true },
  invalid_cursor: { status: 400, message: 'The cursor is malformed.' },
  invalid_search: { status: 400, message: 'The search is malformed.', details: true },
  invalid_state: { status: 400, message: 'state must be pending, dead or delivered.' },
  invalid_event_id: { status: 400, message: 'The event id is malformed.' },
  invalid_scope: {
    status: 400,
    message: 'The scope is not a grantless scope this service hands out.',
    details: true,
  },
  invalid_restricted_resources: { status: 400, message: 'restrictedResources is malformed.', details: true },
  invalid_target_application: { status: 400, message: 'targetApplication must be an application id.' },
  invalid_seller_id: { status: 400, message: 'The selling partner id is malformed.' },
  invalid_token: { status: 400, message: 'The link is malformed.' },
  credentials_in_url: {
    status: 400,
    message: 'Send the API key in the Authorization header, never in the URL.',
  },
  duplicate_parameter: { status: 400, message: 'A query parameter appears more than once.', details: true },
  invalid_parameter: {
    status: 400,
    message: 'A query parameter is not valid percent-encoding.',
    details: true,
  },
  invalid_notification: { status: 400, message: 'The notification is malformed.', details: true },
  unsupported_notification: {
    status: 400,
    message: 'This notification type is not accepted here.',
    details: true,
  },
  // 400: the browser flows (codes of the core, shown as they are)
  state_missing: { status: 400, message: 'The callback has no state.' },
  state_invalid: { status: 400, message: 'The state is not one this service issued.' },
  state_expired: { status: 400, message: 'This authorization took too long. Please start again.' },
  state_used: { status: 400, message: 'This authorization was already completed or attempted.' },
  state_not_bound: { status: 400, message: 'This browser did not start this authorization.', details: true },
  code_missing: { status: 400, message: 'Amazon sent no authorization code.' },
  invalid_callback: { status: 400, message: 'A callback parameter is malformed.', details: true },
  authorization_denied: { status: 400, message: 'The authorization was cancelled on Amazon.' },
  authorization_code_invalid: {
    status: 400,
    message: 'The authorization expired or was already used. Please authorize again.',
  },
  invalid_callback_uri: {
    status: 400,
    message: 'amazon_callback_uri is not an Amazon confirmation URL for this application.',
  },
  invalid_login_request: { status: 400, message: 'A Login URI parameter is malformed.' },
  // 401, 403: who is asking
  unauthorized: { status: 401, message: 'A valid API key is required.', details: true },
  insufficient_scope: { status: 403, message: 'The API key lacks the scope of this route.', details: true },
  admin_local_only: {
    status: 403,
    message: 'Without a password the dashboard is open on localhost only.',
  },
  admin_login_required: { status: 403, message: 'Log in first.' },
  admin_not_allowed: {
    status: 403,
    message: 'Your account at the identity provider is not allowed to use this dashboard.',
    details: true,
  },
  oidc_denied: { status: 403, message: 'The identity provider did not sign you in.', details: true },
  oidc_invalid_response: {
    status: 403,
    message: 'The identity provider’s answer could not be verified; start again.',
    details: true,
  },
  csrf_failed: {
    status: 403,
    message: 'The form is missing its CSRF token or was posted from another site.',
    details: true,
  },
  cross_origin_refused: { status: 403, message: 'This form only accepts requests from the start page.' },
  // 404, 405, 409, 410: the resource
  seller_not_found: { status: 404, message: 'No such seller.', details: true },
  link_invalid: { status: 404, message: 'This link is not valid.' },
  not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here.' },
  seller_reauthorization_required: {
    status: 409,
    message:
      'The seller must authorize the app again: send it a re-authorization link (POST /v1/connect-sessions with its selling_partner_id).',
  },
  region_mismatch: {
    status: 409,
    message: 'The authorization works in another region than the one asked for; nothing was stored.',
    details: true,
  },
  seller_mismatch: {
    status: 409,
    message: 'Amazon returned a different selling partner than the one expected.',
  },
  seller_owned_by_other_user: {
    status: 409,
    message: 'This selling partner is already linked to another user.',
  },
  seller_already_connected: {
    status: 409,
    message:
      'This selling partner is already connected. Re-authorize it with a link that names it, or after signing in.',
  },
  seller_account_mismatch: {
    status: 409,
    message:
      'This authorization comes from another Amazon account than the one this selling partner is connected with; nothing was changed. Authorize again signed in to Seller Central with the account the seller was connected with.',
  },
  seller_account_unverified: {
    status: 409,
    message:
      'Amazon did not tell which account gave this authorization, so the connected selling partner was kept as it was. Please try again in a few minutes.',
  },
  client_secret_refused: {
    status: 409,
    message: 'Login with Amazon refused the new client secret; the current secret stays in use.',
    details: true,
  },
  client_id_mismatch: {
    status: 409,
    message: 'The notification is for another LWA client id.',
    details: true,
  },
  application_id_mismatch: {
    status: 409,
    message: 'The notification is for another SP-API application.',
    details: true,
  },
  link_expired: { status: 410, message: 'This link has expired. Ask for a new one.' },
  oidc_state_mismatch: {
    status: 400,
    message: 'This sign-in does not match the one this browser started; start again.',
    details: true,
  },
  link_used: { status: 410, message: 'This link was already used. Ask for a new one.' },
  // 408, 413, 414, 415, 429: limits
  request_timeout: { status: 408, message: 'The request body arrived too slowly.' },
  payload_too_large: { status: 413, message: 'The body is too large.' },
  uri_too_long: { status: 414, message: 'The request URL is too long.' },
  unsupported_media_type: { status: 415, message: 'The body must be application/json.', details: true },
  rate_limited: {
    status: 429,
    message: 'Too many requests; retry after the Retry-After delay.',
    details: true,
  },
  flow_rate_limited: {
    status: 429,
    message: 'Too many requests came from your network in a short time. Please wait a moment and try again.',
    details: true,
  },
  login_throttled: {
    status: 429,
    message: 'Too many failed logins from this address; wait before trying again.',
    details: true,
  },
  // 5xx: this service or its upstreams
  internal_error: { status: 500, message: 'An internal error occurred.' },
  credential_integrity_error: { status: 500, message: 'A stored credential failed its integrity check.' },
  upstream_request_failed: {
    status: 502,
    message: 'The Selling Partner API refused or failed the request.',
  },
  oidc_unavailable: {
    status: 503,
    message: 'The identity provider cannot be reached; try again shortly.',
    details: true,
  },
  client_secret_unverified: {
    status: 503,
    message: 'Login with Amazon could not check the new client secret; it was not installed.',
    details: true,
  },
  upstream_unavailable: {
    status: 503,
    message: 'Login with Amazon is unavailable; try again later.',
    details: true,
  },
  upstream_credentials_invalid: {
    status: 503,
    message: "Login with Amazon refused the app's client credentials.",
    details: true,
  },
  client_secret_expired: {
    status: 503,
    message:
      'Every client secret of the app has expired; accept the new one (spapi-auth secret accept) or set LWA_CLIENT_SECRET.',
  },
  store_unavailable: { status: 503, message: 'The store is unavailable; try again later.' },
  migrations_pending: { status: 503, message: 'Run spapi-auth migrate.' },
  too_many_connections: {
    status: 503,
    message:
      'The service holds its maximum of connections, each with a request in flight; retry in a moment.',
  },
} as const satisfies Record<string, HttpErrorSpec>);

/**
 * A registered HTTP error code.
 *
 * @example
 * const code: HttpErrorCode = 'seller_not_found';
 */
export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/**
 * The status registered for `C` (for a union of codes, the union of their statuses): call sites
 * that pass a literal status and code are checked against the registry by the compiler.
 *
 * @example
 * const s: HttpStatusOf<'seller_not_found'> = 404;
 */
export type HttpStatusOf<C extends HttpErrorCode> = (typeof HTTP_ERRORS)[C]['status'];

/**
 * The codes whose message a call site may make more precise (`details: true` in the registry).
 *
 * @example
 * const code: DetailedCode = 'seller_not_found';
 */
export type DetailedCode = {
  [C in HttpErrorCode]: (typeof HTTP_ERRORS)[C] extends { readonly details: true } ? C : never;
}[HttpErrorCode];

/**
 * The message a call site may pass with `C`: a string when every code of `C` allows details, else
 * nothing (the registry's message is used).
 *
 * @example
 * const m: DetailOf<'seller_not_found'> = 'No such seller in that region.';
 */
export type DetailOf<C extends HttpErrorCode> = [C] extends [DetailedCode] ? string : undefined;

/**
 * Whether `code` is registered.
 *
 * @example
 * isHttpErrorCode('seller_not_found'); // true
 */
export function isHttpErrorCode(code: string): code is HttpErrorCode {
  return Object.prototype.hasOwnProperty.call(HTTP_ERRORS, code);
}

/**
 * The one mapping of the core's error codes (src/core/errors.ts) to the service's: the token API,
 * the browser flows and `spapi-auth token` all answer a core error with the code here (and so
 * with its registered status and message). A core code missing here does not compile.
 *
 * @example
 * CORE_ERROR_HTTP.reauthorization_required; // 'seller_reauthorization_required'
 */
export const CORE_ERROR_HTTP = Object.freeze({
  invalid_callback: 'invalid_callback',
  code_missing: 'code_missing',
  authorization_denied: 'authorization_denied',
  state_missing: 'state_missing',
  state_invalid: 'state_invalid',
  state_expired: 'state_expired',
  state_used: 'state_used',
  state_not_bound: 'state_not_bound',
  invalid_callback_uri: 'invalid_callback_uri',
  invalid_login_request: 'invalid_login_request',
  authorization_code_invalid: 'authorization_code_invalid',
  invalid_client: 'upstream_credentials_invalid',
  invalid_scope: 'invalid_scope',
  // LWA failing in any other way: the caller can only retry later.
  invalid_request: 'upstream_unavailable',
  invalid_token_response: 'upstream_unavailable',
  unexpected_redirect: 'upstream_unavailable',
  rate_limited: 'upstream_unavailable',
  upstream_unavailable: 'upstream_unavailable',
  reauthorization_required: 'seller_reauthorization_required',
  seller_not_found: 'seller_not_found',
  spapi_request_failed: 'upstream_request_failed',
  invalid_spapi_response: 'upstream_request_failed',
} as const satisfies Record<ErrorCode, HttpErrorCode>);
