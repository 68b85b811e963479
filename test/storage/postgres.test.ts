import assert from 'node:assert/strict';
import { loadMigrations } from '../../src/storage/migrations.js';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { StorageUnavailableError, createPostgresStore } from '../../src/storage/index.js';
import type { PgClientLike, PgPoolLike, Store, StoreOptions } from '../../src/storage/index.js';
import { storeContract } from './contract.js';
import { authorization } from './contract/kit.js';
import { fileURLToPath } from 'node:url';
import { DEV_APPLICATION, DEV_CLIENT_SECRET, startEmulator } from '../../src/emulator/index.js';
import {
  KEYS,
  KEY_RING,
  assertOneProcessWinsEachRace,
  assertNoSecretsIn,
  storeEverySecret,
} from './engine-cases.js';
import { PG_URL, dropSchemas, postgresSuiteRuns, runChild, runSchema } from './helpers.js';
import { closeAfter } from '../helpers/after.js';

if (await postgresSuiteRuns('PostgreSQL store', 'the PostgreSQL store suite', 'runs the contract suite')) {
  const prefix = runSchema('pg');
  after(() => dropSchemas(prefix));
  let n = 0;
  const freshSchema = (): string => `${prefix}_${++n}`;
  const open = (schema: string, options: StoreOptions = {}): Promise<Store> =>
    createPostgresStore({ keyRing: KEY_RING, ...options, url: PG_URL, schema, maxConnections: 4 });

  storeContract({
    name: 'postgres',
    fresh: async () => {
      const schema = freshSchema();
      return { shared: true, open: (options) => open(schema, options) };
    },
  });

  describe('PostgreSQL engine', () => {
    it('applies each migration once when several instances start at once (advisory lock)', async () => {
      const schema = freshSchema();
      const stores = await Promise.all([open(schema), open(schema), open(schema)]);
      try {
        assert.deepEqual(await stores[0]!.pendingMigrations(), []);
        const client = new pg.Client(PG_URL);
        await client.connect();
        try {
          const { rows } = await client.query(`SELECT name FROM "${schema}".schema_migrations`);
          assert.deepEqual(
            rows.map((r) => r.name),
            loadMigrations('postgres').map((m) => m.name),
          );
        } finally {
          await client.end();
        }
        assert.deepEqual(await stores[1]!.migrate(), []);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('works over a pool of your own, which close() leaves open', async () => {
      const schema = freshSchema();
      const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
      try {
        const store = await createPostgresStore({ pool, schema, keyRing: KEY_RING });
        await store.saveAuthorization(authorization());
        await store.close();
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".sellers`);
        assert.equal(rows[0].n, 1);
      } finally {
        await pool.end();
      }
    });

    it('a connection lost while the store holds a client is an error of its next query, not a crash', async () => {
      const schema = freshSchema();
      const real = new pg.Pool({ connectionString: PG_URL, max: 2 });
      const admin = new pg.Client(PG_URL);
      await admin.connect();
      let sabotage = false;
      let emitted = 0;
      // The pool of a deployment whose database drops a connection between two of the store's
      // queries: the backend is terminated while the client is checked out and idle, which makes
      // pg emit 'error' on the client (with no listener, an uncaught exception ends the process).
      const pool = {
        query: real.query.bind(real),
        on: real.on.bind(real),
        end: () => real.end(),
        async connect(): Promise<PgClientLike> {
          const client = await real.connect();
          if (!sabotage) return client;
          // Counted without listening (a listener of the test's own would hide the crash).
          const emit = client.emit.bind(client);
          client.emit = (event: string | symbol, ...args: unknown[]) => {
            if (event === 'error') emitted++;
            return emit(event, ...args);
          };
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          let first = true;
          const query = async (text: string, values?: unknown[]) => {
            if (first) {
              first = false;
              await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
              while (emitted === 0) await new Promise((r) => setTimeout(r, 10));
            }
            return client.query(text, values);
          };
          return {
            query: query as PgClientLike['query'],
            release: () => client.release(),
            on: (event, listener) => client.on(event, listener),
            removeListener: (event, listener) => client.removeListener(event, listener),
          };
        },
      } as unknown as PgPoolLike;
      try {
        const store = await createPostgresStore({ pool, schema, keyRing: KEY_RING });
        sabotage = true;
        await assert.rejects(store.pendingMigrations(), StorageUnavailableError);
        assert.ok(emitted >= 1, 'the connection error was emitted while the store held the client');
        sabotage = false;
        assert.deepEqual(await store.pendingMigrations(), [], 'the pool recovers with a new connection');
        await store.close();
      } finally {
        await admin.end();
        await real.end();
      }
    });

    it('reports an unreachable server as store_unavailable without echoing the URL', async () => {
      await assert.rejects(
        createPostgresStore({ url: 'postgres://postgres:hunter2@127.0.0.1:1/x', keyRing: KEY_RING }),
        (err: unknown) =>
          err instanceof StorageUnavailableError &&
          err.code === 'store_unavailable' &&
          !err.message.includes('hunter2'),
      );
    });

    it('keeps no token or secret in clear in a dump of the database', async () => {
      const schema = freshSchema();
      const store = await open(schema);
      try {
        await storeEverySecret(store);
      } finally {
        await store.close();
      }
      let dump: string;
      try {
        dump = execFileSync('pg_dump', ['--data-only', '--schema', schema, PG_URL], { encoding: 'utf8' });
      } catch {
        // No pg_dump on PATH (or a version mismatch): read every column of every table instead.
        const client = new pg.Client(PG_URL);
        await client.connect();
        try {
          const tables = await client.query(
            'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
            [schema],
          );
          const parts: string[] = [];
          for (const { table_name } of tables.rows) {
            const rows = await client.query(`SELECT * FROM "${schema}"."${table_name}"`);
            parts.push(JSON.stringify(rows.rows));
          }
          dump = parts.join('\n');
        } finally {
          await client.end();
        }
      }
      assertNoSecretsIn(dump, 'the PostgreSQL dump');
    });

    it("gives one lease (and one OAuth transaction) to exactly one of two processes; a crashed holder's lease expires", async (t) => {
      const schema = freshSchema();
      const store = closeAfter(t, await open(schema));
      await assertOneProcessWinsEachRace(store, { engine: 'postgres', url: PG_URL, schema });
    });

    it('makes exactly one LWA call at the emulator for 300 concurrent refreshes from 3 processes', async () => {
      const schema = freshSchema();
      const store = await open(schema);
      const amazon = await startEmulator({ consentMode: 'auto' });
      try {
        // A real authorization at the emulator: consent (auto mode), then the code exchange.
        const consent = await amazon.emulator.fetch(
          `https://sellercentral.amazon.com/apps/authorize/consent?application_id=${DEV_APPLICATION.id}&state=s`,
          { redirect: 'manual' },
        );
        const callback = new URL(consent.headers.get('location')!);
        const exchange = await amazon.emulator.fetch('https://api.amazon.com/auth/o2/token', {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: callback.searchParams.get('spapi_oauth_code')!,
            redirect_uri: DEV_APPLICATION.redirectUris[0]!,
            client_id: DEV_APPLICATION.clientId,
            client_secret: DEV_CLIENT_SECRET,
          }),
        });
        assert.equal(exchange.status, 200);
        const { refresh_token, access_token } = (await exchange.json()) as Record<string, string>;
        const sellingPartnerId = callback.searchParams.get('selling_partner_id')!;
        // Stored with an access token that has already expired.
        await store.saveAuthorization(
          authorization({
            sellingPartnerId,
            refreshToken: refresh_token!,
            accessToken: { accessToken: access_token!, expiresAt: Date.now() - 1000 },
          }),
        );
        const before = await amazon.emulator.control.stats();
        const startAt = Date.now() + 5000;
        const child = fileURLToPath(new URL('./fixtures/refresh-child.ts', import.meta.url));
        const results = await Promise.all(
          [0, 1, 2].map((i) =>
            runChild<{ lwaCalls: number; tokens: string[]; count: number }>(child, [
              JSON.stringify({
                url: PG_URL,
                schema,
                keys: KEYS,
                id: `p${i}`,
                startAt,
                attempts: 100,
                sellingPartnerId,
                amazonUrl: amazon.url,
                clientId: DEV_APPLICATION.clientId,
                clientSecret: DEV_CLIENT_SECRET,
              }),
            ]),
          ),
        );
        const after = await amazon.emulator.control.stats();
        const refreshes = (stats: typeof after): number => stats.token.refresh_token?.ok ?? 0;
        assert.equal(refreshes(after) - refreshes(before), 1, 'one refresh_token grant at the emulator');
        assert.equal(
          results.reduce((n, r) => n + r.lwaCalls, 0),
          1,
        );
        assert.equal(
          results.reduce((n, r) => n + r.count, 0),
          300,
        );
        const tokens = new Set(results.flatMap((r) => r.tokens));
        assert.equal(tokens.size, 1, 'every caller got the same new token');
        assert.notEqual([...tokens][0], access_token);
        assert.equal(
          (await store.loadTokens({ sellingPartnerId, region: 'na' }))?.accessToken?.accessToken,
          [...tokens][0],
        );
      } finally {
        await amazon.close();
        await store.close();
      }
    });

    it('lists 100,000 sellers by pages, status and prefix using the indexes', async () => {
      const schema = freshSchema();
      const store = await open(schema);
      const client = new pg.Client(PG_URL);
      await client.connect();
      try {
        // Bulk rows straight in SQL (sealing 100,000 tokens is not what is measured here).
        await client.query(
          `INSERT INTO "${schema}".sellers (selling_partner_id, region, kind, user_ref, status, refresh_token_enc,
             version, authorized_at, created_at, updated_at)
           SELECT 'S' || lpad(i::text, 6, '0'), 'na', 'seller', 'user-' || (i % 1000),
             CASE WHEN i % 10 = 0 THEN 'reauthorization_required' ELSE 'active' END, 'v1.k1.x.y.z', 1, 0, 0, 0
           FROM generate_series(1, 100000) AS i`,
        );
        await client.query(`ANALYZE "${schema}".sellers`);
        const page = await store.listSellers({ limit: 50 });
        const next = await store.listSellers({ limit: 50, cursor: page.nextCursor });
        assert.equal(next.items[0]?.sellingPartnerId, 'S000051');
        assert.equal((await store.listSellers({ search: 'S01234', limit: 500 })).items.length, 10);
        assert.equal((await store.listSellers({ search: 'user-999', limit: 500 })).items.length, 100);
        assert.deepEqual(await store.countSellersByStatus(), {
          active: 90_000,
          reauthorization_required: 10_000,
        });
        const plan = await client.query(
          `EXPLAIN SELECT * FROM "${schema}".sellers WHERE status = 'reauthorization_required' ORDER BY selling_partner_id, region LIMIT 51`,
        );
        assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index/);
        const search = await client.query(
          `EXPLAIN SELECT * FROM "${schema}".sellers WHERE (selling_partner_id >= 'S01234' AND selling_partner_id < 'S01235')
             OR (user_ref >= 'S01234' AND user_ref < 'S01235') ORDER BY selling_partner_id, region LIMIT 51`,
        );
        assert.match(search.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index/);
      } finally {
        await client.end();
        await store.close();
      }
    });
  });
}
