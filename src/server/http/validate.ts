/**
 * Input rules shared by the routes: what a seller id, a user_ref, a connect token look like. Checked
 * before any database work, so injection and traversal attempts end at a 400.
 */
import type { ParamRule } from './router.js';

/**
 * A selling partner id: Amazon's merchant ids are upper-case alphanumerics (`A3FHEXAMPLEYWS`) and
 * vendor ids look like `amzn1.vg.5412430`. Not a documented format: a conservative superset.
 *
 * @example
 * SELLER_ID.test('A3FHEXAMPLEYWS'); // true
 */
export const SELLER_ID = /^[A-Za-z0-9](?:[A-Za-z0-9.]{0,62}[A-Za-z0-9])?$/;

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
export const USER_REF = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

/**
 * Router rules for the path parameters.
 *
 * @example
 * const router = new Router(PARAM_RULES);
 */
export const PARAM_RULES: Readonly<Record<string, ParamRule>> = Object.freeze({
  id: { pattern: SELLER_ID, code: 'invalid_seller_id', message: 'The selling partner id is malformed.' },
  token: { pattern: TOKEN, code: 'invalid_token', message: 'The link is malformed.' },
});
