/**
 * spapi-auth core: the zero-dependency library. No `node:` imports, no environment reads;
 * `fetch` and `now` are injected where time or the network matter.
 *
 * The public API is this list, chosen export by export (a test pins it): helpers the modules share
 * (encodings, retry arithmetic, capped body reads) stay inside.
 */

// Amazon's marketplaces, regions, endpoints and grantless scopes.
export {
  AMAZON_CONSENT_HOSTS,
  LWA_TOKEN_URL,
  MARKETPLACES,
  REGIONS,
  SPAPI_ENDPOINTS,
  SPAPI_SANDBOX_ENDPOINTS,
  findMarketplace,
  getMarketplace,
  isRegion,
  spapiEndpoint,
  type Marketplace,
  type PartnerKind,
  type Region,
} from './marketplaces.js';
export { GRANTLESS_SCOPES, type GrantlessScope } from './scopes.js';

// Errors.
export {
  AuthorizationError,
  CallbackError,
  ERROR_CODES,
  LoginRequestError,
  LwaError,
  SpApiError,
  SpapiAuthError,
  StateError,
  isSpapiAuthError,
  type ErrorCode,
  type ErrorDetails,
} from './errors.js';

// The consent flows: state, PKCE, consent URLs, the callback, the Appstore Login URI.
export { createPkce, createState, hashState, verifyState, type Pkce } from './state.js';
export {
  SELLING_PARTNER_ID_RE,
  buildAppstoreContinueUrl,
  buildConsentUrl,
  parseLoginRequest,
  validateAmazonCallbackUri,
  type AppstoreContinueOptions,
  type CallbackUriPolicy,
  type ConsentUrlOptions,
  type LoginRequest,
} from './consent.js';
export {
  parseCallback,
  type CallbackFailure,
  type CallbackResult,
  type CallbackSuccess,
} from './callback.js';

// Login with Amazon: one call each, or build/process pairs for your own HTTP client.
export {
  buildAuthorizationCodeRequest,
  buildGrantlessRequest,
  buildRefreshTokenRequest,
  exchangeAuthorizationCode,
  getGrantlessToken,
  processAuthorizationCodeResponse,
  processGrantlessResponse,
  processRefreshTokenResponse,
  refreshAccessToken,
  type AuthorizationCodeParams,
  type GrantlessParams,
  type LwaAuthorizationCodeResult,
  type LwaCallOptions,
  type LwaCredentials,
  type LwaEndpointOptions,
  type LwaTokenResponse,
  type LwaTokenResult,
  type ProcessOptions,
  type RefreshTokenParams,
} from './lwa.js';
export type { FetchLike, RetryOptions, SleepFn, TransportOptions } from './http.js';

// Restricted data tokens (Tokens API) as a build/process pair.
export {
  buildRestrictedDataTokenRequest,
  processRestrictedDataTokenResponse,
  spapiBaseUrl,
  type RestrictedDataTokenRequest,
  type RestrictedDataTokenResponse,
  type RestrictedResource,
  type SpApiEndpointOptions,
} from './rdt.js';

// Tokens on demand: the vault seam, a memory vault, the token manager.
export type {
  AccessToken,
  RefreshFailure,
  RefreshLease,
  SellerTokenKey,
  SellerTokenState,
  SellerTokenStatus,
  TokenVault,
} from './token-vault.js';
export { createMemoryTokenVault, type MemoryTokenVault } from './memory-vault.js';
export {
  createTokenManager,
  type RestrictedDataToken,
  type TokenCallOptions,
  type TokenEvent,
  type TokenEventType,
  type TokenManager,
  type TokenManagerOptions,
  type TokenRefreshOptions,
} from './token-manager.js';
export {
  createLwaThrottle,
  type BreakerOptions,
  type BreakerState,
  type LwaThrottle,
  type LwaThrottleOptions,
} from './lwa-guard.js';

// Calling SP-API.
export {
  buildUserAgent,
  createSpApiFetch,
  type SpApiFetch,
  type SpApiFetchOptions,
  type SpApiRequest,
  type UserAgentOptions,
} from './spapi-fetch.js';
