// amazon-sp-api 1.2.1, unchanged, through its adapter: its real `callAPI` against the emulator's
// SP-API with tokens from spapi-auth's token manager, LWA calls counted by the emulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SellingPartner } from 'amazon-sp-api';
import { createSellingPartner } from '../../src/adapters/amazon-sp-api.js';
import { isSpapiAuthError } from '../../src/core/index.js';
import { KEY, rejections, startRig, type AdapterRig } from './helpers.js';

let rig: AdapterRig;
before(async () => {
  rig = await startRig();
});
after(() => rig.close());

const participations = { operation: 'getMarketplaceParticipations', endpoint: 'sellers' } as const;

function sellingPartner(tokens = rig.manager()) {
  return createSellingPartner(SellingPartner, { tokens, ...KEY, options: { auto_request_throttled: false } });
}

test('amazon-sp-api: 1,000 concurrent callAPI on a cold cache make 1 LWA call', async () => {
  const sp = sellingPartner();
  const before = await rig.refreshCalls();
  const results = await Promise.all(Array.from({ length: 1000 }, () => sp.callAPI(participations)));
  assert.equal((await rig.refreshCalls()) - before, 1);
  const first = results[0] as { marketplace: { id: string } }[];
  assert.ok(first.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));
});

test('amazon-sp-api: the token expired (emulator and spapi-auth clocks moved): 1 LWA call for 1,000 calls', async () => {
  const sp = sellingPartner();
  await sp.callAPI(participations);
  await rig.advance(3_600);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  await Promise.all(Array.from({ length: 1000 }, () => sp.callAPI(participations)));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 1000, 'refreshed ahead: no call was refused');
});

test('amazon-sp-api: SP-API refuses the token as expired before spapi-auth knows: its 403 path asks spapi-auth once', async () => {
  const sp = sellingPartner();
  await sp.callAPI(participations);
  await rig.advanceEmulatorOnly(3_600);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  await Promise.all(Array.from({ length: 1000 }, () => sp.callAPI(participations)));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 2000, 'each call: one 403, one retry');
});

test('amazon-sp-api: a revoked seller gives a typed reauthorization_required, 1 LWA call, no retry storm', async () => {
  const sp = sellingPartner();
  await sp.callAPI(participations);
  assert.equal(await rig.emulator.emulator.control.revoke(KEY.sellingPartnerId), 1);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  const errors = await rejections(Array.from({ length: 1000 }, () => sp.callAPI(participations)));
  assert.equal(errors.length, 1000);
  for (const e of errors) assert.ok(isSpapiAuthError(e) && e.code === 'reauthorization_required');
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 1000, 'one refused call each, no retry');
  // Later calls are answered by spapi-auth's memory of the seller's state: no LWA call, no SP-API call.
  await assert.rejects(sp.callAPI(participations), { code: 'reauthorization_required' });
  assert.equal((await rig.refreshCalls()) - before, 1);
});
