// SQLite through better-sqlite3 12 (synchronous) behind the asynchronous Store. One connection per
// store; an in-process queue keeps one logical operation at a time on it, and BEGIN IMMEDIATE plus
// the busy timeout order writers across processes sharing the file. better-sqlite3 is an optional
// peer dependency, imported when the first SQLite store opens (see drivers.ts).
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { addonNotBuilt, loadDriver } from './drivers.js';
import { StorageError, StorageUnavailableError } from './errors.js';
import { loadMigrations } from './migrations.js';
import { prepareSqliteFile, sqliteOpenFailure } from './sqlite-file.js';
import { createSqlStore } from './sql/index.js';
import type { Row, SqlDriver, SqlExecutor, SqlValue } from './sql/index.js';
import type { MigrationProgress, Store, StoreOptions } from './store.js';
// Named in the TSDoc links below.
import type { StorageDriverMissingError } from './errors.js';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions extends StoreOptions {
  /** The database file (created with its folder if missing), or `:memory:`. */
  readonly path: string;
  /** How long a writer waits for another process's write lock (default 5000 ms). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (and by default migrates) a SQLite store: WAL mode, a busy timeout, `synchronous=NORMAL`.
 * Throws {@link StorageDriverMissingError} when better-sqlite3 is not installed.
 *
 * @example
 * ```ts
 * const store = await createSqliteStore({ path: './data/spapi-auth.db', keyRing });
 * ```
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  if (typeof options?.path !== 'string' || options.path === '') throw new TypeError('path is required');
  const { default: Database } = await loadDriver('better-sqlite3', () => import('better-sqlite3'));
  if (options.path !== ':memory:') prepareSqliteFile(options.path);
  let db: SqliteDatabase;
  try {
    db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw addonNotBuilt('better-sqlite3', err) ?? sqliteOpenFailure(options.path, err);
  }
  try {
    db.pragma('journal_mode = WAL');
  } catch (err) {
    db.close();
    throw sqliteOpenFailure(options.path, err);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const driver = createSqliteDriver(db);
  const store = createSqlStore(driver, options);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return store;
}

// A file another process keeps locked past the busy timeout, or one that cannot be read or written,
// is an unavailable store (503 `store_unavailable`), not a bug.
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY)/;

function translate<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string' && UNAVAILABLE.test(code)) {
      throw new StorageUnavailableError('The SQLite database is unavailable.', { cause: err });
    }
    throw err;
  }
}

function createSqliteDriver(db: SqliteDatabase): SqlDriver {
  const statements = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  const direct: SqlExecutor = {
    all: async (sql, params = []) =>
      translate(() => {
        const stmt = prepare(sql);
        return stmt.reader ? (stmt.all(...(params as SqlValue[])) as Row[]) : (stmt.run(...params), []);
      }),
    run: async (sql, params = []) => translate(() => prepare(sql).run(...(params as SqlValue[])).changes),
  };

  // One operation at a time on the shared connection: a statement issued while another caller's
  // transaction is open would otherwise join (and maybe roll back with) that transaction.
  let queue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = queue.then(fn);
    queue = result.catch(() => undefined);
    return result;
  }

  async function inTransaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    translate(() => db.exec('BEGIN IMMEDIATE'));
    try {
      const result = await fn(direct);
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  const appliedNames = (): Set<string> => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    return new Set(
      (db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name),
    );
  };

  return {
    engine: 'sqlite',
    forUpdate: '',
    skipLocked: '',
    all: (sql, params) => exclusive(() => direct.all(sql, params)),
    run: (sql, params) => exclusive(() => direct.run(sql, params)),
    transaction: (fn) => exclusive(() => inTransaction(fn)),
    pendingMigrations: () =>
      exclusive(async () => {
        const applied = appliedNames();
        return loadMigrations('sqlite')
          .map((m) => m.name)
          .filter((name) => !applied.has(name));
      }),
    migrate: (onProgress?: (progress: MigrationProgress) => void) =>
      exclusive(async () => {
        const migrations = loadMigrations('sqlite');
        const done: string[] = [];
        appliedNames();
        for (const [index, migration] of migrations.entries()) {
          // Re-checked inside the write lock: another process may have applied it meanwhile.
          const applied = await inTransaction(async () => {
            if (db.prepare('SELECT 1 FROM schema_migrations WHERE name = ?').get(migration.name))
              return false;
            try {
              db.exec(migration.sql);
            } catch (err) {
              throw new StorageError('migration_failed', `Migration ${migration.name} failed.`, {
                cause: err,
              });
            }
            db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(
              migration.name,
              Date.now(),
            );
            return true;
          });
          if (applied) {
            done.push(migration.name);
            onProgress?.({ name: migration.name, index, total: migrations.length });
          }
        }
        return done;
      }),
    close: () =>
      exclusive(async () => {
        if (db.open) db.close();
      }),
  };
}
