// The refresher at scale, on the service: the hot set (an idle seller costs no LWA call), a due
// backlog shared by three instances on PostgreSQL (claims: each seller refreshed once, no instance
// waiting on another's lease), and one LWA 429 pause for the whole cluster. Every count is taken at
// the emulator (per seller) or from the instances' /metrics; no timing is asserted beyond the
// mechanisms' own bounds (token lifetime, idle window, the 500 ms poll of the shared pause).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/index.js';
import {
  instanceMetric as metric,
  postgresSuiteRuns,
  refreshCalls,
  testSellers,
  type ServeProcess,
} from '../helpers/e2e.js';
import { afterSuite, startFleet } from '../helpers/fleet.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const tokenOf = async (instance: ServeProcess, apiKey: string, seller: string): Promise<Response> =>
  fetch(`${instance.url}/v1/sellers/${seller}/access-token`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });

describe('hot set: 30 s tokens, SPAPI_AUTH_REFRESH_IDLE_AFTER=40', () => {
  const suite = afterSuite();
  const ONCE = 'AHOTSETONCE01';
  const HOT = 'AHOTSETHOT001';
  let amazon: RunningEmulator;
  let instance: ServeProcess;
  let apiKey: string;

  before(async () => {
    const sellers = [ONCE, HOT].map((id) => ({ ...testSellers(1)[0]!, sellingPartnerId: id }));
    let instances: ServeProcess[];
    ({ amazon, apiKey, instances } = await startFleet(suite, 1, {
      label: 'hotset',
      database: 'sqlite',
      sellers,
      // Stored as the code exchange leaves them: a fresh 30 s token each.
      seedOptions: { expiresInMs: 30_000 },
      emulator: { tokenTtlS: 30 },
      extra: { SPAPI_AUTH_REFRESH_RATE_LIMIT: '10', SPAPI_AUTH_REFRESH_IDLE_AFTER: '40' },
    }));
    instance = instances[0]!;
  });

  it('a seller asked for once makes no LWA call after 60 s; one asked for every 2 s keeps being refreshed, every request 200', async () => {
    const t0 = Date.now();
    const once = await tokenOf(instance, apiKey, ONCE);
    assert.equal(once.status, 200);
    await once.arrayBuffer();
    const statuses: number[] = [];
    const byOnceAt60 = { n: -1 };
    while (Date.now() - t0 < 85_000) {
      const res = await tokenOf(instance, apiKey, HOT);
      statuses.push(res.status);
      await res.arrayBuffer();
      if (byOnceAt60.n < 0 && Date.now() - t0 >= 60_000) {
        byOnceAt60.n = (await amazon.emulator.control.stats()).refresh_by_seller[ONCE] ?? 0;
      }
      await sleep(2000);
    }
    const stats = await amazon.emulator.control.stats();
    const onceEnd = stats.refresh_by_seller[ONCE] ?? 0;
    const hotEnd = stats.refresh_by_seller[HOT] ?? 0;
    // Last use at t0 (and its connection just before): out of the 40 s window well before 60 s
    // (window + the recorder's 4 s interval + a quarter lifetime of listing staleness).
    assert.ok(byOnceAt60.n >= 0);
    assert.equal(onceEnd, byOnceAt60.n, `the idle seller was refreshed after 60 s (${onceEnd} refreshes)`);
    // Its renewals while in the window: the start-up pass (on the one-hour default every listed
    // token is due at once), then at most one per 30 s lifetime inside the 40 s.
    assert.ok(onceEnd <= 3, `the idle seller was refreshed ${onceEnd} times`);
    // 85 s of 30 s tokens: the hot seller needed at least two new tokens, all served.
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    assert.ok(statuses.length >= 30);
    assert.ok(hotEnd >= 2, `the hot seller was refreshed ${hotEnd} times`);
  });
});

if (
  await postgresSuiteRuns(
    'refresh claims and the shared 429 pause on PostgreSQL',
    'refresh claims',
    'refresh claims and the shared 429 pause on PostgreSQL',
  )
) {
  describe('3 instances on PostgreSQL share a due backlog', () => {
    const suite = afterSuite();
    const FLEET = 600;
    const RATE = 20;
    const fleet = testSellers(FLEET, 'CLM');
    const ids = fleet.map((s) => s.sellingPartnerId);
    let amazon: RunningEmulator;
    let instances: ServeProcess[] = [];

    before(async () => {
      ({ amazon, instances } = await startFleet(suite, 3, {
        label: 'claims',
        sellers: fleet,
        // Due at once: tokens expiring well inside the refresher's lead.
        seedOptions: { expiresInMs: 120_000 },
        emulator: { latencyMs: 20 },
        extra: { SPAPI_AUTH_REFRESH_RATE_LIMIT: String(RATE) },
        startTimeoutMs: 30_000,
      }));
    });

    it(`${FLEET} due sellers: each refreshed once, shared by the three, no instance waiting on another's lease`, async () => {
      const deadline = Date.now() + 60_000;
      while ((await refreshCalls(amazon)) < FLEET && Date.now() < deadline) await sleep(250);
      await sleep(1000);
      const stats = await amazon.emulator.control.stats();
      assert.deepEqual(
        ids.filter((id) => stats.refresh_by_seller[id] !== 1),
        [],
        'sellers not refreshed exactly once',
      );
      assert.equal(await refreshCalls(amazon), FLEET);
      const shares = await Promise.all(
        instances.map((i) => metric(i, 'spapi_auth_refreshes_total', 'outcome="ok"')),
      );
      assert.equal(
        shares.reduce((a, b) => a + b, 0),
        FLEET,
        `refreshes per instance: ${shares.join(', ')}`,
      );
      for (const share of shares) assert.ok(share > 0, `refreshes per instance: ${shares.join(', ')}`);
      // Claimed batches are disjoint: no instance started a refresh another one held the lease of.
      const waits = await Promise.all(instances.map((i) => metric(i, 'spapi_auth_lease_waits_total')));
      assert.deepEqual(waits, [0, 0, 0]);
    });
  });

  describe('a 429 seen by one instance pauses LWA calls on the other', () => {
    const suite = afterSuite();
    const sellers = testSellers(3, 'THR');
    const ids = sellers.map((s) => s.sellingPartnerId);
    let amazon: RunningEmulator;
    let apiKey: string;
    let instances: ServeProcess[] = [];

    before(async () => {
      // Expired tokens: every request needs LWA.
      ({ amazon, apiKey, instances } = await startFleet(suite, 2, {
        label: 'throttle',
        sellers,
        startTimeoutMs: 30_000,
      }));
    });

    it('429 Retry-After: 15 at instance A → instance B makes no LWA call until it passes, then serves', async () => {
      const [a, b] = instances as [ServeProcess, ServeProcess];
      await amazon.emulator.control.fault({
        target: 'token',
        grant_type: 'refresh_token',
        status: 429,
        headers: { 'retry-after': '15', 'content-type': 'application/json' },
        body: { error: 'rate_limited' },
        count: 1,
      });
      const first = await tokenOf(a, apiKey, ids[0]!);
      const t429 = Date.now();
      assert.equal(first.status, 503, await first.text());
      assert.equal(await refreshCalls(amazon), 1);
      // Two polls of the shared pause (500 ms each) later, B refuses without calling LWA.
      await sleep(1500);
      const during = await tokenOf(b, apiKey, ids[1]!);
      assert.equal(during.status, 503, await during.text());
      assert.ok(Number(during.headers.get('retry-after')) > 0, 'Retry-After tells the caller when');
      assert.equal(await refreshCalls(amazon), 1, 'instance B called LWA during the pause');
      const stats = await amazon.emulator.control.stats();
      assert.equal(stats.refresh_by_seller[ids[1]!] ?? 0, 0);
      // Once Retry-After has passed, B calls LWA again and serves.
      await sleep(Math.max(0, t429 + 15_500 - Date.now()));
      const afterPause = await tokenOf(b, apiKey, ids[1]!);
      assert.equal(afterPause.status, 200, await afterPause.text());
      assert.equal((await amazon.emulator.control.stats()).refresh_by_seller[ids[1]!], 1);
    });
  });
}
