import assert from 'node:assert/strict';
import { it } from 'node:test';
import { cacheSellerCounts } from '../../../src/server/ops/seller-counts.js';
import { createKeyRing } from '../../../src/storage/crypto.js';
import { openStore } from '../../../src/storage/open.js';
import { markReauthorizationRequired } from '../../helpers/sellers.js';

it('shares one count query between callers and reuses it for the TTL; a failure is not kept', async () => {
  let t = 1_000;
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', Buffer.alloc(32, 1)]]) });
  await store.saveAuthorization({
    sellingPartnerId: 'A1COUNT',
    region: 'na',
    kind: 'seller',
    userRef: 'u1',
    marketplace: 'US',
    refreshToken: 'Atzr|count-test',
  });
  let queries = 0;
  let fail = false;
  const original = store.countSellersByStatus;
  store.countSellersByStatus = () => {
    queries++;
    return fail ? Promise.reject(new Error('down')) : original();
  };
  const served = cacheSellerCounts(store, { ttlMs: 5_000, now: () => t });
  const [a, b] = await Promise.all([served.countSellersByStatus(), served.countSellersByStatus()]);
  assert.equal(queries, 1);
  assert.deepEqual(a, { active: 1, reauthorization_required: 0 });
  assert.deepEqual(b, a);
  await markReauthorizationRequired(served, { sellingPartnerId: 'A1COUNT', region: 'na' });
  t += 4_999;
  assert.equal((await served.countSellersByStatus()).active, 1, 'cached within the TTL');
  assert.equal(queries, 1);
  t += 1;
  assert.deepEqual(await served.countSellersByStatus(), {
    active: 0,
    reauthorization_required: 1,
  });
  assert.equal(queries, 2);
  t += 5_000;
  fail = true;
  await assert.rejects(served.countSellersByStatus(), /down/);
  fail = false;
  assert.equal((await served.countSellersByStatus()).reauthorization_required, 1);
  assert.equal(queries, 4, 'the failed query was not cached');
  assert.equal(served.engine, 'sqlite', 'every other member is the store’s');
});
