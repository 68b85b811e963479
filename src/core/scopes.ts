/**
 * The grantless scopes Login with Amazon issues for SP-API (a `client_credentials` grant with one
 * of them instead of a seller's refresh token), as data: the one list the library, the service and
 * the emulator share. Grantless operations apply only to seller applications.
 */

/**
 * Every grantless scope SP-API knows: the Notifications API's destinations and subscriptions by id
 * (`notifications`), the Application Management API's client-secret rotation
 * (`client_credential:rotation`), and the Authorization API's MWS migration (`migration`).
 *
 * @example
 * GRANTLESS_SCOPES.includes('sellingpartnerapi::notifications'); // true
 */
export const GRANTLESS_SCOPES = Object.freeze([
  'sellingpartnerapi::notifications',
  'sellingpartnerapi::client_credential:rotation',
  'sellingpartnerapi::migration',
] as const);

/**
 * A grantless scope.
 *
 * @example
 * const scope: GrantlessScope = 'sellingpartnerapi::notifications';
 */
export type GrantlessScope = (typeof GRANTLESS_SCOPES)[number];

/**
 * Scopes whose API is gone: Amazon removed the Authorization API (`getAuthorizationCode`, the only
 * user of `migration`) on 2024-03-27, so the service does not hand them out.
 *
 * @example
 * GRANTLESS_SCOPES.filter((s) => !RETIRED_GRANTLESS_SCOPES.includes(s)); // notifications, rotation
 */
export const RETIRED_GRANTLESS_SCOPES: readonly GrantlessScope[] = Object.freeze([
  'sellingpartnerapi::migration',
]);
