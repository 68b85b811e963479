// The TokenVault contract on the core's memory vault and on the store-backed vault (SQLite).
import { createMemoryTokenVault } from '../../src/core/index.js';
import { createSqliteStore, createStoreTokenVault } from '../../src/storage/index.js';
import { KEY_RING } from './engine-cases.js';
import { vaultContract } from './vault-contract.js';

vaultContract({
  name: 'memory (core)',
  fresh: async (now) => {
    const vault = createMemoryTokenVault({ now });
    return {
      vault,
      put: async (key, refreshToken) => vault.put(key, refreshToken),
      lastFailure: async (key) => vault.inspect(key)?.lastFailure?.code ?? null,
      close: async () => undefined,
    };
  },
});

vaultContract({
  name: 'store (SQLite)',
  fresh: async (now) => {
    const store = await createSqliteStore({ path: ':memory:', keyRing: KEY_RING, now });
    return {
      vault: createStoreTokenVault(store, { owner: 'process-1', now }),
      otherOwner: createStoreTokenVault(store, { owner: 'process-2', now }),
      put: async (key, refreshToken) => {
        await store.saveAuthorization({
          ...key,
          kind: 'seller',
          userRef: null,
          marketplace: null,
          refreshToken,
        });
      },
      lastFailure: async (key) => (await store.getSeller(key))?.lastError?.code ?? null,
      close: () => store.close(),
    };
  },
});
