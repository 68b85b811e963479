/**
 * The declarations of the dashboard's routes (see `http/route.ts`): pages and forms, none in the
 * API description. Every route may answer what the kit checks first: a remote request to the
 * password-less dev dashboard (`admin_local_only`); a form also its CSRF token, its session and
 * its media type.
 */
import type { HttpErrorCode } from '../http/errors.js';
import { defineRoute, type Route } from '../http/route.js';

const FORM_ERRORS: readonly HttpErrorCode[] = [
  'csrf_failed',
  'admin_login_required',
  'unsupported_media_type',
];

/** A dashboard route: a page (200) or a form that redirects (303), with the kit's refusals. */
function adminRoute(
  method: 'GET' | 'POST',
  path: string,
  summary: string,
  errors: readonly HttpErrorCode[] = [],
): Route {
  return defineRoute({
    method,
    path,
    scope: null,
    audience: 'internal',
    summary,
    description: summary,
    responses:
      method === 'GET'
        ? { 200: { description: 'A page.' }, 303: { description: 'To the login page.' } }
        : { 303: { description: 'To the next page.' } },
    errors: ['admin_local_only', ...(method === 'POST' ? FORM_ERRORS : []), ...errors],
  });
}

const SIGN_IN_ERRORS: readonly HttpErrorCode[] = ['login_throttled', 'admin_not_allowed'];
const OIDC_ERRORS: readonly HttpErrorCode[] = [
  'oidc_denied',
  'oidc_state_mismatch',
  'oidc_invalid_response',
  'oidc_unavailable',
];

export const ADMIN_LOGIN_PAGE = adminRoute('GET', '/admin/login', 'The login page.');
export const ADMIN_LOGIN = adminRoute('POST', '/admin/login', 'Log in with the password.', SIGN_IN_ERRORS);
export const ADMIN_LOGOUT = adminRoute('POST', '/admin/logout', 'Log out.');
export const ADMIN_OIDC_START = adminRoute('GET', '/admin/oidc/start', 'Sign in at the identity provider.', [
  'login_throttled',
  ...OIDC_ERRORS,
]);
export const ADMIN_OIDC_CALLBACK = adminRoute(
  'GET',
  '/admin/oidc/callback',
  "The identity provider's answer.",
  [...SIGN_IN_ERRORS, ...OIDC_ERRORS],
);
export const ADMIN_HOME = adminRoute('GET', '/admin', 'The overview.');
export const ADMIN_SELLERS = adminRoute('GET', '/admin/sellers', 'The sellers, searched and filtered.', [
  'invalid_status',
  'invalid_search',
  'invalid_cursor',
]);
export const ADMIN_SELLER = adminRoute('GET', '/admin/sellers/:id', "A seller's detail.", [
  'invalid_seller_id',
  'seller_not_found',
]);
export const ADMIN_REAUTHORIZE = adminRoute(
  'POST',
  '/admin/sellers/:id/reauthorize',
  'A re-authorization link for a seller.',
  ['invalid_seller_id', 'invalid_region', 'seller_not_found'],
);
export const ADMIN_DELETE_SELLER = adminRoute('POST', '/admin/sellers/:id/delete', 'Delete a seller.', [
  'invalid_seller_id',
  'invalid_region',
  'seller_not_found',
]);
export const ADMIN_CONNECT_PAGE = adminRoute('GET', '/admin/connect', 'Connect a seller.');
export const ADMIN_CONNECTED = adminRoute(
  'GET',
  '/admin/connected',
  'Where a connect from the dashboard lands.',
  ['invalid_callback'],
);
export const ADMIN_CONNECT = adminRoute('POST', '/admin/connect', 'A connect link from the dashboard.', [
  'invalid_marketplace',
  'invalid_kind',
  'invalid_user_ref',
]);
export const ADMIN_WEBHOOKS = adminRoute('GET', '/admin/webhooks', 'The webhook outbox.', ['invalid_state']);
export const ADMIN_WEBHOOK_TEST = adminRoute('POST', '/admin/webhooks/test', 'Send a test event.');
export const ADMIN_WEBHOOK_RETRY = adminRoute('POST', '/admin/webhooks/retry', 'Retry a dead delivery.', [
  'invalid_event_id',
]);
export const ADMIN_WEBHOOK_REDELIVER = adminRoute(
  'POST',
  '/admin/webhooks/redeliver',
  'Deliver an event again.',
  ['invalid_event_id'],
);
