/**
 * The one shape the SDK adapters take their tokens from. Both of spapi-auth's token sources have
 * it: the library's token manager (`createTokenManager`, in-process) and the token client
 * (`createTokenClient` from `spapi-auth/client`, when the service runs elsewhere). Types only: the
 * adapters import nothing at runtime, neither from spapi-auth nor from the SDK they adapt.
 */
import type { Region } from '../core/marketplaces.js';
import type { GrantlessScope } from '../core/scopes.js';
import type { AccessToken, SellerTokenKey } from '../core/token-vault.js';

export type { AccessToken, GrantlessScope, Region, SellerTokenKey };

/**
 * Where an adapter gets access tokens: a seller's (cached, refreshed once however many callers
 * ask) and grantless ones; `invalidate` is told of a token SP-API refused as expired before its
 * time, so that the next call gets another one.
 *
 * @example
 * const tokens: TokenProvider = createTokenManager({ credentials, vault }); // or createTokenClient({ baseUrl, apiKey })
 */
export interface TokenProvider {
  getAccessToken(key: SellerTokenKey): Promise<AccessToken>;
  getGrantlessToken(scope: GrantlessScope): Promise<AccessToken>;
  invalidate(key: SellerTokenKey, accessToken: string): Promise<void>;
}

/**
 * SP-API's 403 details for a token it stopped accepting before the expiry spapi-auth knows: "The
 * access token you provided has expired." / "… is revoked, malformed or invalid." / "The LWA secret
 * token you provided has expired." (a rotated client secret). One fresh token from spapi-auth is the
 * remedy of each (or its refusal, with a stable code, when the seller revoked the app); a region's
 * refusal of another region's token has an empty detail and is not one of them.
 */
export const REFUSED_TOKEN_DETAIL = /(access|secret) token you provided (has expired|is revoked)/i;

/**
 * Whether an SP-API error body's first error is such a refusal.
 *
 * @example
 * isRefusedToken({ code: 'Unauthorized', details: 'The access token you provided has expired.' }); // true
 */
export function isRefusedToken(error: { code?: unknown; details?: unknown } | null | undefined): boolean {
  return (
    error?.code === 'Unauthorized' &&
    typeof error.details === 'string' &&
    REFUSED_TOKEN_DETAIL.test(error.details)
  );
}

/**
 * Which token an SDK client gets: a seller's in a region, or a grantless one for a scope.
 *
 * @example
 * const seller: TokenTarget = { sellingPartnerId: 'A1EXAMPLESELLER', region: 'eu' };
 * const grantless: TokenTarget = { scope: 'sellingpartnerapi::notifications' };
 */
export type TokenTarget =
  { readonly sellingPartnerId: string; readonly region: Region } | { readonly scope: GrantlessScope };

/** A target's token from a provider, and what to do when SP-API refused it. */
export interface TargetTokens {
  get(): Promise<string>;
  /** Tells the provider of a seller's token SP-API refused (a grantless token has nothing to drop). */
  refused(accessToken: string): Promise<void>;
}

/**
 * The token source of one SDK client.
 *
 * @example
 * const source = targetTokens(tokens, { sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' });
 * const accessToken = await source.get();
 */
export function targetTokens(tokens: TokenProvider, target: TokenTarget): TargetTokens {
  if ('scope' in target) {
    return {
      get: async () => (await tokens.getGrantlessToken(target.scope)).accessToken,
      refused: async () => undefined,
    };
  }
  const key: SellerTokenKey = { sellingPartnerId: target.sellingPartnerId, region: target.region };
  return {
    get: async () => (await tokens.getAccessToken(key)).accessToken,
    refused: (accessToken) => tokens.invalidate(key, accessToken),
  };
}
