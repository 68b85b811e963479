/**
 * When an access token is refreshed on demand: the refresh point is its expiry minus a margin of
 * 5 minutes plus up to 1 minute of random jitter (so that instances and sellers do not all refresh
 * in the same second), never more than a fifth of the token's lifetime (a short-lived token still
 * serves most of its life). The token manager applies it to every request; the service's proactive
 * refresher renews ahead of its latest point, so it reads the same rule here.
 */

/** The default margin before expiry. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** The default random extra margin, up to this much. */
export const REFRESH_JITTER_MS = 60_000;

/**
 * How long before expiry a token of `lifetimeMs` is refreshed, for a jitter draw in [0, 1]
 * (1 gives the earliest point any request may refresh at).
 *
 * @example
 * const refreshAt = expiresAt - refreshLeadMs(lifetime, Math.random());
 */
export function refreshLeadMs(
  lifetimeMs: number,
  jitterDraw: number,
  marginMs = REFRESH_MARGIN_MS,
  jitterMs = REFRESH_JITTER_MS,
): number {
  return Math.min(marginMs + jitterDraw * jitterMs, Math.max(0, lifetimeMs) / 5);
}
