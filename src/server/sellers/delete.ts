/**
 * Seller deletion, the one implementation behind `DELETE /v1/sellers/:id`, the admin dashboard's
 * delete button and `spapi-auth sellers delete`.
 */
import type { SellerTokenKey } from '../../core/index.js';
import type { Region } from '../../core/marketplaces.js';
import type { Store } from '../../storage/store.js';
import { sellerDeletedEvent } from '../domain/events.js';

/** What {@link deleteSellerAuthorizations} needs besides the store and the seller id. */
export interface DeleteSellerOptions {
  /** Delete only this region's authorization; every region when absent. */
  readonly region?: Region;
  /** Who asked, as written in the audit record (an API key id, `admin`, `cli`). */
  readonly actor: string;
  /** The clock for the webhook event's creation time; `Date.now` by default. */
  readonly now?: () => number;
  /** The caller's in-memory token source, told to drop each deleted seller's access token. */
  readonly tokens?: { forget(key: SellerTokenKey): void };
}

/** The outcome of {@link deleteSellerAuthorizations}. */
export interface SellerDeletion {
  /** The regions that had an authorization when the deletion started (empty: no such seller). */
  readonly found: readonly Region[];
  /** The regions this call deleted (fewer than `found` when another process deleted one first). */
  readonly deleted: readonly Region[];
}

/**
 * Deletes a seller's authorizations (every region, or one) and wipes its tokens, writing the
 * `seller.deleted` webhook event and the audit record in the same store transaction as each
 * deletion.
 *
 * @example
 * ```ts
 * const { found, deleted } = await deleteSellerAuthorizations(store, 'A1EMUSELLERNA01', {
 *   actor: 'cli',
 *   region: 'na',
 * });
 * if (found.length === 0) console.error('no such seller');
 * ```
 */
export async function deleteSellerAuthorizations(
  store: Store,
  sellingPartnerId: string,
  opts: DeleteSellerOptions,
): Promise<SellerDeletion> {
  const now = opts.now ?? Date.now;
  const records = (await store.findSellers(sellingPartnerId)).filter(
    (r) => opts.region === undefined || r.region === opts.region,
  );
  const deleted: Region[] = [];
  for (const r of records) {
    const key = { sellingPartnerId, region: r.region };
    const ok = await store.deleteSeller(key, {
      events: [sellerDeletedEvent(r, now())],
      audit: [
        { action: 'seller.deleted', actor: opts.actor, sellingPartnerId, region: r.region, outcome: 'ok' },
      ],
    });
    opts.tokens?.forget(key);
    if (ok) deleted.push(r.region);
  }
  return { found: records.map((r) => r.region), deleted };
}
