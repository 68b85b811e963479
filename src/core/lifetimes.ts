/**
 * How long Amazon's grants and tokens last: Amazon's facts as data, shared by the library, the
 * service and the emulator (which imports only such facts, never the client it tests).
 */

/**
 * Amazon requires a seller to authorize a public application again every 365 days, counted from
 * the consent that granted the refresh token. The one definition: the service's `reauthorize_by`,
 * its webhook and dashboard, the import's oldest `authorized_at` and the emulator's lapse all use it.
 *
 * @example
 * const reauthorizeBy = seller.authorizedAt + REAUTHORIZE_AFTER_MS;
 */
export const REAUTHORIZE_AFTER_MS = 365 * 86_400_000;

/**
 * LWA's access tokens last one hour (`expires_in: 3600`). Assumed until a refresh shows the real
 * lifetime (the token manager and the proactive refresher), and the emulator's default.
 *
 * @example
 * const lifetime = lwaResult.expiresIn * 1000 || ACCESS_TOKEN_LIFETIME_MS;
 */
export const ACCESS_TOKEN_LIFETIME_MS = 3_600_000;
