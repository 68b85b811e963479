/**
 * What a re-authorization of a stored seller goes through: the two ways back that Amazon and the
 * service offer, described once for the link makers (`flows/connect-link.ts`) and the
 * `seller.reauthorization_due` webhook.
 */
import {
  MARKETPLACES,
  findMarketplace,
  type Marketplace,
  type PartnerKind,
} from '../../core/marketplaces.js';
import type { SellerRecord } from '../../storage/store.js';

/**
 * Where a seller re-authorizes on Amazon's side: the Appstore workflow through the app's Login URI,
 * started from Seller Central (sellers only; vendors have no Appstore flow).
 */
export const SELLER_CENTRAL_REAUTHORIZE = 'Seller Central → Manage Your Apps → Re-authorize';

/** The fields of a re-authorization link for one stored authorization. */
export interface ReauthorizationTarget {
  readonly sellingPartnerId: string;
  /** The seller's owner (null: nobody owns it, e.g. connected through the Appstore without sign-in). */
  readonly userRef: string | null;
  readonly marketplace: Marketplace;
  readonly kind: PartnerKind;
}

/**
 * A re-authorization link's fields for a stored authorization: the seller, its owner, its kind and
 * the marketplace it connected through (the region's first marketplace when none was stored: only
 * the consent page's host depends on it).
 *
 * @example
 * reauthorizationTarget(seller); // { sellingPartnerId: 'A1B2', userRef: 'u1', marketplace: <US>, kind: 'seller' }
 */
export function reauthorizationTarget(
  seller: Pick<SellerRecord, 'sellingPartnerId' | 'region' | 'kind' | 'userRef' | 'marketplace'>,
): ReauthorizationTarget {
  const stored = seller.marketplace === null ? undefined : findMarketplace(seller.marketplace);
  const marketplace =
    stored !== undefined && stored.region === seller.region
      ? stored
      : MARKETPLACES.find((m) => m.region === seller.region)!;
  return {
    sellingPartnerId: seller.sellingPartnerId,
    userRef: seller.userRef,
    marketplace,
    kind: seller.kind,
  };
}
