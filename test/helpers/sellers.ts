// A stored seller put into `reauthorization_required` the one way the service does it: LWA answered
// `invalid_grant` to a refresh made under the seller's lease (the store's markReauthorizationRequired,
// which also drops the cached access token). No node:test here: any test may import it.
import type { SellerTokenKey } from '../../src/core/token-vault.js';
import type { ChangeEffects } from '../../src/storage/store/effects.js';
import type { Store } from '../../src/storage/store.js';

/** Marks `key` reauthorization_required as a refused refresh would; throws when it is not stored or leased. */
export async function markReauthorizationRequired(
  store: Pick<Store, 'acquireRefreshLease' | 'markReauthorizationRequired'>,
  key: SellerTokenKey,
  effects?: ChangeEffects,
): Promise<void> {
  const lease = await store.acquireRefreshLease(key, 'test:invalid-grant', 10_000);
  if (lease === null) throw new Error(`no lease on ${key.region}/${key.sellingPartnerId}`);
  const failure = { code: 'invalid_grant', message: 'The refresh token is invalid (test)' };
  if (!(await store.markReauthorizationRequired(key, lease, failure, effects)))
    throw new Error(`lease lost on ${key.region}/${key.sellingPartnerId}`);
}
