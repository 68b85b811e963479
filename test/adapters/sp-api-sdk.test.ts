// @sp-api-sdk/auth 3.1.4 with @sp-api-sdk/common 4.0.4, unchanged, through its adapter: the axios
// instance every @sp-api-sdk API client uses, calling the emulator's SP-API with its `auth` from
// spapi-auth's token manager; LWA calls counted by the emulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SellingPartnerApiAuth } from '@sp-api-sdk/auth';
import { createAxiosInstance } from '@sp-api-sdk/common';
import { createSpApiSdkAuth } from '../../src/adapters/sp-api-sdk.js';
import { isSpapiAuthError } from '../../src/core/index.js';
import { KEY, PARTICIPATIONS, rejections, startRig, type AdapterRig } from './helpers.js';

let rig: AdapterRig;
before(async () => {
  rig = await startRig();
});
after(() => rig.close());

function client() {
  const auth = createSpApiSdkAuth(SellingPartnerApiAuth, { tokens: rig.manager(), ...KEY });
  const { axios, endpoint } = createAxiosInstance({ auth, region: 'na' }, []);
  return () => axios.get<{ payload: { marketplace: { id: string } }[] }>(endpoint + PARTICIPATIONS);
}

test('@sp-api-sdk: 1,000 concurrent requests on a cold cache make 1 LWA call', async () => {
  const get = client();
  const before = await rig.refreshCalls();
  const results = await Promise.all(Array.from({ length: 1000 }, get));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.ok(results[0]!.data.payload.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));
});

test('@sp-api-sdk: the token expired (emulator and spapi-auth clocks moved): 1 LWA call for 1,000 requests', async () => {
  const get = client();
  await get();
  await rig.advance(3_600);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  await Promise.all(Array.from({ length: 1000 }, get));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 1000, 'refreshed ahead: no request was refused');
});

test('@sp-api-sdk: a revoked seller gives a typed reauthorization_required at the refresh, 1 LWA call, no SP-API call', async () => {
  const get = client();
  await get();
  await rig.emulator.emulator.control.revoke(KEY.sellingPartnerId);
  await rig.advance(3_600);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  const errors = await rejections(Array.from({ length: 1000 }, get));
  assert.equal(errors.length, 1000);
  for (const e of errors) assert.ok(isSpapiAuthError(e) && e.code === 'reauthorization_required');
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 0);
});
