// `spapi-auth sellers reauthorize-link` run as a child process over a SQLite store: a connect link
// that names the seller, its owner and marketplace (the same link the dashboard's Re-authorize and
// POST /v1/connect-sessions make), its lifetime, the region rules and the exit codes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashState } from '../../src/core/state.js';
import { FLOW_TTL_MS } from '../../src/server/flows/connect-link.js';
import type { Store } from '../../src/storage/store.js';
import { PUBLIC_URL, assertFailure, assertNoLeak, cliWorld, seedSeller, type CliWorld } from './helpers.js';

const RT_NA = 'Atzr|CANARYreauthLinkNA000000000000000000000';
const RT_GL = 'Atzr|CANARYreauthLinkGL000000000000000000000';
const MARKERS = [RT_NA, RT_GL];
const LINK = new RegExp(`^${PUBLIC_URL}/connect/([A-Za-z0-9_-]{43})$`);

describe('spapi-auth sellers reauthorize-link', () => {
  let world: CliWorld;
  let store: Store;
  before(async () => {
    world = await cliWorld();
    store = await world.openStore();
    await seedSeller(world, store, {
      id: 'A1EMUSELLERNA01',
      region: 'na',
      refreshToken: RT_NA,
      userRef: 'acct-1',
      marketplace: 'MX',
    });
    for (const region of ['na', 'eu'] as const)
      await seedSeller(world, store, {
        id: 'A1EMUSELLERGL01',
        region,
        refreshToken: RT_GL,
        userRef: 'acct-9',
      });
  });
  after(async () => {
    await store.close();
    await world.close();
  });

  /** The session a link names, consumed (as opening it would). */
  const payloadOf = async (url: string): Promise<Record<string, unknown>> => {
    const token = LINK.exec(url)?.[1];
    assert.ok(token !== undefined, url);
    const s = await store.consumeSession(await hashState(token), 'connect');
    assert.ok(s.ok, 'the link is a live connect session');
    return s.value.payload;
  };

  it('prints a link naming the seller, its owner and marketplace; stderr says how long it lives', async () => {
    const r = await world.cli(['sellers', 'reauthorize-link', 'A1EMUSELLERNA01']);
    assert.equal(r.code, 0, r.stderr);
    const url = r.stdout.trimEnd();
    assert.match(url, LINK);
    assert.match(r.stderr, new RegExp(`valid ${FLOW_TTL_MS / 60_000} minutes \\(until \\d{4}-`));
    assert.deepEqual(await payloadOf(url), {
      flow: 'website',
      user_ref: 'acct-1',
      marketplace: 'MX',
      kind: 'seller',
      return_to: null,
      selling_partner_id: 'A1EMUSELLERNA01',
    });
    const audit = await store.listAudit({ sellingPartnerId: 'A1EMUSELLERNA01', limit: 10 });
    assert.ok(audit.some((a) => a.action === 'connect_session.created' && a.actor === 'cli'));
    assertNoLeak(r, MARKERS);
  });

  it('--json is { url, expires_at, selling_partner_id, region }; --region picks one of several', async () => {
    const r = await world.cli(['sellers', 'reauthorize-link', 'A1EMUSELLERGL01', '--region', 'eu', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), ['expires_at', 'region', 'selling_partner_id', 'url']);
    assert.equal(body.region, 'eu');
    assert.equal(body.selling_partner_id, 'A1EMUSELLERGL01');
    const left = Date.parse(body.expires_at!) - Date.now();
    assert.ok(left > 0 && left <= FLOW_TTL_MS, 'expires within the link lifetime');
    const p = await payloadOf(body.url!);
    assert.equal(p.marketplace, 'DE');
    assert.equal(p.user_ref, 'acct-9');
  });

  it('fails with exit 1 and a stable code: several regions and none named, an unknown seller or region', async () => {
    assertFailure(
      await world.cli(['sellers', 'reauthorize-link', 'A1EMUSELLERGL01']),
      1,
      /several regions \(eu, na\).*\(region_required\): pass --region$/,
    );
    assertFailure(
      await world.cli(['sellers', 'reauthorize-link', 'A1NOSUCHSELLER']),
      1,
      /\(seller_not_found\)$/,
    );
    assertFailure(
      await world.cli(['sellers', 'reauthorize-link', 'A1EMUSELLERNA01', '--region', 'fe']),
      1,
      /no authorization in region fe.*\(seller_not_found\)$/,
    );
  });

  it('usage errors exit 2; --help documents it', async () => {
    assertFailure(await world.cli(['sellers', 'reauthorize-link']), 2, /missing argument <seller-id>/);
    assertFailure(await world.cli(['sellers', 'reauthorize-link', 'not an id']), 2, /invalid_seller_id/);
    assertFailure(
      await world.cli(['sellers', 'reauthorize-link', 'A1EMUSELLERNA01', '--region', 'xx']),
      2,
      /--region must be na, eu or fe/,
    );
    assertFailure(
      await world.cli(['sellers', 'reauthorize-link', 'A1EMUSELLERNA01', '--yes']),
      2,
      /--yes does not apply to 'reauthorize-link'/,
    );
    const help = await world.cli(['sellers', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /sellers reauthorize-link <seller-id> \[--region na\|eu\|fe\] \[--json\]/);
  });
});
