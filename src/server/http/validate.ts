/**
 * Input rules shared by the routes: what a user_ref and a connect token look like (a seller id is the
 * core's `SELLING_PARTNER_ID_RE`). Checked
 * before any database work, so injection and traversal attempts end at a 400.
 */
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import type { ParamRule } from './router.js';
import { PRINTABLE_ASCII_CLASS, VISIBLE_ASCII_CLASS } from '../../core/printable.js';

/**
 * A 32-byte random token in base64url: connect links, Appstore sessions, states, binding cookies.
 *
 * @example
 * TOKEN.test(createState()); // true
 */
export const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * A link or session token in a path: a stored one ({@link TOKEN}), or one that carries its session
 * (`<base64url>.<key id>.<HMAC>`, the pending Appstore sign-in; see `flows/carried.ts`).
 *
 * @example
 * FLOW_TOKEN.test(pendingAppstoreToken(ctx, payload)); // true
 */
export const FLOW_TOKEN =
  /^(?:[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{1,6900}\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{43})$/;

/**
 * The app's own user id: printable ASCII, no spaces at the ends, 1–256 characters.
 *
 * @example
 * USER_REF.test('acct-123'); // true
 */
export const USER_REF = new RegExp(
  `^[${VISIBLE_ASCII_CLASS}](?:[${PRINTABLE_ASCII_CLASS}]{0,254}[${VISIBLE_ASCII_CLASS}])?$`,
);

/**
 * Router rules for the path parameters.
 *
 * @example
 * const router = new Router(PARAM_RULES);
 */
export const PARAM_RULES: Readonly<Record<string, ParamRule>> = Object.freeze({
  id: { pattern: SELLING_PARTNER_ID_RE, code: 'invalid_seller_id', description: 'The selling partner id.' },
  token: {
    pattern: FLOW_TOKEN,
    code: 'invalid_token',
    description:
      'A connect link or Appstore session token (the Appstore one is handed to your sign-in page as `spapi_pending`: it carries the pending session, signed — a few hundred characters, at most about 7 kB — and is good for one confirm within 10 minutes).',
  },
});
