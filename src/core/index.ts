/**
 * spapi-auth core: the zero-dependency library. No `node:` imports, no environment reads;
 * `fetch` and `now` are injected where time or the network matter.
 */
export * from './marketplaces.js';
export * from './token-vault.js';
export * from './errors.js';
export * from './http.js';
export * from './state.js';
export * from './lwa.js';
export * from './consent.js';
export * from './callback.js';
export * from './rdt.js';
export * from './memory-vault.js';
export * from './token-manager.js';
export * from './spapi-fetch.js';
