/**
 * Consent URLs (the website workflow) and the Appstore Login URI hop. The Appstore
 * `amazon_callback_uri` is attacker-controllable input we redirect to: it is validated against the
 * Amazon host allow-list and our exact confirm path before any redirect (an open redirect otherwise).
 */
import { LoginRequestError } from './errors.js';
import { amazonBase } from './http.js';
import { isLoopbackHost } from './loopback.js';
import {
  AMAZON_CONSENT_HOSTS,
  consentOrigin,
  getMarketplace,
  type Marketplace,
  type PartnerKind,
} from './marketplaces.js';
import { isVisibleAscii } from './printable.js';

/**
 * The query parameter names Amazon uses, in one place.
 *
 * @example
 * url.searchParams.get(AMAZON_PARAMS.oauthCode); // the spapi_oauth_code
 */
export const AMAZON_PARAMS = Object.freeze({
  applicationId: 'application_id',
  state: 'state',
  redirectUri: 'redirect_uri',
  version: 'version',
  betaVersion: 'beta',
  codeChallenge: 'code_challenge',
  codeChallengeMethod: 'code_challenge_method',
  sellingPartnerId: 'selling_partner_id',
  oauthCode: 'spapi_oauth_code',
  mwsAuthToken: 'mws_auth_token',
  amazonCallbackUri: 'amazon_callback_uri',
  amazonState: 'amazon_state',
  error: 'error',
});

const CONSENT_PATH = '/apps/authorize/consent';
const CONFIRM_PATH = '/apps/authorize/confirm/';
/** SP-API application ids: `amzn1.sellerapps.app.<uuid>` or `amzn1.sp.solution.<uuid>`, and test ids. */
const APPLICATION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * Options of {@link buildConsentUrl}.
 *
 * @example
 * const options: ConsentUrlOptions = { marketplace: 'DE', applicationId: 'amzn1.sp.solution.x',
 *   state: createState(), redirectUri: 'https://app.example.com/callback' };
 * buildConsentUrl(options); // https://sellercentral-europe.amazon.com/apps/authorize/consent?…
 */
export interface ConsentUrlOptions {
  /** A country code (`US`, `DE`, `GB`…), a marketplace id, or a {@link Marketplace} row. */
  readonly marketplace: string | Marketplace;
  /** Seller Central (default) or Vendor Central. */
  readonly kind?: PartnerKind;
  /** The SP-API application id (not the LWA client id). */
  readonly applicationId: string;
  /** From {@link createState}. */
  readonly state: string;
  /** One of the app's registered redirect URIs; the exchange must send the same. */
  readonly redirectUri?: string;
  /** Adds `version=beta` (the app is a draft). */
  readonly draft?: boolean;
  /** A PKCE S256 challenge (`createPkce().codeChallenge`). */
  readonly codeChallenge?: string;
  /** Sends the browser to this base URL instead of Amazon (the emulator). */
  readonly amazonUrl?: string;
}

function assertApplicationId(applicationId: unknown): asserts applicationId is string {
  if (typeof applicationId !== 'string' || !APPLICATION_ID_RE.test(applicationId)) {
    throw new TypeError('applicationId must be an SP-API application id such as amzn1.sp.solution.<uuid>');
  }
}

function assertNonEmpty(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) {
    throw new TypeError(`${name} must be a non-empty string of at most 2048 characters`);
  }
}

function assertRedirectUri(value: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new TypeError('redirectUri must be an absolute URL');
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.hash !== '' || value.includes('#')) {
    throw new TypeError('redirectUri must be an http(s) URL without a fragment');
  }
}

/**
 * The consent URL of the website workflow: `{Seller|Vendor Central}/apps/authorize/consent` with
 * `application_id`, `state`, and `redirect_uri`, `version=beta`, `code_challenge` when given.
 *
 * @example
 * buildConsentUrl({ marketplace: 'DE', applicationId: 'amzn1.sp.solution.1', state, draft: true });
 * // 'https://sellercentral-europe.amazon.com/apps/authorize/consent?application_id=amzn1.sp.solution.1&state=…&version=beta'
 */
export function buildConsentUrl(options: ConsentUrlOptions): string {
  const marketplace =
    typeof options.marketplace === 'string' ? getMarketplace(options.marketplace) : options.marketplace;
  const kind = options.kind ?? 'seller';
  if (kind !== 'seller' && kind !== 'vendor') throw new TypeError("kind must be 'seller' or 'vendor'");
  assertApplicationId(options.applicationId);
  assertNonEmpty(options.state, 'state');
  const base =
    options.amazonUrl === undefined ? consentOrigin(marketplace, kind) : amazonBase(options.amazonUrl);
  const q = new URLSearchParams();
  q.set(AMAZON_PARAMS.applicationId, options.applicationId);
  q.set(AMAZON_PARAMS.state, options.state);
  if (options.redirectUri !== undefined) {
    assertRedirectUri(options.redirectUri);
    q.set(AMAZON_PARAMS.redirectUri, options.redirectUri);
  }
  if (options.draft === true) q.set(AMAZON_PARAMS.version, AMAZON_PARAMS.betaVersion);
  if (options.codeChallenge !== undefined) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(options.codeChallenge)) {
      throw new TypeError('codeChallenge must be an S256 challenge (43 base64url characters)');
    }
    q.set(AMAZON_PARAMS.codeChallenge, options.codeChallenge);
    q.set(AMAZON_PARAMS.codeChallengeMethod, 'S256');
  }
  if (options.amazonUrl !== undefined) {
    // One emulator origin stands for every Seller and Vendor Central host, so it cannot tell the
    // region and kind from the host as Amazon does: name them. Never sent to Amazon itself.
    q.set('region', marketplace.region);
    q.set('kind', kind);
  }
  return `${base}${CONSENT_PATH}?${q.toString()}`;
}

/** What {@link validateAmazonCallbackUri} checks against. */
export interface CallbackUriPolicy {
  /** Our SP-API application id: the path must be exactly `/apps/authorize/confirm/<it>`. */
  readonly applicationId: string;
  /**
   * The emulator's base URL: also accepted, and may be `http` on a loopback host (`loopback.ts`)
   * with a port. Relative values are resolved against it when set.
   */
  readonly amazonUrl?: string;
  /** Base for a relative `amazon_callback_uri` when `amazonUrl` is unset. Default US Seller Central. */
  readonly sellerCentral?: string;
  /** Extra allowed hosts (e.g. a host Amazon starts using before this table knows it). */
  readonly extraHosts?: Iterable<string>;
}

function badUri(why: string): LoginRequestError {
  return new LoginRequestError('invalid_callback_uri', `amazon_callback_uri rejected: ${why}`);
}

/**
 * Validates an Appstore `amazon_callback_uri` and returns it as a `URL`, or throws
 * `LoginRequestError('invalid_callback_uri')`: https, no userinfo, no port, a host on
 * {@link AMAZON_CONSENT_HOSTS} (or the configured emulator), path exactly
 * `/apps/authorize/confirm/<applicationId>`, no fragment. A relative value is resolved against
 * Seller Central (or the emulator).
 *
 * @example
 * validateAmazonCallbackUri('https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.1', {
 *   applicationId: 'amzn1.sp.solution.1',
 * }).href;
 */
export function validateAmazonCallbackUri(value: string, policy: CallbackUriPolicy): URL {
  assertApplicationId(policy.applicationId);
  if (typeof value !== 'string' || value.length === 0) throw badUri('missing');
  if (value.length > 2048) throw badUri('too long');
  // Backslashes, whitespace and controls are normalised differently by browsers and URL parsers.
  if (/[\\\s\x00-\x1f\x7f]/.test(value)) throw badUri('forbidden characters');
  const emulator = policy.amazonUrl === undefined ? undefined : new URL(amazonBase(policy.amazonUrl));
  if (emulator !== undefined && emulator.protocol === 'http:' && !isLoopbackHost(emulator.hostname)) {
    throw new TypeError('amazonUrl may be http only on a loopback host');
  }
  const relative = !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value);
  if (relative && value.startsWith('//')) throw badUri('scheme-relative URL');
  let u: URL;
  try {
    u = new URL(value, emulator?.href ?? policy.sellerCentral ?? 'https://sellercentral.amazon.com');
  } catch {
    throw badUri('not a URL');
  }
  if (u.username !== '' || u.password !== '') throw badUri('userinfo');
  if (u.hash !== '' || value.includes('#')) throw badUri('fragment');
  const expectedPath = CONFIRM_PATH + policy.applicationId;
  if (emulator !== undefined && u.origin === emulator.origin) {
    const prefix = emulator.pathname.replace(/\/+$/, '');
    if (u.pathname !== prefix + expectedPath) throw badUri('path is not our confirm path');
    return u;
  }
  if (u.protocol !== 'https:') throw badUri('not https');
  // The URL parser drops a default port (`:443`); an explicit one is still refused.
  if (u.port !== '' || (!relative && /^https:\/\/[^/?#]*:/i.test(value))) throw badUri('explicit port');
  const hosts = policy.extraHosts === undefined ? undefined : new Set(policy.extraHosts);
  if (!AMAZON_CONSENT_HOSTS.has(u.hostname) && !hosts?.has(u.hostname)) throw badUri('host not allowed');
  if (u.pathname !== expectedPath) throw badUri('path is not our confirm path');
  return u;
}

/** A validated Appstore Login URI request. */
export interface LoginRequest {
  /** The validated Amazon confirm URL to continue at. */
  readonly amazonCallbackUri: URL;
  readonly amazonState: string;
  readonly sellingPartnerId: string;
  /** True when Amazon sent `version=beta` (a test of a draft app). */
  readonly beta: boolean;
}

/**
 * What a selling partner id may look like, everywhere: the callback, the Login URI, the token
 * manager's keys and the service's routes. Amazon documents no format; merchant ids are upper-case
 * alphanumerics (`A3FHEXAMPLEYWS`) and vendor ids look like `amzn1.vg.5412430`. A conservative
 * superset: 1–128 letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit (so
 * that no id is a path segment such as `..`).
 *
 * @example
 * SELLING_PARTNER_ID_RE.test('amzn1.vg.5412430'); // true
 */
export const SELLING_PARTNER_ID_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;

function single(params: URLSearchParams, name: string, err: (why: string) => Error): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw err(`${name} repeated`);
  return all[0];
}

function toParams(input: string | URL | URLSearchParams): URLSearchParams {
  if (input instanceof URLSearchParams) return input;
  if (input instanceof URL) return input.searchParams;
  const q = input.indexOf('?');
  return new URLSearchParams(
    q === -1 ? (input.includes('=') ? input : '') : input.slice(q + 1).split('#')[0],
  );
}

/**
 * Parses and validates the Appstore Login URI request (`amazon_callback_uri`, `amazon_state`,
 * `selling_partner_id`, optional `version=beta`). Throws `LoginRequestError`; never redirect then.
 *
 * @example
 * const login = parseLoginRequest(request.url, { applicationId });
 * const next = buildAppstoreContinueUrl({ ...login, state, redirectUri });
 */
export function parseLoginRequest(
  input: string | URL | URLSearchParams,
  policy: CallbackUriPolicy,
): LoginRequest {
  const params = toParams(input);
  const bad = (why: string) =>
    new LoginRequestError('invalid_login_request', `Login URI request rejected: ${why}`);
  const uri = single(params, AMAZON_PARAMS.amazonCallbackUri, (why) => badUri(why));
  if (uri === undefined) throw badUri('missing');
  const amazonCallbackUri = validateAmazonCallbackUri(uri, policy);
  const amazonState = single(params, AMAZON_PARAMS.amazonState, bad);
  if (!isVisibleAscii(amazonState, 1024)) throw bad('amazon_state missing or malformed');
  const sellingPartnerId = single(params, AMAZON_PARAMS.sellingPartnerId, bad);
  if (sellingPartnerId === undefined || !SELLING_PARTNER_ID_RE.test(sellingPartnerId)) {
    throw bad('selling_partner_id missing or malformed');
  }
  const version = single(params, AMAZON_PARAMS.version, bad);
  if (version !== undefined && version !== AMAZON_PARAMS.betaVersion) throw bad('version is not beta');
  return Object.freeze({ amazonCallbackUri, amazonState, sellingPartnerId, beta: version !== undefined });
}

/** Options of {@link buildAppstoreContinueUrl}. */
export interface AppstoreContinueOptions {
  /** From {@link parseLoginRequest} (already validated). */
  readonly amazonCallbackUri: URL;
  readonly amazonState: string;
  /** Our own new state, from {@link createState}. */
  readonly state: string;
  readonly redirectUri?: string;
  /** Adds `version=beta` (Amazon sent it, or the app is a draft). */
  readonly beta?: boolean;
  readonly draft?: boolean;
  readonly codeChallenge?: string;
}

/**
 * The URL to send the browser to after our Login URI: the validated `amazon_callback_uri` with
 * `redirect_uri`, `amazon_state`, `state` (and `version=beta`), built with `URLSearchParams`.
 *
 * @example
 * const location = buildAppstoreContinueUrl({ ...login, state, redirectUri: 'https://app.example/oauth/callback' });
 */
export function buildAppstoreContinueUrl(options: AppstoreContinueOptions): string {
  if (!(options.amazonCallbackUri instanceof URL)) {
    throw new TypeError('amazonCallbackUri must be the URL returned by parseLoginRequest');
  }
  assertNonEmpty(options.amazonState, 'amazonState');
  assertNonEmpty(options.state, 'state');
  const u = new URL(options.amazonCallbackUri.href);
  // Amazon's own parameters on its confirm URL (if any) are kept; ours replace same-named ones.
  const q = new URLSearchParams(u.search);
  if (options.redirectUri !== undefined) {
    assertRedirectUri(options.redirectUri);
    q.set(AMAZON_PARAMS.redirectUri, options.redirectUri);
  }
  q.set(AMAZON_PARAMS.amazonState, options.amazonState);
  q.set(AMAZON_PARAMS.state, options.state);
  if (options.beta === true || options.draft === true)
    q.set(AMAZON_PARAMS.version, AMAZON_PARAMS.betaVersion);
  if (options.codeChallenge !== undefined) {
    q.set(AMAZON_PARAMS.codeChallenge, options.codeChallenge);
    q.set(AMAZON_PARAMS.codeChallengeMethod, 'S256');
  }
  u.search = q.toString();
  return u.href;
}
