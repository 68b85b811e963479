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
    pattern: TOKEN,
    code: 'invalid_token',
    description:
      'A connect link or Appstore session token (the Appstore one is handed to your sign-in page as `spapi_pending`).',
  },
});
