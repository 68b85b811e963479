// `spapi-auth token <seller-id>` against the emulator on a port and a SQLite store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/storage/store.js';
import {
  CANARY_SECRET,
  assertFailure,
  assertNoLeak,
  cliWorld,
  seedSeller,
  type CliWorld,
} from './helpers.js';

describe('spapi-auth token', () => {
  let world: CliWorld;
  let store: Store;
  const refreshTokens: string[] = [];
  before(async () => {
    world = await cliWorld();
    store = await world.openStore();
    refreshTokens.push(await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na' }));
    refreshTokens.push(await seedSeller(world, store, { id: 'A1EMUSELLERGL01', region: 'na' }));
    refreshTokens.push(await seedSeller(world, store, { id: 'A1EMUSELLERGL01', region: 'eu' }));
  });
  after(async () => {
    await store.close();
    await world.close();
  });

  it('prints a fresh access token alone on stdout after one refresh, then the stored one with no LWA call', async () => {
    const before = await world.lwaCalls('refresh_token');
    const first = await world.cli(['token', 'A1EMUSELLERNA01']);
    assert.equal(first.code, 0, first.stderr);
    const token = first.stdout.trimEnd();
    assert.match(token, /^Atza\|\S+$/);
    assert.equal(first.stdout, `${token}\n`, 'nothing but the token on stdout');
    assert.equal(await world.lwaCalls('refresh_token'), before + 1);
    // The token works at SP-API (the emulator checks it).
    const res = await fetch(`${world.emulator.url}/sellers/v1/marketplaceParticipations`, {
      headers: { 'x-amz-access-token': token },
    });
    assert.equal(res.status, 200);
    // A second run is served from the store, as any service instance would be.
    const second = await world.cli(['token', 'A1EMUSELLERNA01', '--json']);
    assert.equal(second.code, 0, second.stderr);
    const body = JSON.parse(second.stdout) as Record<string, string>;
    assert.equal(body.access_token, token);
    assert.equal(body.region, 'na');
    assert.equal(body.endpoint, `${world.emulator.url}/__amazon/sellingpartnerapi-na.amazon.com`);
    assert.ok(Date.parse(body.expires_at!) > Date.now() + 30 * 60_000);
    assert.equal(await world.lwaCalls('refresh_token'), before + 1, 'no second refresh');
    const audit = await store.listAudit({ sellingPartnerId: 'A1EMUSELLERNA01', limit: 5 });
    assert.ok(audit.some((a) => a.action === 'token.released' && a.actor === 'cli' && a.outcome === 'ok'));
    assertNoLeak(first, [CANARY_SECRET, ...refreshTokens]);
    assertNoLeak(second, [CANARY_SECRET, ...refreshTokens]);
  });

  it('needs --region for a seller authorized in two regions', async () => {
    assertFailure(
      await world.cli(['token', 'A1EMUSELLERGL01']),
      2,
      /authorized in eu, na: pass --region \(region_required\)/,
    );
    const eu = await world.cli(['token', 'A1EMUSELLERGL01', '--region', 'eu', '--json']);
    assert.equal(eu.code, 0, eu.stderr);
    assert.equal((JSON.parse(eu.stdout) as { region: string }).region, 'eu');
  });

  it('reports an unknown seller, a bad region and bad arguments with one line', async () => {
    assertFailure(
      await world.cli(['token', 'A1NOSUCHSELLER']),
      1,
      /no seller A1NOSUCHSELLER .*seller_not_found/,
    );
    assertFailure(await world.cli(['token', 'A1EMUSELLERNA01', '--region', 'fe']), 1, /seller_not_found/);
    assertFailure(
      await world.cli(['token', 'A1EMUSELLERNA01', '--region', 'moon']),
      2,
      /--region must be na, eu or fe/,
    );
    assertFailure(await world.cli(['token']), 2, /missing argument <seller-id>/);
    assertFailure(await world.cli(['token', '../etc/passwd']), 2, /invalid_seller_id/);
  });

  it('names the missing variable and never prints a value when the configuration is incomplete', async () => {
    const r = await world.cli(['token', 'A1EMUSELLERNA01'], { env: { LWA_CLIENT_ID: undefined } });
    assertFailure(r, 1, /^spapi-auth token: configuration: LWA_CLIENT_ID: is required/);
    const keys = await world.cli(['token', 'A1EMUSELLERNA01'], {
      env: { SPAPI_AUTH_ENCRYPTION_KEYS: 'k1:short' },
    });
    assertFailure(keys, 1, /SPAPI_AUTH_ENCRYPTION_KEYS \([^)]*\): must be kid1:<base64 of 32 bytes>/);
    assertNoLeak(keys, ['k1:short', CANARY_SECRET]);
  });

  it('refuses with upstream_credentials_invalid when LWA refuses the client secret, and marks no seller', async () => {
    // A new seller has no cached token, so the CLI must call LWA.
    const wrong = 'CANARYwrongSecret0000000000000000000000000000';
    await seedSeller(world, store, { id: 'A1EMUSELLERFE01', region: 'fe' });
    const r = await world.cli(['token', 'A1EMUSELLERFE01'], { env: { LWA_CLIENT_SECRET: wrong } });
    assertFailure(r, 1, /\(upstream_credentials_invalid\)/);
    assertNoLeak(r, [wrong, CANARY_SECRET]);
    const seller = await store.getSeller({ sellingPartnerId: 'A1EMUSELLERFE01', region: 'fe' });
    assert.equal(seller!.status, 'active');
  });

  it('marks the seller and says so when the seller revoked the app at Amazon', async () => {
    await world.emulator.emulator.control.revoke('A1EMUSELLERFE01');
    const r = await world.cli(['token', 'A1EMUSELLERFE01']);
    assertFailure(r, 1, /\(seller_reauthorization_required\)/);
    const seller = await store.getSeller({ sellingPartnerId: 'A1EMUSELLERFE01', region: 'fe' });
    assert.equal(seller!.status, 'reauthorization_required');
    const calls = await world.lwaCalls('refresh_token');
    assertFailure(await world.cli(['token', 'A1EMUSELLERFE01']), 1, /seller_reauthorization_required/);
    assert.equal(await world.lwaCalls('refresh_token'), calls, 'no further LWA call for a marked seller');
  });

  it('says LWA is unavailable when the emulator is down for the refresh', async () => {
    await seedSeller(world, store, { id: 'A1EMUVENDORNA01', region: 'na', kind: 'vendor' });
    await world.emulator.emulator.control.fault({ target: 'token', status: 503, count: 0 });
    try {
      const r = await world.cli(['token', 'A1EMUVENDORNA01']);
      assertFailure(r, 1, /\(upstream_unavailable\)/);
    } finally {
      await world.emulator.emulator.control.clearFaults();
    }
    const seller = await store.getSeller({ sellingPartnerId: 'A1EMUVENDORNA01', region: 'na' });
    assert.equal(seller!.status, 'active', 'an outage does not mark the seller');
  });
});
