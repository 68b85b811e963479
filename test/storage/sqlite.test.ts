import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  StorageError,
  StorageUnavailableError,
  createSqliteStore,
  loadMigrations,
  openStore,
} from '../../src/storage/index.js';
import { storeContract } from './contract.js';
import { authorization } from './contract/kit.js';
import {
  KEY_RING,
  assertOneProcessWinsEachRace,
  assertNoSecretsIn,
  storeEverySecret,
} from './engine-cases.js';
import { tempDir } from './helpers.js';

const dir = tempDir('sqlite');
after(() => dir.remove());
let n = 0;
const freshPath = (): string => `${dir.path}/db-${++n}.db`;

storeContract({
  name: 'sqlite',
  fresh: async () => {
    const path = freshPath();
    return { shared: true, open: (options) => createSqliteStore({ ...options, path }) };
  },
});

describe('SQLite engine', () => {
  it('opens in WAL mode with the migrations recorded, and migrates idempotently', async () => {
    const path = freshPath();
    const progress: string[] = [];
    const store = await createSqliteStore({ path, keyRing: KEY_RING, migrate: false });
    // Every migration file, in order (each helper adds its own number: no list to keep here).
    const all = loadMigrations('sqlite').map((m) => m.name);
    assert.deepEqual(all.slice(0, 2), ['001_initial', '002_refresh_due_index']);
    assert.deepEqual(await store.pendingMigrations(), all);
    assert.deepEqual(
      await store.migrate({ onProgress: (p) => progress.push(`${p.index + 1}/${p.total} ${p.name}`) }),
      all,
    );
    assert.deepEqual(
      progress,
      all.map((name, i) => `${i + 1}/${all.length} ${name}`),
    );
    assert.deepEqual(await store.migrate(), []);
    assert.deepEqual(await store.pendingMigrations(), []);
    await store.close();
    const raw = new Database(path, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const names = (raw.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map(
        (r) => r.name,
      );
      assert.deepEqual(
        names,
        loadMigrations('sqlite').map((m) => m.name),
      );
      const tables = (
        raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
          name: string;
        }[]
      ).map((r) => r.name);
      for (const t of [
        'sellers',
        'oauth_transactions',
        'connect_sessions',
        'api_keys',
        'app_secrets',
        'audit_log',
        'webhook_outbox',
      ]) {
        assert.ok(tables.includes(t), t);
      }
    } finally {
      raw.close();
    }
  });

  it('keeps no token or secret in clear in the database files', async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, keyRing: KEY_RING });
    await storeEverySecret(store);
    const base = path.slice(dir.path.length + 1);
    // Scan while open (the WAL holds the recent writes) and after close (checkpointed into the file).
    const scan = (): string =>
      readdirSync(dir.path)
        .filter((f) => f === base || f.startsWith(`${base}-`))
        .map((f) => readFileSync(`${dir.path}/${f}`).toString('latin1'))
        .join('\n');
    assertNoSecretsIn(scan(), 'the SQLite files (open)');
    await store.close();
    assertNoSecretsIn(scan(), 'the SQLite file (closed)');
  });

  it("gives one lease to exactly one of two processes racing on one file; a crashed holder's lease expires", async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, keyRing: KEY_RING });
    const seller = await assertOneProcessWinsEachRace(store, { engine: 'sqlite', path });
    assert.equal(seller?.version, 1);
    await store.close();
  });

  it('reports a file locked past the busy timeout as store_unavailable, leaving the data intact', async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, keyRing: KEY_RING, busyTimeoutMs: 50 });
    await store.saveAuthorization(authorization({ refreshToken: 'Atzr|before' }));
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(
        store.saveAuthorization(authorization({ refreshToken: 'Atzr|after' })),
        (err: unknown) => err instanceof StorageUnavailableError && err.code === 'store_unavailable',
      );
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(
      (await store.loadTokens({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' }))?.refreshToken,
      'Atzr|before',
    );
    await store.saveAuthorization(authorization({ refreshToken: 'Atzr|after' }));
    await store.close();
  });

  it('lists 100,000 sellers by pages, status and prefix using the indexes', async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, keyRing: KEY_RING });
    const raw = new Database(path);
    try {
      raw.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
        INSERT INTO sellers (selling_partner_id, region, kind, user_ref, status, refresh_token_enc, version,
          authorized_at, created_at, updated_at)
        SELECT 'S' || substr('000000' || i, -6), 'na', 'seller', 'user-' || (i % 1000),
          CASE WHEN i % 10 = 0 THEN 'reauthorization_required' ELSE 'active' END, 'v1.k1.x.y.z', 1, 0, 0, 0 FROM n`);
      raw.exec('ANALYZE');
      const page = await store.listSellers({ limit: 50 });
      assert.equal(
        (await store.listSellers({ limit: 50, cursor: page.nextCursor })).items[0]?.sellingPartnerId,
        'S000051',
      );
      assert.equal((await store.listSellers({ search: 'S01234', limit: 500 })).items.length, 10);
      assert.equal((await store.listSellers({ search: 'user-999', limit: 500 })).items.length, 100);
      const reauthorize = await store.listSellers({ status: 'reauthorization_required', limit: 500 });
      assert.equal(reauthorize.items.length, 500);
      assert.ok(reauthorize.items.every((s) => s.status === 'reauthorization_required'));
      assert.deepEqual(await store.countSellersByStatus(), {
        active: 90_000,
        reauthorization_required: 10_000,
      });
      const plan = (sql: string): string =>
        (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
          .map((r) => r.detail)
          .join('\n');
      assert.match(
        plan(
          "SELECT * FROM sellers WHERE status = 'reauthorization_required' ORDER BY selling_partner_id, region LIMIT 51",
        ),
        /INDEX sellers_status/,
      );
      assert.match(
        plan(`SELECT * FROM sellers WHERE (selling_partner_id >= 'a' AND selling_partner_id < 'b')
          OR (user_ref >= 'a' AND user_ref < 'b') ORDER BY selling_partner_id, region LIMIT 51`),
        /INDEX/,
      );
    } finally {
      raw.close();
      await store.close();
    }
  });

  it('opens stores from database URLs and refuses unknown ones without echoing them', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`, { keyRing: KEY_RING });
    assert.equal(store.engine, 'sqlite');
    await store.close();
    const memory = await openStore('memory:', { keyRing: KEY_RING });
    assert.equal(memory.engine, 'sqlite');
    await memory.saveAuthorization(authorization());
    assert.equal((await memory.findSellers('A3FHEXAMPLEYWS')).length, 1);
    const other = await openStore('memory://', { keyRing: KEY_RING });
    assert.deepEqual(await other.findSellers('A3FHEXAMPLEYWS'), [], 'each memory: store is its own database');
    await Promise.all([memory.close(), other.close()]);
    await assert.rejects(
      openStore('mysql://user:hunter2@db/x'),
      (err: unknown) =>
        err instanceof StorageError &&
        err.code === 'invalid_database_url' &&
        !err.message.includes('hunter2'),
    );
    await assert.rejects(openStore('sqlite:'), StorageError);
  });
});
