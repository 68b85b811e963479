// `spapi-auth url --marketplace CC` for Amazon's hosts and for the emulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  APP,
  CANARY_SECRET,
  PUBLIC_URL,
  assertFailure,
  assertNoLeak,
  cliWorld,
  type CliWorld,
} from './helpers.js';

describe('spapi-auth url', () => {
  let world: CliWorld;
  before(async () => {
    world = await cliWorld();
  });
  after(() => world.close());

  it("prints the marketplace's Seller Central consent URL with the app, the redirect URI and a fresh state", async () => {
    const r = await world.cli(['url', '--marketplace', 'DE'], { env: { SPAPI_AUTH_AMAZON_URL: undefined } });
    assert.equal(r.code, 0, r.stderr);
    const u = new URL(r.stdout.trim());
    assert.equal(u.origin, 'https://sellercentral-europe.amazon.com');
    assert.equal(u.pathname, '/apps/authorize/consent');
    assert.equal(u.searchParams.get('application_id'), APP.id);
    assert.equal(u.searchParams.get('redirect_uri'), `${PUBLIC_URL}/oauth/callback`);
    assert.match(u.searchParams.get('state')!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(u.searchParams.get('version'), null);
    assert.match(r.stderr, /state\s+\S+ \(generated\)/);
    const again = await world.cli(['url', '--marketplace', 'DE'], {
      env: { SPAPI_AUTH_AMAZON_URL: undefined },
    });
    assert.notEqual(new URL(again.stdout.trim()).searchParams.get('state'), u.searchParams.get('state'));
    assertNoLeak(r, [CANARY_SECRET]);
  });

  it('uses Vendor Central with --vendor, the given --state, version=beta for a draft app, and --json', async () => {
    const r = await world.cli(['url', '--marketplace', 'jp', '--vendor', '--state', 'my-state.1', '--json'], {
      env: { SPAPI_AUTH_AMAZON_URL: undefined, SPAPI_AUTH_DRAFT_APP: 'true' },
    });
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as Record<string, string>;
    const u = new URL(body.url!);
    assert.equal(u.origin, 'https://vendorcentral.amazon.co.jp');
    assert.equal(u.searchParams.get('state'), 'my-state.1');
    assert.equal(u.searchParams.get('version'), 'beta');
    assert.deepEqual(
      { ...body, url: undefined },
      {
        url: undefined,
        state: 'my-state.1',
        marketplace: 'JP',
        marketplace_id: 'A1VC38T7YXB528',
        region: 'fe',
        kind: 'vendor',
        redirect_uri: `${PUBLIC_URL}/oauth/callback`,
      },
    );
  });

  it('points at the emulator when SPAPI_AUTH_AMAZON_URL is set, and the emulator accepts the URL', async () => {
    const r = await world.cli(['url', '--marketplace', 'US', '--state', 'abc']);
    assert.equal(r.code, 0, r.stderr);
    const u = new URL(r.stdout.trim());
    assert.equal(u.origin, world.emulator.url);
    await world.emulator.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
    const res = await fetch(u, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const back = new URL(res.headers.get('location')!);
    assert.equal(back.origin + back.pathname, `${PUBLIC_URL}/oauth/callback`);
    assert.equal(back.searchParams.get('state'), 'abc');
    assert.equal(back.searchParams.get('selling_partner_id'), 'A1EMUSELLERNA01');
  });

  it('refuses bad input with exit code 2', async () => {
    assertFailure(await world.cli(['url']), 2, /--marketplace is required/);
    assertFailure(await world.cli(['url', '--marketplace', 'XX']), 2, /unknown marketplace 'XX'/);
    assertFailure(
      await world.cli(['url', '--marketplace', 'DE', '--state', 'has space']),
      2,
      /--state must be/,
    );
    assertFailure(await world.cli(['url', '--marketplace']), 2, /--marketplace/);
    assertFailure(await world.cli(['url', '--marketplace', 'DE', 'extra']), 2, /extra/);
    assertFailure(
      await world.cli(['url', '--marketplace', 'DE'], {
        env: { SPAPI_APPLICATION_ID: 'amzn1.application-oa2-client.x' },
      }),
      1,
      /SPAPI_APPLICATION_ID \([^)]*\): is an LWA client id, not the SP-API application id/,
    );
  });
});
