/**
 * `amazon-sp-api` (the `SellingPartner` class, 1.x) with its tokens from spapi-auth. The SDK is not
 * changed and not imported: the caller passes its own `SellingPartner` class, and gets an ordinary
 * instance back whose `callAPI` (and everything built on it) works as before.
 *
 * What changes on that instance:
 * - its own token handling is off (`auto_request_tokens: false`): it never calls LWA and holds no
 *   refresh token (the config gets a placeholder, and placeholder app credentials, so that it reads
 *   neither environment variables nor its credentials file);
 * - `refreshAccessToken(scope?)` — the SDK's documented call for supplying tokens when
 *   `auto_request_tokens` is off — asks spapi-auth instead of LWA (a grantless one for a scope);
 * - `callAPI` first supplies the current token (a cache hit in spapi-auth, so one refresh per seller
 *   however many calls run at once), and its reactive path — SP-API answering 403 "The access
 *   token you provided has expired" (or "is revoked", or the LWA secret's expiry) — tells spapi-auth
 *   (`invalidate`) and retries once with the token spapi-auth then gives; a second 403 is thrown as
 *   the SDK throws it, and a seller who revoked the app gets spapi-auth's `reauthorization_required`
 *   from that one refresh. No retry storm.
 *
 * Errors of spapi-auth (a seller to re-authorize, LWA unavailable, …) reject `callAPI` as they are,
 * with their stable `code`.
 */
import {
  isRefusedToken,
  type GrantlessScope,
  type Region,
  type SellerTokenKey,
  type TokenProvider,
} from './token-provider.js';

export type { TokenProvider } from './token-provider.js';

/**
 * What the adapter needs of an amazon-sp-api `SellingPartner` instance (structural: the package
 * does not depend on amazon-sp-api).
 *
 * @example
 * const sp: SellingPartnerLike = createSellingPartner(SellingPartner, { tokens, sellingPartnerId, region: 'na' });
 */
export interface SellingPartnerLike {
  callAPI(params: object): Promise<unknown>;
  refreshAccessToken(scope?: string): Promise<void>;
}

/** The configuration object `new SellingPartner(config)` receives from the adapter. */
export interface SellingPartnerConfig {
  readonly region: Region;
  readonly refresh_token: string;
  readonly credentials: {
    readonly SELLING_PARTNER_APP_CLIENT_ID: string;
    readonly SELLING_PARTNER_APP_CLIENT_SECRET: string;
  };
  readonly options: Record<string, unknown>;
  readonly endpoints_versions?: Record<string, string>;
}

/** Options of {@link createSellingPartner}. */
export interface SellingPartnerAdapterOptions {
  /** The token manager (in-process) or the token client (the service elsewhere). */
  readonly tokens: TokenProvider;
  readonly sellingPartnerId: string;
  readonly region: Region;
  /**
   * amazon-sp-api's own `options` (`auto_request_throttled`, `timeouts`, `https_proxy_agent`, …),
   * passed through; `auto_request_tokens` is always false.
   */
  readonly options?: Record<string, unknown>;
  /** amazon-sp-api's `endpoints_versions`, passed through. */
  readonly endpoints_versions?: Record<string, string>;
}

/** A refresh token amazon-sp-api's constructor requires and never uses here (its refresh is off). */
const UNUSED = 'spapi-auth:unused';

/** The two fields of a SellingPartner the tokens are written to (amazon-sp-api 1.x). */
interface TokenFields {
  _access_token?: string;
  _grantless_tokens: Record<string, string>;
}

/**
 * A `SellingPartner` of amazon-sp-api that takes its tokens from spapi-auth: `callAPI`,
 * `downloadReport` and the rest work as before, with one refresh per seller across every caller.
 *
 * @example
 * import SellingPartner from 'amazon-sp-api';
 * const sp = createSellingPartner(SellingPartner, { tokens, sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' });
 * await sp.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' });
 */
export function createSellingPartner<T extends SellingPartnerLike>(
  SellingPartner: new (config: SellingPartnerConfig) => T,
  opts: SellingPartnerAdapterOptions,
): T {
  const { tokens } = opts;
  const key: SellerTokenKey = { sellingPartnerId: opts.sellingPartnerId, region: opts.region };
  const sp = new SellingPartner({
    region: opts.region,
    refresh_token: UNUSED,
    credentials: { SELLING_PARTNER_APP_CLIENT_ID: UNUSED, SELLING_PARTNER_APP_CLIENT_SECRET: UNUSED },
    options: { ...opts.options, auto_request_tokens: false },
    ...(opts.endpoints_versions === undefined ? {} : { endpoints_versions: opts.endpoints_versions }),
  });
  const fields = sp as unknown as TokenFields;

  const supply = async (scope?: string): Promise<void> => {
    if (scope === undefined) {
      fields._access_token = (await tokens.getAccessToken(key)).accessToken;
    } else {
      fields._grantless_tokens[scope] = (await tokens.getGrantlessToken(scope as GrantlessScope)).accessToken;
    }
  };
  const callApi = sp.callAPI.bind(sp);
  sp.refreshAccessToken = supply;
  sp.callAPI = async (params: object): Promise<unknown> => {
    await supply();
    // Grantless tokens the caller asked for once (refreshAccessToken(scope)) stay current too.
    for (const scope of Object.keys(fields._grantless_tokens)) await supply(scope);
    const sent = fields._access_token!;
    try {
      return await callApi(params);
    } catch (err) {
      // amazon-sp-api throws SP-API's first error as it came (code, message, details).
      if (!isRefusedToken(err as { code?: unknown; details?: unknown })) throw err;
      await tokens.invalidate(key, sent);
      await supply();
      return callApi(params);
    }
  };
  return sp;
}
