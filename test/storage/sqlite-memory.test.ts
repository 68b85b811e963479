// The contract on SQLite `:memory:` (what `memory:` opens): every open is a database of its own.
import { createSqliteStore } from '../../src/storage/index.js';
import { storeContract } from './contract.js';

storeContract({
  name: 'sqlite :memory:',
  fresh: async () => ({
    shared: false,
    open: (options) => createSqliteStore({ ...options, path: ':memory:' }),
  }),
});
