/**
 * spapi-auth core: the zero-dependency library. No `node:` imports, no environment reads;
 * `fetch` and `now` are injected where time or the network matter.
 */
export * from './marketplaces.js';
export * from './token-vault.js';
export * from './errors.js';
export {
  BodyTooLargeError,
  DEFAULT_RETRY,
  amazonEndpoint,
  backoffDelay,
  defaultSleep,
  parseRetryAfter,
  readCappedText,
  type FetchLike,
  type RetryOptions,
  type SleepFn,
  type TransportOptions,
} from './http.js';
export * from './state.js';
export * from './lwa.js';
export * from './consent.js';
export * from './callback.js';
export {
  DEFAULT_USER_AGENT,
  buildRestrictedDataTokenRequest,
  processRestrictedDataTokenResponse,
  spapiBaseUrl,
  type RestrictedDataTokenRequest,
  type RestrictedDataTokenResponse,
  type RestrictedResource,
  type SpApiEndpointOptions,
} from './rdt.js';
export * from './memory-vault.js';
export * from './token-manager.js';
export * from './spapi-fetch.js';
