// Several instances (docs/security.md T-C2, T-C3, T-C7): three `spapi-auth serve` processes sharing one
// PostgreSQL database (fresh per run) and one emulator on a port, no balancer — the client spreads
// its requests over the three itself. Every count is taken at the emulator.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Store } from '../../src/storage/store.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import { pool, postgresSuiteRuns, refreshCalls, testSellers, type ServeProcess } from '../helpers/e2e.js';
import { afterSuite, startFleet } from '../helpers/fleet.js';
import { lwaRefreshFailures } from '../helpers/refresh-sampling.js';

const FLEET = 1000;
const HOT = 'AHOTSELLER0001';
const PAUSED = 'APAUSEDSELLER01';

if (
  await postgresSuiteRuns(
    '3 serve processes sharing PostgreSQL',
    'several instances',
    'several instances on PostgreSQL',
  )
) {
  describe('3 serve processes sharing PostgreSQL', () => {
    const suite = afterSuite();
    const canary = createCanary();
    const fleet = testSellers(FLEET, 'FLT').map((s) => s.sellingPartnerId);
    let databaseUrl: string;
    let amazon: RunningEmulator;
    let store: Store;
    let apiKey: string;
    let instances: ServeProcess[] = [];

    const get = async (
      instance: ServeProcess,
      seller: string,
    ): Promise<{ status: number; token?: string; body: string }> => {
      const res = await fetch(`${instance.url}/v1/sellers/${seller}/access-token`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      const body = await res.text();
      if (res.status !== 200) return { status: res.status, body };
      return { status: 200, token: (JSON.parse(body) as { access_token: string }).access_token, body: '' };
    };

    before(async () => {
      const sellers = [
        ...testSellers(FLEET, 'FLT'),
        ...[HOT, PAUSED].map((id) => ({ ...testSellers(1)[0]!, sellingPartnerId: id })),
      ];
      const run = await startFleet(suite, 3, {
        label: 'inst',
        sellers,
        seed: [HOT, PAUSED, ...fleet],
        emulator: { latencyMs: 20 },
      });
      ({ amazon, store, apiKey, instances, databaseUrl } = run);
      addRunSecrets(canary, { ...run.secrets, apiKey, seeded: run.seeded });
    });

    it('T-C2: 1,000 concurrent requests for one expired seller over 3 instances → exactly 1 refresh', async () => {
      const before = await refreshCalls(amazon);
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => get(instances[i % 3]!, HOT)));
      const statuses = new Map<number, number>();
      for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      assert.deepEqual([...statuses], [[200, 1000]], results.find((r) => r.status !== 200)?.body);
      assert.equal(new Set(results.map((r) => r.token)).size, 1, 'every caller got the same token');
      assert.equal((await refreshCalls(amazon)) - before, 1);
      canary.add('hot access_token', results[0]!.token);
    });

    it('T-C3: 1,000 expired sellers × 10 requests (64 in flight) over 3 instances → exactly 1,000 refreshes', async () => {
      const before = await refreshCalls(amazon);
      const statsBefore = await amazon.emulator.control.stats();
      const jobs = Array.from({ length: FLEET * 10 }, (_, i) => ({
        instance: i % 3,
        seller: fleet[i % FLEET]!,
      }));
      const results = await pool(jobs, 64, (j) => get(instances[j.instance]!, j.seller));
      const failed = results.filter((r) => r.status !== 200);
      assert.equal(failed.length, 0, failed[0]?.body);
      // Exactly one refresh per seller — except where an instance's own attempt failed on its side
      // (a timeout under CPU starvation) after LWA had answered: the retry policy repeats such a
      // refresh, which is safe without rotation. Those attempts are in the instances' metrics.
      const failedAttempts = (await Promise.all(instances.map(lwaRefreshFailures))).reduce(
        (a, b) => a + b,
        0,
      );
      const stats = await amazon.emulator.control.stats();
      const twice = fleet.filter((id) => (stats.refresh_by_seller[id] ?? 0) > 1);
      assert.ok(
        fleet.every((id) => (stats.refresh_by_seller[id] ?? 0) >= 1),
        'every seller refreshed',
      );
      const calls = (await refreshCalls(amazon)) - before;
      // What the emulator saw besides one refresh per fleet seller, for the failure message.
      const outcomes = Object.entries(stats.token.refresh_token ?? {})
        .map(([o, n]) => `${o}: ${n - (statsBefore.token.refresh_token?.[o] ?? 0)}`)
        .join(', ');
      const others = Object.entries(stats.refresh_by_seller)
        .filter(([id, n]) => !fleet.includes(id) && n !== (statsBefore.refresh_by_seller[id] ?? 0))
        .map(([id]) => id);
      const seen = `sellers refreshed twice: [${twice.join(' ')}]; others refreshed: [${others.join(' ')}]; outcomes: ${outcomes}`;
      if (failedAttempts === 0) assert.equal(calls, FLEET, seen);
      else
        assert.ok(
          calls <= FLEET + failedAttempts,
          `${calls} calls, ${failedAttempts} failed attempts; ${seen}`,
        );
      // Each seller's ten callers got one token.
      const bySeller = new Map<string, Set<string>>();
      results.forEach((r, i) => {
        const s = jobs[i]!.seller;
        if (!bySeller.has(s)) bySeller.set(s, new Set());
        bySeller.get(s)!.add(r.token!);
      });
      assert.ok([...bySeller.values()].every((t) => t.size === 1));
    });

    it('T-C7: a lease holder paused (SIGSTOP) past its lease cannot overwrite the newer token after SIGCONT', async () => {
      const [a, b] = instances as [ServeProcess, ServeProcess];
      const v0 = (await store.loadTokens({ sellingPartnerId: PAUSED, region: 'na' }))!.version;
      const pgc = new pg.Client({ connectionString: databaseUrl });
      await pgc.connect();
      const leaseOwner = async (): Promise<string | null> =>
        (
          await pgc.query<{ lease_owner: string | null }>(
            'SELECT lease_owner FROM sellers WHERE selling_partner_id = $1',
            [PAUSED],
          )
        ).rows[0]!.lease_owner;
      // A takes the lease and calls LWA, which answers after 3 s; A is frozen before it can commit.
      await amazon.emulator.control.fault({
        target: 'token',
        grant_type: 'refresh_token',
        delay_ms: 3000,
        count: 1,
      });
      const before = await refreshCalls(amazon);
      const fromA = get(a, PAUSED);
      // A holds the lease for the whole 3 s LWA delay: poll for it (bounded generously: on a busy
      // machine A may take a while to get there, and a missed window fails loudly rather than late).
      let holder: string | null = null;
      const deadline = Date.now() + 30_000;
      while (holder === null && Date.now() < deadline) {
        holder = await leaseOwner();
        if (holder === null) await new Promise((r) => setTimeout(r, 5));
      }
      if (holder === null) {
        // Say what happened instead: A's answer, the stored token's expiry, the emulator's counts.
        const answer = await fromA;
        const stored = await store.loadTokens({ sellingPartnerId: PAUSED, region: 'na' });
        const stats = await amazon.emulator.control.stats();
        await pgc.end();
        assert.fail(
          `A never held the lease: A answered ${answer.status} ${answer.body}; stored access token ` +
            `expires ${stored?.accessToken ? new Date(stored.accessToken.expiresAt).toISOString() : 'never stored'} ` +
            `(now ${new Date().toISOString()}), version ${stored?.version} (was ${v0}); refreshes since: ` +
            `${(await refreshCalls(amazon)) - before}, outcomes ${JSON.stringify(stats.token.refresh_token)}`,
        );
      }
      try {
        a.child.kill('SIGSTOP');
        assert.equal((await store.loadTokens({ sellingPartnerId: PAUSED, region: 'na' }))!.version, v0);
        // The lease (15 s) runs out while A sleeps; B then refreshes and stores a newer token.
        await new Promise((r) => setTimeout(r, 15_500));
        const fromB = await get(b, PAUSED);
        assert.equal(fromB.status, 200, `B: ${fromB.body}`);
        const afterB = (await store.loadTokens({ sellingPartnerId: PAUSED, region: 'na' }))!;
        assert.equal(afterB.accessToken?.accessToken, fromB.token);
        a.child.kill('SIGCONT');
        const answerA = await fromA;
        // A's compare-and-set failed: the stored token is still B's, and A's caller gets a valid one.
        const final = (await store.loadTokens({ sellingPartnerId: PAUSED, region: 'na' }))!;
        assert.equal(final.accessToken?.accessToken, fromB.token, 'no stale overwrite');
        assert.equal(final.version, afterB.version, 'A wrote nothing after B');
        // A's own caller: B's token, or a 503 (A's LWA attempt timed out while it slept) — never
        // a token of A's that lost the race.
        if (answerA.status === 200) assert.equal(answerA.token, fromB.token);
        else assert.equal(answerA.status, 503, `A: ${answerA.body}`);
        assert.equal(final.version, v0 + 1, 'one successful refresh commit (B), none from A');
        assert.notEqual(await leaseOwner(), holder, 'A left no lease behind');
        // A's own LWA attempt may be aborted on resume (its timeout ran out while it slept).
        assert.ok((await refreshCalls(amazon)) - before >= 1, 'B called LWA');
      } finally {
        a.child.kill('SIGCONT');
        await pgc.end();
      }
    });

    it('T-H1: no marker secret in any instance output, /metrics, or a pg_dump of the database', async () => {
      const { spawnSync } = await import('node:child_process');
      const dump = spawnSync('pg_dump', ['--data-only', databaseUrl], {
        encoding: 'latin1',
        maxBuffer: 256 * 1024 * 1024,
      });
      assert.equal(dump.status, 0, dump.stderr);
      assert.ok(dump.stdout.includes('APAUSEDSELLER01'), 'the dump has the sellers');
      const metrics = await (await fetch(`${instances[0]!.url}/metrics`)).text();
      const sources: Record<string, string> = { pg_dump: dump.stdout, '/metrics': metrics };
      instances.forEach((i, n) => {
        sources[`instance ${n} stdout`] = i.output().stdout;
        sources[`instance ${n} stderr`] = i.output().stderr;
      });
      canary.assertClean(sources);
    });
  });
}
