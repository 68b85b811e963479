// Startup stampede (docs/security.md T-C12): a fleet whose stored access tokens all expire soon, and
// two `spapi-auth serve` processes starting cold on the one PostgreSQL database with the proactive
// refresher on (`SPAPI_AUTH_REFRESH_RATE_LIMIT=N` each). Every count is taken at the emulator,
// sampled every 250 ms: each seller is refreshed once and the last refresh lands before the seeded
// tokens expire (with a margin of several times the paced sweep). How the refreshes spread over each
// second is a rate, which a busy machine bends: it is reported here, and the pacing is measured by the
// benchmark (`npm run bench`, section `refresh`).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Store } from '../../src/storage/store.js';
import { postgresSuiteRuns, refreshCalls, testSellers, type ServeProcess } from '../helpers/e2e.js';
import { afterSuite, startFleet, type Fleet } from '../helpers/fleet.js';
import { lwaRefreshFailures, peakInWindow, sampleRefreshes } from '../helpers/refresh-sampling.js';

const FLEET = 300;
/** SPAPI_AUTH_REFRESH_RATE_LIMIT of each instance. */
const RATE = 20;
const INSTANCES = 2;
/** The seeded tokens expire this long after seeding ends: ample for FLEET / RATE seconds plus start-up. */
const EXPIRY_MS = 50_000;

if (
  await postgresSuiteRuns(
    'T-C12: startup stampede, 2 serve processes with the proactive refresher',
    'startup stampede',
    'startup stampede on PostgreSQL',
  )
) {
  describe('T-C12: startup stampede, 2 serve processes with the proactive refresher', () => {
    const suite = afterSuite();
    const fleet = testSellers(FLEET, 'STP');
    const ids = fleet.map((s) => s.sellingPartnerId);
    let run: Fleet;
    let amazon: RunningEmulator;
    let store: Store;
    let instances: ServeProcess[] = [];
    let expiresAt = 0;

    before(async () => {
      run = await startFleet(suite, INSTANCES, {
        label: 'stampede',
        sellers: fleet,
        // Set to expire together below, once the seeding is done.
        seedOptions: { expiresInMs: 3_600_000 },
        emulator: { latencyMs: 20 },
        extra: { SPAPI_AUTH_REFRESH_RATE_LIMIT: String(RATE) },
        start: false,
        startTimeoutMs: 30_000,
      });
      ({ amazon, store } = run);
      // Stored tokens that all expire at one instant, well inside the refresher's lead time, counted
      // from the end of the seeding (which a busy machine may make slow), not from its start.
      expiresAt = Date.now() + EXPIRY_MS;
      const pgc = new pg.Client({ connectionString: run.databaseUrl });
      await pgc.connect();
      try {
        const set = await pgc.query('UPDATE sellers SET access_token_expires_at = $1', [expiresAt]);
        assert.equal(set.rowCount, FLEET);
      } finally {
        await pgc.end();
      }
      assert.equal(await refreshCalls(amazon), 0);
    });

    it(`${FLEET} sellers near expiry: each seller refreshed once, all before expiry (pacing reported)`, async (t) => {
      // Sampling starts before the instances do: the first sample is 0 and every refresh of the
      // start-up falls between two samples.
      let completeAt = -1;
      const sampling = sampleRefreshes(
        amazon,
        (s) => {
          const last = s.at(-1)!;
          if (completeAt < 0 && last.count >= FLEET) completeAt = last.at;
          // One more second after the fleet is done: a second refresh of any seller would show.
          return completeAt >= 0 && last.at - completeAt >= 1000;
        },
        35_000,
      );
      const starting = run.ports.map((port) => run.serve(port));
      instances = (await Promise.allSettled(starting)).flatMap((r) =>
        r.status === 'fulfilled' ? [r.value] : [],
      );
      assert.equal(instances.length, INSTANCES, 'both instances started');
      const samples = await sampling;
      assert.equal(samples[0]!.count, 0);
      const complete = samples.find((s) => s.count >= FLEET);
      assert.ok(complete, `only ${samples.at(-1)!.count} of ${FLEET} sellers refreshed in 35 s`);
      assert.ok(
        complete.wall < expiresAt,
        `the fleet was refreshed ${complete.wall - expiresAt} ms after the tokens expired`,
      );

      const peak = peakInWindow(samples, 1000, (s) => s.count);
      t.diagnostic(
        `peak ${peak} refreshes in 1 s (limit ${INSTANCES} × ${RATE}; reported, measured in the bench); fleet done ${Math.round((expiresAt - complete.wall) / 1000)} s before expiry; ${samples.length} samples`,
      );

      // Each seller once (a refresh an instance repeated after its own side failed is in its metrics).
      const stats = await amazon.emulator.control.stats();
      assert.deepEqual(
        ids.filter((id) => (stats.refresh_by_seller[id] ?? 0) < 1),
        [],
        'sellers never refreshed',
      );
      const failed = (await Promise.all(instances.map(lwaRefreshFailures))).reduce((a, b) => a + b, 0);
      const total = await refreshCalls(amazon);
      assert.ok(
        total <= FLEET + failed,
        `${total} refreshes for ${FLEET} sellers (${failed} failed attempts)`,
      );
      if (failed === 0) assert.equal(total, FLEET);

      // The store holds a new token for every seller, valid past the seeded expiry.
      for (const id of ids) {
        const row = await store.loadTokens({ sellingPartnerId: id, region: 'na' });
        assert.ok((row?.accessToken?.expiresAt ?? 0) > expiresAt, `${id} still holds the seeded token`);
      }
      for (const i of instances) assert.equal(i.child.exitCode, null, 'the instances are still running');
    });
  });
}
