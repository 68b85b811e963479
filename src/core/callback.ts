/**
 * Parsing the callback Amazon sends to the redirect URI after consent: `state`,
 * `selling_partner_id`, `spapi_oauth_code`, `mws_auth_token` (hybrid apps), or `error=`. Every
 * parameter is checked for repetition, length and characters before anything looks it up
 * (RFC 6749 §10.14).
 */
import { CallbackError, StateError } from './errors.js';
import { AMAZON_PARAMS, SELLING_PARTNER_ID_RE } from './consent.js';

/** A callback that carries an authorization code. */
export interface CallbackSuccess {
  readonly ok: true;
  readonly state: string;
  readonly sellingPartnerId: string;
  /** The LWA authorization code (`spapi_oauth_code`): exchange it within 5 minutes, once. */
  readonly spapiOauthCode: string;
  /** Only for hybrid (MWS + SP-API) apps. */
  readonly mwsAuthToken?: string;
  /**
   * Names (never values) of parameters Amazon does not document, e.g. `iss`: ignored per RFC 6749
   * §4.1.2, worth logging as an anomaly. At most 10, each `[A-Za-z0-9_.-]{1,64}`.
   */
  readonly unexpectedParams: readonly string[];
}

/** A callback that cannot be used. `state` is set when it was present and well-formed, so that the
 * transaction can still be consumed (consume on every callback, errors included, so that a state is never usable twice). */
export interface CallbackFailure {
  readonly ok: false;
  readonly state: string | undefined;
  readonly error: CallbackError | StateError;
}

/**
 * What {@link parseCallback} returns: the callback's values, or a typed error (never thrown).
 *
 * @example
 * const result: CallbackResult = parseCallback(request.url);
 * if (result.ok) await exchangeAuthorizationCode({ …, code: result.spapiOauthCode });
 * else console.log(result.error.code); // e.g. 'authorization_denied'
 */
export type CallbackResult = CallbackSuccess | CallbackFailure;

/** Our states are 43 characters; a library user's may differ, so allow unreserved URL characters. */
const STATE_RE = /^[A-Za-z0-9._~-]{1,512}$/;
const CODE_RE = /^[A-Za-z0-9._~+/=|-]{1,2048}$/;
const MWS_RE = /^[A-Za-z0-9._-]{1,256}$/;
const ERROR_RE = /^[A-Za-z0-9._-]{1,64}$/;
const KNOWN: ReadonlySet<string> = new Set([
  AMAZON_PARAMS.state,
  AMAZON_PARAMS.sellingPartnerId,
  AMAZON_PARAMS.oauthCode,
  AMAZON_PARAMS.mwsAuthToken,
]);
/** A callback query longer than this is refused before looking at it. */
export const MAX_CALLBACK_QUERY_LENGTH = 8192;

function queryOf(input: string | URL | URLSearchParams): string | URLSearchParams {
  if (input instanceof URLSearchParams) return input;
  const s = input instanceof URL ? input.search : input;
  const q = s.indexOf('?');
  const query = q === -1 ? s : s.slice(q + 1);
  const hash = query.indexOf('#');
  return hash === -1 ? query : query.slice(0, hash);
}

/**
 * Parses a callback URL (or its query) into a typed success or a typed failure; never throws for
 * bad input. Unknown parameters are ignored (RFC 6749 §4.1.2).
 *
 * @example
 * const cb = parseCallback(request.url);
 * if (!cb.ok) return errorPage(cb.error.code); // and consume cb.state if set
 * await exchangeAuthorizationCode(credentials, { code: cb.spapiOauthCode, redirectUri });
 */
export function parseCallback(input: string | URL | URLSearchParams): CallbackResult {
  const raw = queryOf(input);
  if (typeof raw === 'string' && raw.length > MAX_CALLBACK_QUERY_LENGTH) {
    return fail(undefined, new CallbackError('invalid_callback', 'callback query too long'));
  }
  const params = typeof raw === 'string' ? new URLSearchParams(raw) : raw;

  const states = params.getAll(AMAZON_PARAMS.state);
  if (states.length === 0) return fail(undefined, new StateError('state_missing', 'callback without state'));
  if (states.length > 1)
    return fail(undefined, new StateError('state_invalid', 'callback with repeated state'));
  const state = states[0]!;
  if (!STATE_RE.test(state)) return fail(undefined, new StateError('state_invalid', 'malformed state'));

  const invalid = (name: string, why: string) =>
    fail(state, new CallbackError('invalid_callback', `callback parameter ${name} ${why}`));
  const one = (name: string, re: RegExp): string | undefined | CallbackFailure => {
    const all = params.getAll(name);
    if (all.length > 1) return invalid(name, 'repeated');
    if (all.length === 0) return undefined;
    return re.test(all[0]!) ? all[0]! : invalid(name, 'too long or with invalid characters');
  };

  const error = one(AMAZON_PARAMS.error, ERROR_RE);
  if (typeof error === 'object') return error;
  if (error !== undefined || params.has('error_description')) {
    return fail(
      state,
      new CallbackError('authorization_denied', 'Amazon answered the authorization with an error', {
        ...(error === undefined ? {} : { upstreamError: error }),
      }),
    );
  }
  const sellingPartnerId = one(AMAZON_PARAMS.sellingPartnerId, SELLING_PARTNER_ID_RE);
  if (typeof sellingPartnerId === 'object') return sellingPartnerId;
  const code = one(AMAZON_PARAMS.oauthCode, CODE_RE);
  if (typeof code === 'object') return code;
  const mws = one(AMAZON_PARAMS.mwsAuthToken, MWS_RE);
  if (typeof mws === 'object') return mws;
  if (code === undefined)
    return fail(state, new CallbackError('code_missing', 'callback without spapi_oauth_code'));
  if (sellingPartnerId === undefined) return invalid(AMAZON_PARAMS.sellingPartnerId, 'missing');
  const unexpectedParams: string[] = [];
  for (const name of new Set(params.keys())) {
    if (!KNOWN.has(name) && unexpectedParams.length < 10 && /^[A-Za-z0-9_.-]{1,64}$/.test(name))
      unexpectedParams.push(name);
  }
  return Object.freeze({
    ok: true as const,
    state,
    sellingPartnerId,
    spapiOauthCode: code,
    ...(mws === undefined ? {} : { mwsAuthToken: mws }),
    unexpectedParams: Object.freeze(unexpectedParams),
  });
}

function fail(state: string | undefined, error: CallbackError | StateError): CallbackFailure {
  return Object.freeze({ ok: false as const, state, error });
}
