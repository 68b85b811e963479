/**
 * The service's {@link AmazonGateway} over the core library: consent URLs, the one-time code
 * exchange, and access / grantless / restricted data tokens through the core's token manager (which
 * owns caching, single-flight, the store lease and retries). Every Amazon call goes through the
 * injected `fetch` and, when configured, to `SPAPI_AUTH_AMAZON_URL` (the emulator).
 */
import { exchangeAuthorizationCode, getGrantlessToken, type LwaCredentials } from '../../core/lwa.js';
import { amazonBaseFor, type FetchLike } from '../../core/http.js';
import { buildConsentUrl } from '../../core/consent.js';
import { createSpApiFetch } from '../../core/spapi-fetch.js';
import { spapiEndpoint, type Region } from '../../core/marketplaces.js';
import type { Config } from '../../config.js';
import type { TokenManager } from '../../core/token-manager.js';
import type { AmazonGateway } from '../context.js';

/**
 * The consent page URL for a config: its application id, redirect URI, draft flag and Amazon URL
 * (the emulator), as the connect flow and `spapi-auth url` both send them.
 *
 * @example
 * consentUrlOf(config, { marketplace: findMarketplace('DE')!, kind: 'seller', state: createState() });
 */
export function consentUrlOf(
  config: Pick<Config, 'applicationId' | 'redirectUri' | 'draftApp' | 'amazonUrl'>,
  input: Parameters<AmazonGateway['consentUrl']>[0],
): string {
  return buildConsentUrl({
    marketplace: input.marketplace,
    kind: input.kind,
    applicationId: config.applicationId,
    state: input.state,
    redirectUri: config.redirectUri,
    draft: config.draftApp,
    ...(input.codeChallenge !== undefined ? { codeChallenge: input.codeChallenge } : {}),
    ...(config.amazonUrl !== undefined ? { amazonUrl: config.amazonUrl } : {}),
  });
}

/**
 * The LWA credentials of a config.
 *
 * @example
 * await exchangeAuthorizationCode(credentialsOf(config), { code, redirectUri: config.redirectUri });
 */
export function credentialsOf(config: Config): LwaCredentials {
  return config.lwaClientSecretNext === undefined
    ? { clientId: config.lwaClientId, clientSecret: config.lwaClientSecret }
    : {
        clientId: config.lwaClientId,
        clientSecret: config.lwaClientSecret,
        clientSecretNext: config.lwaClientSecretNext,
      };
}

/**
 * Credentials whose fields are read at each call, so a secret accepted by a rotation is used at once.
 *
 * @example
 * createTokenManager({ credentials: liveCredentials(() => ring.credentials()), vault });
 */
export function liveCredentials(source: () => LwaCredentials): LwaCredentials {
  return {
    get clientId() {
      return source().clientId;
    },
    get clientSecret() {
      return source().clientSecret;
    },
    get clientSecretNext() {
      return source().clientSecretNext;
    },
  };
}

/** Where LWA calls go: the fetch to use and the emulator origin, if any. */
export interface LwaTransport {
  readonly fetch?: FetchLike;
  readonly amazonUrl?: string;
}

/**
 * Checks a client secret with one LWA call (a client-credentials grant, no retry) before it is put
 * to use. Resolves when LWA accepts it; throws the core's `LwaError` otherwise (`invalid_client`:
 * refused; any other code: LWA could not tell).
 *
 * @example
 * await verifyClientSecret(config.lwaClientId, newSecret, { amazonUrl: config.amazonUrl });
 */
export async function verifyClientSecret(
  clientId: string,
  clientSecret: string,
  transport: LwaTransport = {},
): Promise<void> {
  await getGrantlessToken({ clientId, clientSecret }, 'sellingpartnerapi::notifications', {
    ...transport,
    retry: { maxAttempts: 1 },
  });
}

/**
 * The gateway's {@link AmazonGateway.callSpApi} on its own, for tools that have an access token in
 * hand but no token manager (`sellers import`).
 *
 * @example
 * const callSpApi = spApiCaller(config, { fetch });
 * await callSpApi({ sellingPartnerId, region: 'na', accessToken, path: '/sellers/v1/marketplaceParticipations' });
 */
export function spApiCaller(
  config: Pick<Config, 'sandbox' | 'amazonUrl'>,
  transport: { readonly fetch?: FetchLike; readonly now?: () => number } = {},
): AmazonGateway['callSpApi'] {
  return ({ sellingPartnerId, region, accessToken, path }) => {
    // A token source that only knows the token in hand: nothing is cached, refreshed or stored.
    const fixed = { accessToken, expiresAt: Number.MAX_SAFE_INTEGER };
    const spapi = createSpApiFetch({
      tokens: {
        getAccessToken: async () => fixed,
        getRestrictedDataToken: () => Promise.reject(new TypeError('no restricted data token here')),
        invalidate: async () => {},
      },
      sandbox: config.sandbox,
      ...(transport.fetch ? { fetch: transport.fetch } : {}),
      ...(transport.now ? { now: transport.now } : {}),
      ...(config.amazonUrl ? { amazonUrl: config.amazonUrl } : {}),
    });
    return spapi({ sellingPartnerId, region, path });
  };
}

/**
 * Builds the gateway over the core's token manager.
 *
 * @example
 * const amazon = createAmazonGateway({ config, tokens: manager, fetch: emulator.fetch });
 */
export function createAmazonGateway(opts: {
  readonly config: Config;
  readonly tokens: Pick<
    TokenManager,
    | 'peekAccessToken'
    | 'getAccessToken'
    | 'getGrantlessToken'
    | 'getRestrictedDataToken'
    | 'forget'
    | 'invalidate'
  >;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  /** The LWA credentials for each exchange (the client-secret ring, rotation.ts); default: the config's. */
  readonly credentials?: () => LwaCredentials;
  /**
   * Called when a seller's token is handed to a caller (not for the service's own use): the hot
   * set's "last used" (`usage.ts`); synchronous and cheap, it runs on the hot path.
   */
  readonly onUse?: (sellingPartnerId: string, region: Region) => void;
}): AmazonGateway {
  const { config, tokens } = opts;
  const fixedCredentials = credentialsOf(config);
  const credentials = opts.credentials ?? (() => fixedCredentials);
  const onUse = opts.onUse ?? ((): void => undefined);
  const transport = {
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(config.amazonUrl ? { amazonUrl: config.amazonUrl } : {}),
  };
  // With an emulator, the endpoint names the real regional host in its path: a caller's own client
  // that only joins paths onto it still meets that region's checks (another region's token: 403).
  const endpointOf = (region: Region): string =>
    amazonBaseFor(spapiEndpoint(region, config.sandbox), config.amazonUrl);
  const endpoints: Record<Region, string> = {
    na: endpointOf('na'),
    eu: endpointOf('eu'),
    fe: endpointOf('fe'),
  };

  return {
    consentUrl: (input) => consentUrlOf(config, input),
    async exchangeCode({ code, codeVerifier }) {
      const r = await exchangeAuthorizationCode(
        credentials(),
        { code, redirectUri: config.redirectUri, ...(codeVerifier !== undefined ? { codeVerifier } : {}) },
        transport,
      );
      return {
        refreshToken: r.refreshToken,
        accessToken: { accessToken: r.accessToken, expiresAt: r.expiresAt },
      };
    },
    peekAccessToken(sellingPartnerId, region) {
      const token = tokens.peekAccessToken({ sellingPartnerId, region });
      if (token !== undefined) onUse(sellingPartnerId, region);
      return token;
    },
    async getAccessToken(key, options) {
      const t = await tokens.getAccessToken(key);
      // The service's own requests (the profile sweep) are not uses: they would keep every seller
      // without a profile in the hot set.
      if (options?.use !== 'service') onUse(key.sellingPartnerId, key.region);
      return t;
    },
    getGrantlessToken: (scope) => tokens.getGrantlessToken(scope),
    async getRestrictedDataToken(key, request) {
      const t = await tokens.getRestrictedDataToken(key, request);
      onUse(key.sellingPartnerId, key.region);
      return t;
    },
    forget: (key) => tokens.forget(key),
    invalidateAccessToken: (key, accessToken) => tokens.invalidate(key, accessToken),
    endpoint: (region) => endpoints[region],
    callSpApi: spApiCaller(config, transport),
    verifyClientSecret: (secret) => verifyClientSecret(config.lwaClientId, secret, transport),
  };
}
