// The emulator's state as a snapshot and back (snapshot.ts): the whole mutable state, generic over
// its fields, shared objects kept shared, configuration never restored, options that changed applied,
// and a snapshot that cannot be restored refused with a SnapshotError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createEmulator,
  devApplication,
  type Emulator,
  type EmulatorSnapshot,
} from '../../src/emulator/index.js';
import { EmulatorState } from '../../src/emulator/state.js';
import { SnapshotError, restoreSnapshot, takeSnapshot } from '../../src/emulator/snapshot.js';
import { APP, authorize, grantless, tokenRequest } from './helpers.js';

const NA = 'https://sellingpartnerapi-na.amazon.com';
const DAY = 86_400_000;

/** Through JSON text, as a file would carry it. */
const viaJson = (e: Emulator): EmulatorSnapshot =>
  JSON.parse(JSON.stringify(e.snapshot())) as EmulatorSnapshot;

const participations = async (e: Emulator, token: string): Promise<number> =>
  (await e.fetch(`${NA}/sellers/v1/marketplaceParticipations`, { headers: { 'x-amz-access-token': token } }))
    .status;

test('a restored emulator continues: tokens, revocations, clock offset, faults, notifications and counters', async () => {
  let t = Date.UTC(2026, 5, 1);
  const before = createEmulator({ now: () => t, tokenTtlS: 30 * 86_400 });
  await before.control.consentMode('auto');
  const seller = await authorize(before.fetch);
  const other = await authorize(before.fetch, {}, 'https://sellercentral-europe.amazon.com');
  assert.equal(other.sellingPartnerId, 'A1EMUSELLEREU01');
  await before.control.revoke('A1EMUSELLEREU01');
  await before.control.clock(3600);
  await before.control.fault({ target: 'spapi', status: 503, count: 0, path: '/orders/' });
  await before.control.secretExpiry();
  const statsBefore = await before.control.stats();

  const after = createEmulator({ now: () => t, tokenTtlS: 30 * 86_400, state: viaJson(before) });
  assert.equal(await participations(after, seller.access_token), 200);
  const refreshed = await tokenRequest(after.fetch, {
    grant_type: 'refresh_token',
    refresh_token: seller.refresh_token,
  });
  assert.equal(refreshed.status, 200);
  const revoked = await tokenRequest(after.fetch, {
    grant_type: 'refresh_token',
    refresh_token: other.refresh_token,
  });
  assert.equal(((await revoked.json()) as { error: string }).error, 'invalid_grant');
  assert.equal(after.tokenStatus(other.refresh_token), 'revoked');
  assert.equal(after.tokenStatus(seller.refresh_token), 'active');
  assert.equal(after.tokenStatus('Atza|never-issued'), 'unknown');
  // The consent mode, the clock offset and the fault (count 0: until cleared, Infinity in memory) came along.
  const faulted = await after.fetch(`${NA}/orders/v0/orders`, {
    headers: { 'x-amz-access-token': seller.access_token },
  });
  assert.equal(faulted.status, 503);
  assert.equal((await authorize(after.fetch)).sellingPartnerId, 'A1EMUSELLERNA01', 'consent mode auto kept');
  assert.equal((await after.control.notifications()).length, 1);
  const statsAfter = await after.control.stats();
  assert.equal(statsAfter.token.authorization_code!.ok, statsBefore.token.authorization_code!.ok! + 1);
  assert.equal(statsAfter.requests > statsBefore.requests, true);
  t += 30 * DAY - 3600_000 + 1000; // past the token's expiry only with the kept clock offset
  assert.equal(after.tokenStatus(seller.access_token), 'expired');
});

test('an access token and its app secret stay one object: a rotation after the restore still ends the old tokens', async () => {
  let t = Date.UTC(2026, 5, 1);
  const options = { consentMode: 'auto' as const, now: () => t, tokenTtlS: 30 * 86_400 };
  const before = createEmulator(options);
  const seller = await authorize(before.fetch);
  const after = createEmulator({ ...options, state: viaJson(before) });
  const rotation = await grantless(after.fetch, 'sellingpartnerapi::client_credential:rotation');
  const rotated = await after.fetch(`${NA}/applications/2023-11-30/clientSecret`, {
    method: 'POST',
    headers: { 'x-amz-access-token': rotation },
  });
  assert.equal(rotated.status, 204);
  assert.equal(await participations(after, seller.access_token), 200);
  t += 8 * DAY; // the old secret expired seven days after the new one: its tokens with it
  assert.equal(after.tokenStatus(seller.access_token), 'expired');
  assert.equal(await participations(after, seller.access_token), 403);
  assert.equal((await after.control.notifications()).length, 1, 'the rotation notification is state too');
});

test('configuration is not restored, and options that changed apply: a new redirect URI, the same grants', async () => {
  const before = createEmulator({ consentMode: 'auto', tokenTtlS: 60 });
  const seller = await authorize(before.fetch);
  const moved = devApplication('http://localhost:4000');
  const after = createEmulator({ applications: [moved], tokenTtlS: 120, state: viaJson(before) });
  const refreshed = await tokenRequest(after.fetch, {
    grant_type: 'refresh_token',
    refresh_token: seller.refresh_token,
  });
  assert.equal(((await refreshed.json()) as { expires_in: number }).expires_in, 120, 'the new token TTL');
  const listed = await after.fetch('http://emulator.invalid/__emulator/applications');
  const apps = ((await listed.json()) as { applications: { id: string; redirect_uris: string[] }[] })
    .applications;
  assert.deepEqual(
    apps.map((a) => a.redirect_uris),
    [[`http://localhost:4000/oauth/callback`]],
  );
  // The app was seeded by default before, by the options now: the same id, registered once.
  assert.equal(apps[0]!.id, APP.id);
});

test('generic: a field added to the state is kept without naming it, and values JSON lacks come back', () => {
  const config = EmulatorState.CONFIGURATION;
  const make = (): EmulatorState & { extra?: unknown } => new EmulatorState();
  const source = make();
  const shared = { visibleAt: 5 };
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic.self = cyclic;
  source.extra = {
    queues: new Map([['q', [shared, shared]]]),
    odd: {
      $map: 1,
      $$x: 2,
      n: Number.NaN,
      inf: -Infinity,
      z: -0,
      u: undefined,
      d: new Date(5),
      s: new Set([1]),
    },
    cyclic,
    holes: [1, , 3],
  };
  const snapshot = JSON.parse(JSON.stringify(takeSnapshot(source, config, seedOf(), 0))) as EmulatorSnapshot;
  const target = make();
  target.extra = null;
  restoreSnapshot(target, snapshot, config, seedOf());
  const extra = target.extra as {
    queues: Map<string, object[]>;
    odd: Record<string, unknown>;
    cyclic: Record<string, unknown>;
    holes: unknown[];
  };
  const q = extra.queues.get('q')!;
  assert.deepEqual(q[0], { visibleAt: 5 });
  assert.equal(q[0], q[1], 'one object, referenced twice');
  assert.equal(extra.cyclic.self, extra.cyclic);
  assert.deepEqual(extra.odd, (source.extra as typeof extra).odd);
  assert.ok(Object.is(extra.odd.z, -0) && 'u' in extra.odd);
  assert.deepEqual(extra.holes, [1, undefined, 3]);
  // Configuration is left out of the snapshot altogether.
  for (const field of config) assert.equal(field in snapshot.state, false, field);
});

test('a snapshot that cannot be restored is refused with a SnapshotError saying why', () => {
  const good = createEmulator().snapshot();
  const refuse = (state: unknown, re: RegExp) =>
    assert.throws(
      () => createEmulator({ state: state as EmulatorSnapshot }),
      (err: unknown) => err instanceof SnapshotError && re.test(err.message),
    );
  refuse({ hello: 1 }, /not an emulator state snapshot/);
  refuse({ ...good, version: 99 }, /snapshot version 99 \(this emulator reads version 1\)/);
  refuse(
    { ...good, state: { ...good.state, apps: [] } },
    /field apps is a array in the snapshot, a Map here/,
  );
  refuse({ ...good, state: { ...good.state, codes: { $bogus: 1 } } }, /unknown tag \$bogus/);
  const state = new EmulatorState() as EmulatorState & { extra?: unknown };
  state.extra = new (class Widget {})();
  assert.throws(() => state.snapshot(), /state\.extra is a Widget: only plain data can be kept/);
});

function seedOf(): Parameters<typeof takeSnapshot>[2] {
  return { applications: [APP], sellers: [], consentMode: 'page', appstoreCallbackHost: undefined };
}
