/**
 * Opens the store a database URL names: `sqlite:<path>`, `postgres://…` / `postgresql://…`, or
 * `memory:` (SQLite in memory: one process, gone at exit).
 */
import { StorageError } from './errors.js';
import { createPostgresStore } from './postgres.js';
import { createSqliteStore } from './sqlite.js';
import type { Store, StoreOptions } from './store.js';

/**
 * Opens and (unless `migrate: false`) migrates the store for `databaseUrl`.
 *
 * @example
 * ```ts
 * const store = await openStore('sqlite:./data/spapi-auth.db', { keyRing });
 * const shared = await openStore('postgres://app@db:5432/spapi_auth', { keyRing });
 * ```
 */
export async function openStore(
  databaseUrl: string,
  options: StoreOptions & { schema?: string } = {},
): Promise<Store> {
  if (typeof databaseUrl !== 'string') throw new TypeError('databaseUrl must be a string');
  if (databaseUrl === 'memory:' || databaseUrl === 'memory://')
    return createSqliteStore({ ...options, path: ':memory:' });
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '')
      throw new StorageError('invalid_database_url', 'DATABASE_URL sqlite: needs a file path.');
    return createSqliteStore({ ...options, path });
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return createPostgresStore({ ...options, url: databaseUrl });
  // Never echo the URL: it may carry a password.
  throw new StorageError(
    'invalid_database_url',
    'DATABASE_URL must start with sqlite:, postgres:// or postgresql://, or be memory:.',
  );
}
