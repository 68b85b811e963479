// Amazon's official SDK (@amazon-sp-api-release/amazon-sp-api-sdk-js 1.12.0), unchanged, through
// its adapter: SellersApi on an ApiClient whose token hook gets spapi-auth's tokens, against the
// emulator's SP-API; LWA calls counted by the emulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useSpapiAuth, type OfficialApiClientLike } from '../../src/adapters/official-sdk.js';
import { isSpapiAuthError } from '../../src/core/index.js';
import { EmulatorAgent, KEY, rejections, startRig, type AdapterRig } from './helpers.js';

/** The SDK's shapes, as far as these tests use them (the SDK ships no types). */
interface SdkModule {
  SellersSpApi: {
    ApiClient: new (basePath: string) => OfficialApiClientLike & {
      disableRateLimiter(): void;
      requestAgent: unknown;
    };
    SellersApi: new (client: unknown) => {
      getMarketplaceParticipations(): Promise<{ payload: { marketplace: { id: string } }[] }>;
    };
  };
}
const sdk = () => import('@amazon-sp-api-release/amazon-sp-api-sdk-js' as string) as Promise<SdkModule>;

let rig: AdapterRig;
before(async () => {
  rig = await startRig();
});
after(() => rig.close());

async function sellersApi() {
  const { SellersSpApi } = await sdk();
  const client = new SellersSpApi.ApiClient('https://sellingpartnerapi-na.amazon.com');
  client.disableRateLimiter(); // the SDK's own limiter would queue 1,000 calls for minutes
  // The SDK's documented agent override: one pool of keep-alive sockets, as an app would set it.
  // Without it superagent opens a connection per call, and 2,000 calls at once overflowed the
  // emulator's accept queue on a busy machine (ECONNRESET).
  client.requestAgent = new EmulatorAgent();
  const api = new SellersSpApi.SellersApi(useSpapiAuth(client, { tokens: rig.manager(), ...KEY }));
  return () => api.getMarketplaceParticipations();
}

test('official SDK: 1,000 concurrent calls on a cold cache make 1 LWA call', async () => {
  const call = await sellersApi();
  const before = await rig.refreshCalls();
  const results = await Promise.all(Array.from({ length: 1000 }, call));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.ok(results[0]!.payload.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));
});

test('official SDK: the token expired (emulator and spapi-auth clocks moved): 1 LWA call for 1,000 calls', async () => {
  const call = await sellersApi();
  await call();
  await rig.advance(3_600);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  await Promise.all(Array.from({ length: 1000 }, call));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 1000);
});

test('official SDK: SP-API refuses the token as expired before spapi-auth knows: one refresh, one retry each', async () => {
  const call = await sellersApi();
  await call();
  await rig.advanceEmulatorOnly(3_600);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  await Promise.all(Array.from({ length: 1000 }, call));
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 2000);
});

test('official SDK: a revoked seller gives a typed reauthorization_required, 1 LWA call, no retry storm', async () => {
  const call = await sellersApi();
  await call();
  await rig.emulator.emulator.control.revoke(KEY.sellingPartnerId);
  const before = await rig.refreshCalls();
  const spapiBefore = await rig.spapiCalls();
  const errors = await rejections(Array.from({ length: 1000 }, call));
  assert.equal(errors.length, 1000);
  for (const e of errors) assert.ok(isSpapiAuthError(e) && e.code === 'reauthorization_required');
  assert.equal((await rig.refreshCalls()) - before, 1);
  assert.equal((await rig.spapiCalls()) - spapiBefore, 1000, 'one refused call each, no retry');
});
