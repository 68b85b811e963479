import { after, describe, it } from 'node:test';
import { createSqliteStore } from '../../src/storage/index.js';
import { storeContract } from './contract.js';
import { tempDir } from './helpers.js';

const dir = tempDir('sqlite');
after(() => dir.remove());
let n = 0;

storeContract({
  name: 'sqlite',
  fresh: async () => {
    const path = `${dir.path}/contract-${++n}.db`;
    return { shared: true, open: (options) => createSqliteStore({ ...options, path }) };
  },
});
