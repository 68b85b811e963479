import { createMemoryStore } from '../../src/storage/index.js';
import { storeContract } from './contract.js';

storeContract({
  name: 'memory',
  fresh: async () => ({ shared: false, open: async (options) => createMemoryStore(options) }),
});
