/**
 * The JSON shape of sellers, shared by the token API (`GET /v1/sellers`, `GET /v1/sellers/:id`), the
 * dev start page and `spapi-auth sellers list|show --json`, so that all of them show the same fields.
 */
import { REAUTHORIZE_AFTER_MS } from '../../core/lifetimes.js';
import type { Region } from '../../core/marketplaces.js';
import type { SellerRecord, SellerStatus } from '../../storage/store.js';

/**
 * The JSON shape of one authorization (seller in one region).
 *
 * @example
 * json(200, { items: page.items.map(sellerJson) });
 */
export function sellerJson(s: SellerRecord): Record<string, unknown> {
  return {
    selling_partner_id: s.sellingPartnerId,
    region: s.region,
    status: s.status,
    kind: s.kind,
    user_ref: s.userRef,
    marketplace: s.marketplace,
    authorized_at: iso(s.authorizedAt),
    reauthorize_by: iso(s.authorizedAt + REAUTHORIZE_AFTER_MS),
    last_refresh_at: s.lastRefreshAt === null ? null : iso(s.lastRefreshAt),
    last_error:
      s.lastError === null
        ? null
        : { code: s.lastError.code, message: s.lastError.message, at: iso(s.lastError.at) },
  };
}

/**
 * The JSON shape of one selling partner in every region (`GET /v1/sellers/:id`): its worst status
 * across regions, and each authorization. `records` are `store.findSellers`'s, never empty.
 *
 * @example
 * json(200, sellerDetailJson(await store.findSellers('A1EMUSELLERNA01')));
 */
export function sellerDetailJson(records: readonly SellerRecord[]): {
  selling_partner_id: string;
  status: SellerStatus;
  kind: SellerRecord['kind'];
  user_ref: string | null;
  regions: Region[];
  authorizations: Record<string, unknown>[];
} {
  const first = records[0];
  if (first === undefined) throw new TypeError('sellerDetailJson needs at least one authorization');
  const worst = records.find((r) => r.status !== 'active') ?? first;
  return {
    selling_partner_id: first.sellingPartnerId,
    status: worst.status,
    kind: first.kind,
    user_ref: first.userRef,
    regions: records.map((r) => r.region),
    authorizations: records.map(sellerJson),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
