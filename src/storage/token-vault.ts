/**
 * The core's {@link TokenVault} over a {@link Store}: the refresh lease with owner and expiry, and
 * compare-and-set on the row version (see the protocol in `core/token-vault.ts`).
 */
import type { RefreshFailure, SellerTokenKey, TokenVault } from '../core/index.js';
import type { ChangeEffects, SellerRecord, Store, WebhookEventInput } from './store.js';
import { randomUUID } from 'node:crypto';
import { newEventId } from '../common/event-id.js';

/** Options of {@link createStoreTokenVault}. */
export interface StoreTokenVaultOptions {
  /** This process's lease owner id, unique per process (default: a random UUID). */
  readonly owner?: string;
  /**
   * The events and audit written with `reauthorization_required`, in the same transaction. The
   * default emits `seller.reauthorization_required` with `{ selling_partner_id, region, kind,
   * user_ref, reason }` and an audit record.
   */
  readonly reauthorizationEffects?: (
    seller: SellerRecord | null,
    failure: RefreshFailure,
    at: number,
  ) => ChangeEffects;
  readonly now?: () => number;
}

/**
 * A {@link TokenVault} for the token manager, backed by the store (shared by every instance on the
 * same database).
 *
 * @example
 * ```ts
 * const vault = createStoreTokenVault(store, { owner: `${hostname()}:${process.pid}` });
 * const manager = createTokenManager({ vault, ... });
 * ```
 */
export function createStoreTokenVault(store: Store, options: StoreTokenVaultOptions = {}): TokenVault {
  const owner = options.owner ?? randomUUID();
  const now = options.now ?? Date.now;
  const effects = options.reauthorizationEffects ?? defaultReauthorizationEffects;
  return {
    load: (key) => store.loadTokens(key),
    acquireLease: (key, ttlMs) => store.acquireRefreshLease(key, owner, ttlMs),
    commitRefresh: (key, lease, token, rotatedRefreshToken) =>
      store.commitRefresh(key, lease, token, rotatedRefreshToken),
    releaseLease: (key, lease, failure) => store.releaseRefreshLease(key, lease, failure),
    async markReauthorizationRequired(key: SellerTokenKey, lease, failure) {
      const seller = await store.getSeller(key);
      await store.markReauthorizationRequired(key, lease, failure, effects(seller, failure, now()));
    },
    discardAccessToken: (key, accessToken) => store.discardAccessToken(key, accessToken),
  };
}

/**
 * The `seller.reauthorization_required` event: the builder of that type (the service lists it with
 * the others in `server/domain/events.ts`); here because the vault writes it in the same transaction.
 *
 * @example
 * const event = reauthorizationRequiredEvent(seller, { code: 'invalid_grant' }, Date.now());
 */
export function reauthorizationRequiredEvent(
  seller: Pick<SellerRecord, 'sellingPartnerId' | 'region' | 'kind' | 'userRef'>,
  failure: Pick<RefreshFailure, 'code'>,
  at: number,
): WebhookEventInput {
  return {
    id: newEventId(),
    type: 'seller.reauthorization_required',
    createdAt: at,
    data: {
      selling_partner_id: seller.sellingPartnerId,
      region: seller.region,
      kind: seller.kind,
      user_ref: seller.userRef,
      reason: failure.code,
    },
  };
}

function defaultReauthorizationEffects(
  seller: SellerRecord | null,
  failure: RefreshFailure,
  at: number,
): ChangeEffects {
  const sellingPartnerId = seller?.sellingPartnerId ?? null;
  return {
    events: seller ? [reauthorizationRequiredEvent(seller, failure, at)] : [],
    audit: [
      {
        action: 'seller.reauthorization_required',
        actor: 'system',
        sellingPartnerId,
        region: seller?.region ?? null,
        outcome: failure.code,
        at,
      },
    ],
  };
}
