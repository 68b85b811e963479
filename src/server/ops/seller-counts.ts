/**
 * Seller counts by status for the admin home and `/metrics`, cached for a few seconds. The count
 * is a full scan of the sellers table (a GROUP BY over a million rows takes about half a second on
 * PostgreSQL), and every admin page view and every scrape asked for it again; a few seconds of
 * staleness is invisible on a dashboard and in a metric scraped every 15 s or more.
 */
import type { SellerStatus, Store } from '../../storage/store.js';

/** How long counts are reused by default (ms). */
const DEFAULT_TTL_MS = 5_000;

/**
 * The store with `countSellersByStatus` answered from a short cache: at most one query in flight
 * (concurrent callers share it), its result reused for `ttlMs`; a failed query is not cached.
 * Every other method is the store's own.
 *
 * @example
 * const served = cacheSellerCounts(store, { ttlMs: 5_000 });
 * await served.countSellersByStatus(); // one GROUP BY, then memory for 5 s
 */
export function cacheSellerCounts<S extends Store>(
  store: S,
  opts: { readonly ttlMs?: number; readonly now?: () => number } = {},
): S {
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  const now = opts.now ?? Date.now;
  let cached: { counts: Record<SellerStatus, number>; until: number } | undefined;
  let inflight: Promise<Record<SellerStatus, number>> | undefined;
  const served = Object.create(store) as S;
  served.countSellersByStatus = () => {
    if (cached !== undefined && cached.until > now()) return Promise.resolve({ ...cached.counts });
    inflight ??= store
      .countSellersByStatus()
      .then((counts) => {
        cached = { counts, until: now() + ttlMs };
        return counts;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight.then((counts) => ({ ...counts }));
  };
  return served;
}
