/**
 * Amazon's official JavaScript SDK (`@amazon-sp-api-release/amazon-sp-api-sdk-js` 1.x) with its
 * tokens from spapi-auth. Each API of the SDK has its own `ApiClient`; its token hook is
 * `applyXAmzAccessTokenToRequest(token)`, the token every later call sends. The adapter wraps that
 * one `ApiClient` instance's `callApi` (what every API method of the SDK calls): before each call it
 * applies the current token from spapi-auth (a cache hit there, so one refresh per seller however
 * many calls run at once), and when SP-API answers 403 "The access token you provided has expired"
 * (or "is revoked", or the LWA secret's expiry) it tells spapi-auth and retries once. The SDK's own
 * LWA client (`enableAutoRetrievalAccessToken`) is never enabled: it never calls LWA.
 *
 * The token is applied and read in the same synchronous step: `callApi` sets the header before its
 * first `await`, so concurrent calls on one `ApiClient` each send the token applied for them.
 */
import { isRefusedToken, targetTokens, type TokenProvider, type TokenTarget } from './token-provider.js';

export type { TokenProvider, TokenTarget } from './token-provider.js';

/**
 * What the adapter needs of an `ApiClient` of the official SDK (structural: the package does not
 * depend on the SDK).
 *
 * @example
 * const client: OfficialApiClientLike = new SellersSpApi.ApiClient('https://sellingpartnerapi-na.amazon.com');
 */
export interface OfficialApiClientLike {
  applyXAmzAccessTokenToRequest(accessOrRdtToken: string): unknown;
  callApi(...args: never[]): Promise<unknown>;
}

/** Options of {@link useSpapiAuth}: the token source and the token it gives. */
export type OfficialSdkAdapterOptions = { readonly tokens: TokenProvider } & TokenTarget;

/**
 * Makes an official-SDK `ApiClient` take its tokens from spapi-auth; returns the same client.
 *
 * @example
 * import { SellersSpApi } from '@amazon-sp-api-release/amazon-sp-api-sdk-js';
 * const client = useSpapiAuth(new SellersSpApi.ApiClient('https://sellingpartnerapi-na.amazon.com'),
 *   { tokens, sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' });
 * await new SellersSpApi.SellersApi(client).getMarketplaceParticipations();
 */
export function useSpapiAuth<C extends OfficialApiClientLike>(client: C, opts: OfficialSdkAdapterOptions): C {
  const source = targetTokens(opts.tokens, opts);
  const callApi = client.callApi.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const send = async (args: unknown[]): Promise<{ token: string; result: Promise<unknown> }> => {
    const token = await source.get();
    client.applyXAmzAccessTokenToRequest(token);
    return { token, result: callApi(...args) };
  };
  client.callApi = (async (...args: unknown[]) => {
    const first = await send(args);
    try {
      return await first.result;
    } catch (err) {
      if (!isRefusedToken(refusal(err))) throw err;
      await source.refused(first.token);
      return (await send(args)).result;
    }
  }) as C['callApi'];
  return client;
}

/** SP-API's first error from the SDK's (superagent's) error for a 403, if that is what it is. */
function refusal(err: unknown): { code?: unknown; details?: unknown } | undefined {
  const e = err as { status?: unknown; response?: { body?: { errors?: unknown } } } | null;
  if (e?.status !== 403) return undefined;
  const errors = e.response?.body?.errors;
  return Array.isArray(errors) ? (errors[0] as { code?: unknown; details?: unknown }) : undefined;
}
