/**
 * The declarations of the browser flows' routes (see `http/route.ts`): the two API calls of the
 * app's backend (connect links, the Appstore confirmation) and the pages the browser passes
 * through. The handlers are in `connect.ts`, `appstore.ts` and `callback.ts`; a body is checked
 * against its declaration first (each property's refusal code is its `x-error`), then the handler
 * checks what a schema cannot say (a known marketplace, an allowed return origin).
 */
import { Type } from '@sinclair/typebox';
import { coded, defineRoute } from '../http/route.js';
import { SELLER_ID, USER_REF_SCHEMA, instant, nullable, object, oneOf, str } from '../http/schemas.js';

/** The message of an unknown marketplace. */
export const MARKETPLACE_MESSAGE = 'marketplace must be a country code (US, DE, …) or a marketplace id.';

/** `POST /v1/connect-sessions`. */
export const CREATE_CONNECT_SESSION = defineRoute({
  method: 'POST',
  path: '/v1/connect-sessions',
  scope: 'connect',
  audience: 'api',
  summary: 'Create a connect link',
  description:
    "A single-use, 10-minute link that starts Amazon's website authorization flow in one browser. With " +
    '`selling_partner_id`, re-authorizes a known seller (another seller coming back → `409 seller_mismatch`; a ' +
    'link without it never replaces a connected seller → `409 seller_already_connected`); `"kind":"vendor"` for ' +
    'Vendor Central.',
  body: Type.Object({
    user_ref: coded(
      'invalid_user_ref',
      USER_REF_SCHEMA('Your own id of the user (1-256 printable characters).'),
    ),
    marketplace: coded(
      'invalid_marketplace',
      str('A country code (US, DE, JP, …) or a marketplace id.'),
      MARKETPLACE_MESSAGE,
    ),
    kind: Type.Optional(coded('invalid_kind', oneOf(['seller', 'vendor'], { default: 'seller' }))),
    return_to: Type.Optional(
      coded(
        'invalid_return_to',
        nullable(str('Where the browser lands after consent (an allowed origin only).', { format: 'uri' })),
      ),
    ),
    selling_partner_id: Type.Optional(
      coded('invalid_seller_id', nullable(SELLER_ID('Re-authorize this seller.'))),
    ),
  }),
  responses: {
    201: {
      description: 'The link to send the browser to.',
      schema: object({
        url: str('The connect link.', { format: 'uri' }),
        expires_at: instant('When the link stops working.'),
      }),
    },
  },
  errors: [
    'invalid_user_ref',
    'invalid_marketplace',
    'invalid_kind',
    'invalid_return_to',
    'invalid_seller_id',
    'seller_not_found',
    'seller_owned_by_other_user',
  ],
});

/** `GET /connect/:token`. */
export const OPEN_CONNECT_LINK = defineRoute({
  method: 'GET',
  path: '/connect/:token',
  scope: null,
  audience: 'browser',
  summary: 'Open a connect link',
  description:
    "The browser's entry: creates the OAuth transaction (state bound to the browser by the `spapi_tx` / " +
    '`__Host-spapi_tx` cookie) and redirects to the consent page.',
  responses: { 302: { description: "To Amazon's consent page." } },
  errors: ['invalid_token', 'link_invalid', 'link_expired', 'link_used', 'flow_rate_limited'],
});

/** `GET /oauth/login`. */
export const APPSTORE_LOGIN = defineRoute({
  method: 'GET',
  path: '/oauth/login',
  scope: null,
  audience: 'browser',
  summary: 'The Appstore Login URI',
  description:
    'The Appstore Login URI; with `SPAPI_AUTH_SIGNIN_URL` it hands the browser to your sign-in page with ' +
    '`spapi_pending=<token>`.',
  responses: { 302: { description: 'To the sign-in page, or back to Amazon.' } },
  errors: ['invalid_login_request', 'invalid_callback_uri', 'flow_rate_limited'],
});

/** `POST /v1/appstore-sessions/:token/confirm`. */
export const CONFIRM_APPSTORE_SESSION = defineRoute({
  method: 'POST',
  path: '/v1/appstore-sessions/:token/confirm',
  scope: 'connect',
  audience: 'api',
  summary: 'Confirm an Appstore authorization',
  description:
    'After your sign-in page has signed the user in (Appstore Login URI flow): `{ "user_ref" }` → `{ "url" }`, ' +
    'where to send the signed-in browser next.',
  body: Type.Object({
    user_ref: coded('invalid_user_ref', USER_REF_SCHEMA('Your own id of the signed-in user.')),
  }),
  responses: {
    200: {
      description: 'Where the browser goes next.',
      schema: object({ url: str('The connect link to redirect to.', { format: 'uri' }) }),
    },
  },
  errors: [
    'invalid_user_ref',
    'invalid_token',
    'link_invalid',
    'seller_owned_by_other_user',
    'link_expired',
    'link_used',
  ],
});

/** `GET /oauth/callback`. */
export const OAUTH_CALLBACK = defineRoute({
  method: 'GET',
  path: '/oauth/callback',
  scope: null,
  audience: 'browser',
  summary: 'The OAuth redirect URI',
  description:
    'The redirect URI: one code exchange, then `303` to `return_to` or the result page; every failure is a page ' +
    '(or JSON with `Accept: application/json`) with a stable code.',
  responses: { 303: { description: 'To `return_to` or the result page.' } },
  errors: [
    'state_missing',
    'state_invalid',
    'state_expired',
    'state_used',
    'state_not_bound',
    'code_missing',
    'invalid_callback',
    'authorization_denied',
    'authorization_code_invalid',
    'flow_rate_limited',
  ],
});

/** `GET /oauth/result`. */
export const OAUTH_RESULT = defineRoute({
  method: 'GET',
  path: '/oauth/result',
  scope: null,
  audience: 'internal',
  summary: 'The result page',
  description: 'Where a connected browser lands without a `return_to`.',
  responses: { 200: { description: 'A page.' } },
  errors: [],
});

/**
 * The flows' declarations, in the order of the README's table.
 *
 * @example
 * for (const r of FLOW_ROUTES) console.log(r.method, r.path);
 */
export const FLOW_ROUTES = [
  CREATE_CONNECT_SESSION,
  OPEN_CONNECT_LINK,
  APPSTORE_LOGIN,
  CONFIRM_APPSTORE_SESSION,
  OAUTH_CALLBACK,
  OAUTH_RESULT,
] as const;
