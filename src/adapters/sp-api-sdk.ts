/**
 * The `@sp-api-sdk/*` clients (`@sp-api-sdk/auth` 3.x, `@sp-api-sdk/common` 4.x and every API
 * package built on them) with their tokens from spapi-auth, through their documented extension
 * point: the `auth` object each client takes (`new SellersApiClient({ auth, region })`), whose
 * `getAccessToken()` the clients call before every request. The SDK is not changed and not
 * imported: the caller passes its own `SellingPartnerApiAuth` class and gets an instance of it whose
 * `getAccessToken()` asks spapi-auth (a cache hit there, so one refresh per seller however many
 * requests run at once); it never calls LWA and holds no refresh token or client secret.
 *
 * These clients have no reactive path for a refused token; spapi-auth refreshes ahead of expiry,
 * and a seller who revoked the app meets spapi-auth's `reauthorization_required` at the next refresh.
 */
import { targetTokens, type TokenProvider, type TokenTarget } from './token-provider.js';

export type { TokenProvider, TokenTarget } from './token-provider.js';

/**
 * What the adapter needs of `@sp-api-sdk/auth`'s `SellingPartnerApiAuth` (structural: the package
 * does not depend on it).
 *
 * @example
 * const auth: SellingPartnerApiAuthLike = createSpApiSdkAuth(SellingPartnerApiAuth, { tokens, sellingPartnerId, region: 'eu' });
 */
export interface SellingPartnerApiAuthLike {
  getAccessToken(): Promise<string>;
}

/** What `new SellingPartnerApiAuth(parameters)` receives: placeholders, never used (no LWA call is made). */
export interface SellingPartnerApiAuthParameters {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: never[];
}

/** Options of {@link createSpApiSdkAuth}: the token source and the token it gives. */
export type SpApiSdkAuthOptions = { readonly tokens: TokenProvider } & TokenTarget;

const UNUSED = 'spapi-auth:unused';

/**
 * A `SellingPartnerApiAuth` for `@sp-api-sdk/*` clients that takes its tokens from spapi-auth.
 *
 * @example
 * import { SellingPartnerApiAuth } from '@sp-api-sdk/auth';
 * import { SellersApiClient } from '@sp-api-sdk/sellers-api-v1';
 * const auth = createSpApiSdkAuth(SellingPartnerApiAuth, { tokens, sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' });
 * const sellers = new SellersApiClient({ auth, region: 'na' });
 */
export function createSpApiSdkAuth<T extends SellingPartnerApiAuthLike>(
  SellingPartnerApiAuth: new (parameters: SellingPartnerApiAuthParameters) => T,
  opts: SpApiSdkAuthOptions,
): T {
  const source = targetTokens(opts.tokens, opts);
  const auth = new SellingPartnerApiAuth({ clientId: UNUSED, clientSecret: UNUSED, scopes: [] });
  auth.getAccessToken = source.get;
  return auth;
}
