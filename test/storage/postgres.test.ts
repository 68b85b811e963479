import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPostgresStore } from '../../src/storage/index.js';
import { storeContract } from './contract.js';
import { PG_URL, dropSchemas, postgresAvailable, runSchema } from './helpers.js';

const unavailable = await postgresAvailable();
if (unavailable && process.env.CI === 'true') {
  describe('PostgreSQL store', () => {
    it('needs the PostgreSQL test server in CI', () => assert.fail(`${unavailable}; CI=true requires it`));
  });
} else if (unavailable) {
  console.log(`# SKIPPED: the PostgreSQL store suite: ${unavailable} (set SPAPI_AUTH_TEST_PG_URL)`);
  describe('PostgreSQL store', { skip: unavailable }, () => {
    it('runs the contract suite');
  });
} else {
  const prefix = runSchema('contract');
  after(() => dropSchemas(prefix));
  let n = 0;
  storeContract({
    name: 'postgres',
    fresh: async () => {
      const schema = `${prefix}_${++n}`;
      return {
        shared: true,
        open: (options) => createPostgresStore({ ...options, url: PG_URL, schema, maxConnections: 4 }),
      };
    },
  });
}
