// docs/security.md T-E1 and T-E2 against a `serve` process on PostgreSQL: its connections killed with
// pg_terminate_backend in the middle of a refresh, and the database unreachable for a while. The
// shared PostgreSQL server is never stopped: the service reaches it through a TCP proxy that the
// test closes and reopens, and only the backends of this test's own fresh database are killed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication } from '../../src/emulator/types.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import {
  createKey,
  freePort,
  freshDatabase,
  markerSecrets,
  openTestStore,
  PG_URL,
  postgresSuiteRuns,
  refreshCalls,
  seedSellers,
  serveEnv,
  startServe,
  startTcpProxy,
  startTestEmulator,
  terminateBackends,
  testSellers,
  type ServeProcess,
  type TcpProxy,
} from '../helpers/e2e.js';

const SELLERS = testSellers(4, 'DBF').map((s) => s.sellingPartnerId);
const [KILLED, WARM, COLD, LATER] = SELLERS as [string, string, string, string];

if (
  await postgresSuiteRuns(
    'PostgreSQL faults under a serve process (T-E1, T-E2)',
    'database faults',
    'database faults on PostgreSQL',
  )
) {
  describe('PostgreSQL faults under a serve process (T-E1, T-E2)', () => {
    const secrets = markerSecrets('DbFaults');
    const canary = createCanary();
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let proxy: TcpProxy;
    let amazon: RunningEmulator;
    let app: EmulatorApplication;
    let serve: ServeProcess;
    let apiKey: string;
    const errorBodies: string[] = [];

    const get = async (seller: string): Promise<{ status: number; code?: string; token?: string }> => {
      let res: Response;
      try {
        res = await fetch(`${serve.url}/v1/sellers/${seller}/access-token`, {
          headers: { authorization: `Bearer ${apiKey}` },
          signal: AbortSignal.timeout(15_000),
        });
      } catch (err) {
        // Say whether the service died (a crash is what T-E2 forbids) and how.
        await new Promise((r) => setTimeout(r, 1000));
        const { stderr, stdout } = serve.output();
        throw new Error(
          `request failed (${(err as Error).message}); service exit ${serve.child.exitCode ?? serve.child.signalCode}; stderr: ${stderr.slice(-1500)}; stdout: ${stdout.slice(-1500)}`,
        );
      }
      const text = await res.text();
      if (res.status !== 200) {
        errorBodies.push(text);
        return { status: res.status, code: (JSON.parse(text) as { error: { code: string } }).error.code };
      }
      const token = (JSON.parse(text) as { access_token: string }).access_token;
      canary.add(`access_token ${seller}`, token);
      return { status: 200, token };
    };

    /** One short-lived connection per question, so that killing backends never hits the test's own pool. */
    const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        return (await c.query<T>(sql, params)).rows;
      } finally {
        await c.end();
      }
    };

    before(async () => {
      db = await freshDatabase('dbf');
      const pgUrl = new URL(PG_URL);
      proxy = await startTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
      const viaProxy = new URL(db.url);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const port = await freePort();
      const publicUrl = `http://127.0.0.1:${port}`;
      ({ amazon, app } = await startTestEmulator(publicUrl, secrets.clientSecret, {
        sellers: testSellers(4, 'DBF'),
      }));
      const store = await openTestStore(db.url, secrets.encryptionKeys);
      try {
        const seeded = await seedSellers(amazon, app, secrets.clientSecret, store, SELLERS);
        apiKey = await createKey(store);
        addRunSecrets(canary, { ...secrets, apiKey, seeded });
      } finally {
        await store.close();
      }
      serve = await startServe(
        serveEnv({
          app,
          secrets,
          amazon,
          databaseUrl: viaProxy.href,
          publicUrl,
          port,
        }),
      );
    });

    after(async () => {
      await serve?.stop();
      await proxy?.close();
      await amazon?.close();
      await db?.drop();
    });

    it('T-E1: the service’s connections killed while LWA answers a refresh → the write lands on a new connection; one valid row, no stuck lease', async () => {
      await amazon.emulator.control.fault({
        target: 'token',
        grant_type: 'refresh_token',
        delay_ms: 1500,
        count: 1,
      });
      const before = await refreshCalls(amazon);
      const pending = get(KILLED);
      // Wait until the service holds the lease (its LWA call is now in flight), then kill.
      let leased = false;
      for (let i = 0; i < 300 && !leased; i++) {
        const rows = await query<{ lease_owner: string | null }>(
          'SELECT lease_owner FROM sellers WHERE selling_partner_id = $1',
          [KILLED],
        );
        leased = rows[0]?.lease_owner != null;
        if (!leased) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(leased, 'the refresh took the lease');
      const killed = await terminateBackends(db.name);
      assert.ok(killed >= 1, 'the service had connections to kill');
      const answer = await pending;
      // Either outcome is allowed for this caller; what must hold is the state afterwards.
      assert.ok(answer.status === 200 || answer.status === 503, JSON.stringify(answer));
      const next = await get(KILLED);
      assert.equal(next.status, 200);
      if (answer.status === 200) assert.equal(next.token, answer.token);
      const [row] = await query<{ lease_owner: string | null; status: string }>(
        'SELECT lease_owner, status FROM sellers WHERE selling_partner_id = $1',
        [KILLED],
      );
      assert.equal(row!.lease_owner, null, 'no lease left behind');
      assert.equal(row!.status, 'active');
      assert.ok((await refreshCalls(amazon)) - before <= 2, 'at most one more refresh after the kill');
      assert.equal(serve.child.exitCode, null, 'the service is still running');
    });

    it('T-E2: database unreachable → cached tokens still served, others 503 store_unavailable; back within seconds; no crash', async () => {
      const warm = await get(WARM);
      assert.equal(warm.status, 200);
      proxy.down();
      let downFor = 0;
      try {
        const t0 = Date.now();
        const served: number[] = [];
        const cold: { status: number; code?: string }[] = [];
        // About five seconds of traffic with the database gone.
        while (Date.now() - t0 < 5000) {
          const [w, c] = await Promise.all([get(WARM), get(COLD)]);
          served.push(w.status);
          cold.push(c);
          assert.equal(w.token, warm.token);
          await new Promise((r) => setTimeout(r, 250));
        }
        downFor = Date.now() - t0;
        assert.ok(
          served.every((s) => s === 200),
          'the cached seller is never refused',
        );
        assert.ok(
          cold.every(
            (c) => c.status === 503 && (c.code === 'store_unavailable' || c.code === 'upstream_unavailable'),
          ),
          JSON.stringify(cold.slice(0, 3)),
        );
        assert.ok(cold.some((c) => c.code === 'store_unavailable'));
      } finally {
        proxy.up();
      }
      assert.ok(downFor >= 5000);
      // Recovery: the next requests succeed within a few seconds.
      const t1 = Date.now();
      let recovered: { status: number } = { status: 0 };
      while (Date.now() - t1 < 10_000 && recovered.status !== 200) {
        recovered = await get(LATER);
        if (recovered.status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(recovered.status, 200, 'the service recovers once the database is back');
      assert.equal((await get(COLD)).status, 200);
      assert.equal(serve.child.exitCode, null, 'no crash');
      const ready = await fetch(`${serve.url}/readyz`);
      assert.equal(ready.status, 200);
    });

    it('T-H1: no marker secret in the output or the error bodies of the faults', () => {
      const { stdout, stderr } = serve.output();
      canary.assertClean({ stdout, stderr, 'error bodies': errorBodies.join('\n') });
      assert.ok(!stdout.includes(db.url) && !stderr.includes(db.url), 'the database URL is not printed');
    });
  });
}
