/**
 * Every error code the service answers over HTTP, with its status and a default message: the one
 * list that `HttpError`, `errorResponse` and the flow pages accept (a code that is not here does not
 * compile) and that docs/errors.md documents (a test fails when the two disagree). The codes of the
 * core that the browser flows show as they are (`state_invalid`, `invalid_callback`, …) are here
 * too, with the status the service answers them with.
 */

/** One registered HTTP error: its status, and the message used when the caller gives none. */
export interface HttpErrorSpec {
  readonly status: number;
  readonly message: string;
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
  invalid_json: { status: 400, message: 'The body is not valid JSON.' },
  invalid_user_ref: { status: 400, message: 'user_ref must be a string of 1 to 256 printable characters.' },
  invalid_marketplace: { status: 400, message: 'Unknown marketplace.' },
  invalid_kind: { status: 400, message: 'kind must be seller or vendor.' },
  invalid_return_to: { status: 400, message: 'return_to must be a URL on an allowed origin.' },
  invalid_region: { status: 400, message: 'region must be na, eu or fe.' },
  region_required: { status: 400, message: 'The seller is authorized in several regions: name one.' },
  invalid_limit: { status: 400, message: 'limit must be an integer from 1 to 100.' },
  invalid_status: { status: 400, message: 'Unknown status filter.' },
  invalid_cursor: { status: 400, message: 'The cursor is malformed.' },
  invalid_search: { status: 400, message: 'The search is malformed.' },
  invalid_state: { status: 400, message: 'Unknown webhook event state filter.' },
  invalid_event_id: { status: 400, message: 'The event id is malformed.' },
  invalid_scope: { status: 400, message: 'The scope is not a grantless scope this service hands out.' },
  invalid_restricted_resources: { status: 400, message: 'restrictedResources is malformed.' },
  invalid_target_application: { status: 400, message: 'targetApplication is malformed.' },
  invalid_seller_id: { status: 400, message: 'The selling partner id is malformed.' },
  invalid_token: { status: 400, message: 'The link is malformed.' },
  credentials_in_url: {
    status: 400,
    message: 'Send the API key in the Authorization header, never in the URL.',
  },
  duplicate_parameter: { status: 400, message: 'A query parameter appears more than once.' },
  invalid_parameter: { status: 400, message: 'A query parameter is not valid percent-encoding.' },
  invalid_notification: { status: 400, message: 'The notification is malformed.' },
  unsupported_notification: { status: 400, message: 'This notification type is not accepted here.' },
  // 400: the browser flows (codes of the core, shown as they are)
  state_missing: { status: 400, message: 'The callback has no state.' },
  state_invalid: { status: 400, message: 'The state is not one this service issued.' },
  state_expired: { status: 400, message: 'This authorization took too long. Please start again.' },
  state_used: { status: 400, message: 'This authorization was already completed or attempted.' },
  state_not_bound: { status: 400, message: 'This browser did not start this authorization.' },
  code_missing: { status: 400, message: 'Amazon sent no authorization code.' },
  invalid_callback: { status: 400, message: 'A callback parameter is malformed.' },
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
  unauthorized: { status: 401, message: 'A valid API key is required.' },
  insufficient_scope: { status: 403, message: 'The API key lacks the scope of this route.' },
  admin_local_only: {
    status: 403,
    message: 'Without a password the dashboard is open on localhost only.',
  },
  admin_login_required: { status: 403, message: 'Log in first.' },
  admin_not_allowed: {
    status: 403,
    message: 'Your account at the identity provider is not allowed to use this dashboard.',
  },
  oidc_denied: { status: 403, message: 'The identity provider did not sign you in.' },
  oidc_invalid_response: {
    status: 403,
    message: 'The identity provider’s answer could not be verified; start again.',
  },
  csrf_failed: {
    status: 403,
    message: 'The form is missing its CSRF token or was posted from another site.',
  },
  cross_origin_refused: { status: 403, message: 'This form only accepts requests from the start page.' },
  // 404, 405, 409, 410: the resource
  seller_not_found: { status: 404, message: 'No such seller.' },
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
  },
  client_id_mismatch: { status: 409, message: 'The notification is for another LWA client id.' },
  application_id_mismatch: { status: 409, message: 'The notification is for another SP-API application.' },
  link_expired: { status: 410, message: 'This link has expired. Ask for a new one.' },
  oidc_state_mismatch: {
    status: 400,
    message: 'This sign-in does not match the one this browser started; start again.',
  },
  link_used: { status: 410, message: 'This link was already used. Ask for a new one.' },
  // 408, 413, 414, 415, 429: limits
  request_timeout: { status: 408, message: 'The request body arrived too slowly.' },
  payload_too_large: { status: 413, message: 'The body is too large.' },
  uri_too_long: { status: 414, message: 'The request URL is too long.' },
  unsupported_media_type: { status: 415, message: 'The body must be application/json.' },
  rate_limited: { status: 429, message: 'Too many requests; retry after the Retry-After delay.' },
  flow_rate_limited: {
    status: 429,
    message: 'Too many requests came from your network in a short time. Please wait a moment and try again.',
  },
  login_throttled: {
    status: 429,
    message: 'Too many failed logins from this address; wait before trying again.',
  },
  // 5xx: this service or its upstreams
  internal_error: { status: 500, message: 'An internal error occurred.' },
  credential_integrity_error: { status: 500, message: 'A stored credential failed its integrity check.' },
  upstream_request_failed: {
    status: 502,
    message: 'The Selling Partner API refused or failed the request.',
  },
  oidc_unavailable: { status: 503, message: 'The identity provider cannot be reached; try again shortly.' },
  client_secret_unverified: {
    status: 503,
    message: 'Login with Amazon could not check the new client secret; it was not installed.',
  },
  upstream_unavailable: { status: 503, message: 'Login with Amazon is unavailable; try again later.' },
  upstream_credentials_invalid: {
    status: 503,
    message: "Login with Amazon refused the app's client credentials.",
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
 * A status paired with its code, as tables of failures hold them (each pair checked by the compiler).
 *
 * @example
 * const gone: HttpFailure = [410, 'link_expired', 'This link has expired.'];
 */
export type HttpFailure = {
  [C in HttpErrorCode]: readonly [status: HttpStatusOf<C>, code: C, message: string];
}[HttpErrorCode];

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
 * Refuses a status that is not the one registered for `code` (a cast or a computed status that
 * slipped past the compiler): a programming error, surfaced at the first test that takes the path.
 *
 * @example
 * assertRegistered(404, 'seller_not_found'); // passes
 */
export function assertRegistered(status: number, code: string): void {
  if (!isHttpErrorCode(code)) throw new TypeError(`HTTP error code ${code} is not in HTTP_ERRORS`);
  const registered = HTTP_ERRORS[code].status;
  if (registered !== status) {
    throw new TypeError(`HTTP error ${code} is registered with status ${registered}, not ${status}`);
  }
}
