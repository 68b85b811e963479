// The store-facing CLI commands on PostgreSQL (a fresh schema, named in DATABASE_URL's `options`):
// sellers list/delete, token, encryption-key rewrap with a running count, doctor's store check.
// Without a server it skips with a message, unless CI=true.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseKeyRing, sealedKeyId } from '../../src/storage/crypto.js';
import { createPostgresStore } from '../../src/storage/postgres.js';
import type { Store } from '../../src/storage/store.js';
import { PG_URL, dropSchemas, postgresSuiteRuns, runSchema } from '../storage/helpers.js';
import { assertFailure, cliWorld, keyEntry, seedSeller, type CliWorld } from './helpers.js';

if (
  await postgresSuiteRuns(
    'CLI on PostgreSQL',
    'the CLI on PostgreSQL',
    'runs sellers, token, rewrap and doctor on PostgreSQL',
  )
) {
  describe('CLI on PostgreSQL', () => {
    const schema = runSchema('cli');
    const url = new URL(PG_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const databaseUrl = url.href;
    let world: CliWorld;
    let store: Store;
    const SELLERS = 120;
    before(async () => {
      world = await cliWorld({ migrate: false });
      store = await createPostgresStore({
        url: PG_URL,
        schema,
        keyRing: parseKeyRing(world.keys),
        maxConnections: 2,
      });
      await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na' });
      // Many sellers, so that rewrap runs several batches.
      for (let i = 0; i < SELLERS; i++) {
        await seedSeller(world, store, {
          id: `A1PGSELLER${String(i).padStart(4, '0')}`,
          region: 'eu',
          refreshToken: `Atzr|CANARYpg${i}000000000000`,
        });
      }
    });
    after(async () => {
      await store.close();
      await world.close();
      await dropSchemas(schema);
    });
    const cli = (args: string[], env: Record<string, string> = {}) =>
      world.cli(args, { env: { DATABASE_URL: databaseUrl, ...env } });

    it('lists, deletes and hands out tokens through the same store', async () => {
      const list = await cli(['sellers', 'list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.equal((JSON.parse(list.stdout) as { items: unknown[] }).items.length, SELLERS + 1);
      const token = await cli(['token', 'A1EMUSELLERNA01']);
      assert.equal(token.code, 0, token.stderr);
      assert.match(token.stdout, /^Atza\|/);
      const del = await cli(['sellers', 'delete', 'A1PGSELLER0000', '--yes']);
      assert.equal(del.code, 0, del.stderr);
      assert.deepEqual(await store.findSellers('A1PGSELLER0000'), []);
      assertFailure(await cli(['sellers', 'show', 'A1PGSELLER0000']), 1, /seller_not_found/);
    });

    it('rewraps every value onto the new key in batches, with a running count, and doctor sees the schema', async () => {
      const k2 = keyEntry('k2');
      const ring = `${k2},${world.keys}`;
      const r = await cli(['encryption-key', 'rewrap', '--batch-size', '25'], {
        SPAPI_AUTH_ENCRYPTION_KEYS: ring,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`rewrap: ${SELLERS + 1} scanned`));
      assert.match(r.stdout, /^active key\s+k2$/m);
      let cursor: string | null = null;
      let onK2 = 0;
      do {
        const page = await store.listEncryptedValues({ cursor, limit: 500 });
        for (const v of page.items) {
          assert.equal(sealedKeyId(v.ciphertext), 'k2');
          onK2++;
        }
        cursor = page.nextCursor;
      } while (cursor !== null);
      assert.ok(onK2 >= SELLERS, `${onK2} values on k2`);
      const doctor = await cli(['doctor', '--json'], { SPAPI_AUTH_ENCRYPTION_KEYS: ring });
      const checks = (
        JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }
      ).checks;
      const storeCheck = checks.find((c) => c.check === 'store')!;
      assert.equal(storeCheck.verdict, 'ok');
      assert.match(storeCheck.detail, /^postgres reachable, schema up to date/);
      assert.equal(checks.find((c) => c.check === 'key ring')!.verdict, 'ok');
    });

    it('says the store is unreachable in one line when the server is not there', async () => {
      const r = await world.cli(['sellers', 'list'], {
        env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
      });
      assertFailure(
        r,
        1,
        /unreachable: PostgreSQL at 127\.0\.0\.1:1 refused the connection.* \(store_unavailable\)/,
      );
    });
  });
}
