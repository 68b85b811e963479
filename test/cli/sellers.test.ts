// `spapi-auth sellers list|show|delete` run as a child process over a SQLite store.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/storage/store.js';
import { assertFailure, assertNoLeak, cliWorld, seedSeller, type CliWorld } from './helpers.js';
import { markReauthorizationRequired } from '../helpers/sellers.js';

const RT_NA = 'Atzr|CANARYrefreshTokenNA0000000000000000000';
const RT_EU = 'Atzr|CANARYrefreshTokenEU0000000000000000000';
const RT_GL = 'Atzr|CANARYrefreshTokenGL0000000000000000000';
const MARKERS = [RT_NA, RT_EU, RT_GL];

describe('spapi-auth sellers', () => {
  let world: CliWorld;
  let store: Store;
  before(async () => {
    world = await cliWorld();
    store = await world.openStore();
    await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na', refreshToken: RT_NA });
    await seedSeller(world, store, { id: 'A1EMUSELLEREU01', region: 'eu', refreshToken: RT_EU });
    await seedSeller(world, store, {
      id: 'A1EMUSELLERGL01',
      region: 'na',
      refreshToken: RT_GL,
      userRef: 'acct-9',
    });
    await seedSeller(world, store, {
      id: 'A1EMUSELLERGL01',
      region: 'eu',
      refreshToken: RT_GL,
      userRef: 'acct-9',
    });
    await markReauthorizationRequired(store, { sellingPartnerId: 'A1EMUSELLEREU01', region: 'eu' });
  });
  after(async () => {
    await store.close();
    await world.close();
  });

  it('lists every authorization as an aligned table, ordered by seller then region', async () => {
    const r = await world.cli(['sellers', 'list']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^SELLER ID\s+REGION\s+KIND\s+STATUS\s+USER REF/);
    const rows = lines.slice(1, -1);
    assert.deepEqual(
      rows.map((l) => l.split(/\s+/).slice(0, 4).join(' ')),
      [
        'A1EMUSELLEREU01 eu seller reauthorization_required',
        'A1EMUSELLERGL01 eu seller active',
        'A1EMUSELLERGL01 na seller active',
        'A1EMUSELLERNA01 na seller active',
      ],
    );
    // Aligned: the STATUS column starts at the same offset on every line.
    const at = lines[0]!.indexOf('STATUS');
    for (const row of rows) assert.match(row.slice(at), /^(active|reauthorization_required)/);
    assert.equal(lines.at(-1), '4 authorizations');
    assertNoLeak(r, MARKERS);
  });

  it('filters by status and prints the token API shape with --json', async () => {
    const r = await world.cli(['sellers', 'list', '--status', 'reauthorization_required', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { items: Record<string, unknown>[] };
    assert.equal(body.items.length, 1);
    const s = body.items[0]!;
    assert.equal(s.selling_partner_id, 'A1EMUSELLEREU01');
    assert.equal(s.status, 'reauthorization_required');
    assert.equal(s.region, 'eu');
    const authorizedAt = Date.parse(s.authorized_at as string);
    assert.equal(Date.parse(s.reauthorize_by as string) - authorizedAt, 365 * 24 * 3600 * 1000);
    assert.deepEqual(Object.keys(s).sort(), [
      'authorized_at',
      'kind',
      'last_error',
      'last_refresh_at',
      'marketplace',
      'reauthorize_by',
      'region',
      'selling_partner_id',
      'status',
      'user_ref',
    ]);
    const eu = { sellingPartnerId: 'A1EMUSELLEREU01', region: 'eu' } as const;
    await seedSeller(world, store, { id: eu.sellingPartnerId, region: eu.region, refreshToken: RT_EU });
    const none = await world.cli(['sellers', 'list', '--status', 'reauthorization_required']);
    await markReauthorizationRequired(store, eu);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, 'no sellers with status reauthorization_required\n');
  });

  it('shows one seller in every region, as text and as GET /v1/sellers/:id JSON', async () => {
    const text = await world.cli(['sellers', 'show', 'A1EMUSELLERGL01']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^seller\s+A1EMUSELLERGL01$/m);
    assert.match(text.stdout, /^user_ref\s+acct-9$/m);
    assert.match(text.stdout, /^regions\s+eu, na$/m);
    assert.match(text.stdout, /^region eu$/m);
    assert.match(text.stdout, /^region na$/m);
    const json = await world.cli(['sellers', 'show', 'A1EMUSELLERGL01', '--json']);
    const body = JSON.parse(json.stdout) as { regions: string[]; authorizations: unknown[]; status: string };
    assert.deepEqual(body.regions, ['eu', 'na']);
    assert.equal(body.authorizations.length, 2);
    assert.equal(body.status, 'active');
    assertNoLeak(text, MARKERS);
    assertNoLeak(json, MARKERS);
  });

  it('shows stored values with control characters inert (no terminal escape reaches the screen)', async () => {
    await seedSeller(world, store, {
      id: 'A1EMUSELLERFE01',
      region: 'fe',
      refreshToken: 'Atzr|CANARYrefreshTokenFE0000000000000000000',
      userRef: 'evil\x1b[2J\x1b[31mred\rline',
    });
    try {
      for (const args of [
        ['sellers', 'list'],
        ['sellers', 'show', 'A1EMUSELLERFE01'],
      ]) {
        const r = await world.cli(args);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!/[\x1b\r]/.test(r.stdout), 'no escape or carriage return printed');
        assert.match(r.stdout, /evil\?\[2J\?\[31mred\?line/);
      }
    } finally {
      await store.deleteSeller({ sellingPartnerId: 'A1EMUSELLERFE01', region: 'fe' });
    }
  });

  it('refuses an unknown or malformed seller id with one line and the right exit code', async () => {
    assertFailure(
      await world.cli(['sellers', 'show', 'A1NOSUCHSELLER']),
      1,
      /no seller A1NOSUCHSELLER .*seller_not_found/,
    );
    assertFailure(await world.cli(['sellers', 'show', "A1' OR 1=1--"]), 2, /malformed \(invalid_seller_id\)/);
    assertFailure(await world.cli(['sellers', 'show']), 2, /missing argument <seller-id>/);
    assertFailure(await world.cli(['sellers', 'show', 'A1', 'A2']), 2, /unexpected argument 'A2'/);
  });

  it('refuses bad usage with exit code 2', async () => {
    assertFailure(await world.cli(['sellers']), 2, /missing subcommand/);
    assertFailure(await world.cli(['sellers', 'purge']), 2, /unknown subcommand 'purge'/);
    assertFailure(await world.cli(['sellers', 'list', '--colour']), 2, /--colour/);
    assertFailure(await world.cli(['sellers', 'list', '--status', 'gone']), 2, /--status must be one of/);
    assertFailure(await world.cli(['sellers', 'list', '--yes']), 2, /--yes does not apply to 'list'/);
    assertFailure(await world.cli(['sellers', 'delete', 'A1EMUSELLERNA01', '--region', 'xx']), 2, /--region/);
    assert.equal((await store.findSellers('A1EMUSELLERNA01')).length, 1, 'nothing deleted');
  });

  it('fails without creating a database when DATABASE_URL names no file', async () => {
    const missing = join(world.dir, 'nope', 'missing.db');
    assertFailure(
      await world.cli(['sellers', 'list'], { env: { DATABASE_URL: `sqlite:${missing}` } }),
      1,
      /no database at .*missing\.db.*spapi-auth migrate/,
    );
    assert.equal(existsSync(missing), false);
    assertFailure(
      await world.cli(['sellers', 'list'], { env: { DATABASE_URL: 'mysql://x' } }),
      1,
      /DATABASE_URL \([^)]*\): must be sqlite:<path> or postgres/,
    );
  });

  it('asks before deleting and changes nothing when the answer is not yes', async () => {
    for (const input of ['n\n', '', 'maybe\n']) {
      const r = await world.cli(['sellers', 'delete', 'A1EMUSELLERNA01'], { input });
      assertFailure(r, 1, /not deleted \(cancelled/);
    }
    assert.equal((await store.findSellers('A1EMUSELLERNA01')).length, 1);
    assert.equal((await store.claimWebhookEvents('probe', { limit: 10, leaseMs: 1 })).length, 0);
  });

  it('deletes one region with --region after a yes on stdin, with the webhook event and audit record', async () => {
    const r = await world.cli(['sellers', 'delete', 'A1EMUSELLERGL01', '--region', 'eu'], { input: 'y\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deleted seller A1EMUSELLERGL01 (eu)\n');
    assert.match(r.stderr, /Delete seller A1EMUSELLERGL01 \(eu\)/);
    assert.deepEqual(
      (await store.findSellers('A1EMUSELLERGL01')).map((s) => s.region),
      ['na'],
    );
    assert.equal(await store.loadTokens({ sellingPartnerId: 'A1EMUSELLERGL01', region: 'eu' }), null);
    const events = await store.claimWebhookEvents('probe-1', { limit: 10, leaseMs: 1 });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'seller.deleted');
    assert.deepEqual(events[0]!.data, {
      selling_partner_id: 'A1EMUSELLERGL01',
      region: 'eu',
      user_ref: 'acct-9',
    });
    const audit = await store.listAudit({ sellingPartnerId: 'A1EMUSELLERGL01', limit: 5 });
    assert.equal(audit[0]!.action, 'seller.deleted');
    assert.equal(audit[0]!.actor, 'cli');
    assert.equal(audit[0]!.region, 'eu');
  });

  it('deletes every region with --yes, and then reports the seller as unknown', async () => {
    const r = await world.cli(['sellers', 'delete', 'A1EMUSELLERNA01', '--yes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      selling_partner_id: 'A1EMUSELLERNA01',
      deleted_regions: ['na'],
    });
    assert.equal(r.stderr, '', 'no question asked with --yes');
    assert.deepEqual(await store.findSellers('A1EMUSELLERNA01'), []);
    assertFailure(
      await world.cli(['sellers', 'delete', 'A1EMUSELLERNA01', '--yes']),
      1,
      /no seller A1EMUSELLERNA01 .*seller_not_found/,
    );
    assertFailure(
      await world.cli(['sellers', 'delete', 'A1EMUSELLERGL01', '--region', 'fe', '--yes']),
      1,
      /no seller A1EMUSELLERGL01 in region fe/,
    );
  });
});
