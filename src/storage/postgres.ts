// PostgreSQL through `pg` — the engine for several instances behind a load balancer. Statements are
// written with `?` and numbered here ($1, $2, …); values are always bound. `pg` is an optional peer
// dependency, imported when the first PostgreSQL store opens (see drivers.ts); the types below
// declare only the slice of it the store uses, so that these declarations need no `@types/pg`.
import { loadDriver } from './drivers.js';
import { StorageError, StorageUnavailableError } from './errors.js';
// Named in the TSDoc links below.
import type { StorageDriverMissingError } from './errors.js';
import { loadMigrations } from './migrations.js';
import {
  POSTGRES_ERRORS_DOCS,
  explainPostgresError,
  postgresTarget,
  translatePostgresError,
  type PostgresTarget,
} from './postgres-errors.js';
import { createSqlStore } from './sql/index.js';
import type { Row, SqlDriver, SqlExecutor, SqlValue } from './sql/index.js';
import type { MigrationProgress, Store, StoreOptions } from './store.js';

/** The result of a query, as `pg` returns it. */
export interface PgQueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

/** The slice of a `pg` client the store uses (a `pg.PoolClient` is one). */
export interface PgClientLike {
  query<R = Row>(text: string, values?: unknown[]): Promise<PgQueryResult<R>>;
  release(): void;
  /** A `pg` client is an EventEmitter: the store listens for `error` while it holds the client. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
  removeListener?(event: 'error', listener: (err: Error) => void): unknown;
}

/** The slice of a `pg.Pool` the store uses (a `pg.Pool` is one). */
export interface PgPoolLike {
  query<R = Row>(text: string, values?: unknown[]): Promise<PgQueryResult<R>>;
  connect(): Promise<PgClientLike>;
  on(event: 'connect', listener: (client: PgClientLike) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  end(): Promise<void>;
}

/** Options of {@link createPostgresStore}: a connection URL or a pool of your own (a `pg.Pool`). */
export interface PostgresStoreOptions extends StoreOptions {
  readonly url?: string;
  readonly pool?: PgPoolLike;
  /** Keep the tables in this schema (created if missing); tests use a fresh one per run. */
  readonly schema?: string;
  /** Pool size when the store creates the pool (default 10). */
  readonly maxConnections?: number;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function executor(target: PgPoolLike | PgClientLike, translate: (err: unknown) => unknown): SqlExecutor {
  return {
    async all(sql, params = []) {
      try {
        return (await target.query(numbered(sql), params as SqlValue[])).rows as Row[];
      } catch (err) {
        throw translate(err);
      }
    },
    async run(sql, params = []) {
      try {
        return (await target.query(numbered(sql), params as SqlValue[])).rowCount ?? 0;
      } catch (err) {
        throw translate(err);
      }
    },
  };
}

/**
 * Opens (and by default migrates) a PostgreSQL store. Migrations take an advisory lock, so several
 * instances starting at once apply each migration exactly once. Throws
 * {@link StorageDriverMissingError} when it has to create the pool and `pg` is not installed.
 *
 * @example
 * ```ts
 * const store = await createPostgresStore({ url: 'postgres://app@db/spapi_auth', keyRing });
 * ```
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  if (!options?.url && !options?.pool) throw new TypeError('url or pool is required');
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_PATTERN.test(schema)) {
    throw new TypeError('schema must be a lower-case SQL identifier');
  }
  const ownsPool = !options.pool;
  const pool: PgPoolLike =
    options.pool ?? (await createPool(options.url!, schema, options.maxConnections ?? 10));
  if (!ownsPool && schema) {
    pool.on('connect', (client) => void client.query(`SET search_path TO "${schema}"`));
  }
  // An idle client's connection error must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const driver = createPostgresDriver(pool, schema ?? null, ownsPool, postgresTarget(options.url, schema));
  const store = createSqlStore(driver, options);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      if (ownsPool) await pool.end().catch(() => undefined);
      throw err;
    }
  }
  return store;
}

/** Seconds to wait for a server that accepts the connection but never answers, unless the URL says. */
const DEFAULT_CONNECT_TIMEOUT_S = 10;

/**
 * libpq's `connect_timeout` (seconds) of the URL, else the default, in milliseconds: `pg` itself
 * ignores it in a URL and waits forever for a silent server (a firewall that drops packets).
 */
function connectTimeoutMs(url: string): number {
  let given: string | null = null;
  try {
    given = new URL(url).searchParams.get('connect_timeout');
  } catch {
    // A URL that does not parse is pg's to refuse, with its own message.
  }
  const seconds = given !== null && /^\d+$/.test(given) ? Number(given) : DEFAULT_CONNECT_TIMEOUT_S;
  return (seconds > 0 ? seconds : DEFAULT_CONNECT_TIMEOUT_S) * 1000;
}

/** A pool of the store's own (`pg` is imported here, on first use). */
async function createPool(url: string, schema: string | undefined, max: number): Promise<PgPoolLike> {
  const { default: pg } = await loadDriver('pg', () => import('pg'));
  return new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: connectTimeoutMs(url),
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
}

function createPostgresDriver(
  pool: PgPoolLike,
  schema: string | null,
  ownsPool: boolean,
  target: PostgresTarget | undefined,
): SqlDriver {
  const translate = (err: unknown): unknown => translatePostgresError(err, target);
  const lockName = `spapi-auth:migrate:${schema ?? 'default'}`;

  /**
   * A client checked out of the pool. The pool listens for `error` only on idle clients; a
   * connection lost while the store holds one (between two queries of a transaction or a
   * migration) would be emitted with no listener and end the process. The listener here keeps it
   * an error of the next query instead, and goes with the client's release.
   */
  async function connect(): Promise<PgClientLike> {
    let client: PgClientLike;
    try {
      client = await pool.connect();
    } catch (err) {
      throw translate(err);
    }
    const ignore = (): void => undefined;
    client.on?.('error', ignore);
    return {
      query: (text, values) => client.query(text, values),
      release: () => {
        client.removeListener?.('error', ignore);
        client.release();
      },
    };
  }

  async function applied(client: PgClientLike): Promise<Set<string>> {
    const exists = await client.query("SELECT to_regclass('schema_migrations') AS t");
    if (exists.rows[0]?.t === null) return new Set();
    const rows = await client.query<{ name: string }>('SELECT name FROM schema_migrations');
    return new Set(rows.rows.map((r) => r.name));
  }

  return {
    engine: 'postgres',
    forUpdate: ' FOR UPDATE',
    skipLocked: ' SKIP LOCKED',
    ...executor(pool, translate),
    async transaction(fn) {
      const client = await connect();
      try {
        await client.query('BEGIN');
        const result = await fn(executor(client, translate));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw translate(err);
      } finally {
        client.release();
      }
    },
    async pendingMigrations() {
      const client = await connect();
      try {
        const done = await applied(client);
        return loadMigrations('postgres')
          .map((m) => m.name)
          .filter((name) => !done.has(name));
      } catch (err) {
        throw translate(err);
      } finally {
        client.release();
      }
    },
    async migrate(onProgress?: (progress: MigrationProgress) => void) {
      const migrations = loadMigrations('postgres');
      const client = await connect();
      const done: string[] = [];
      try {
        // Session-level lock on this dedicated connection (not through PgBouncer transaction pooling).
        await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockName]);
        try {
          if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
          await client.query(
            'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)',
          );
          const already = await applied(client);
          for (const [index, migration] of migrations.entries()) {
            if (already.has(migration.name)) continue;
            await client.query('BEGIN');
            try {
              await client.query(migration.sql);
              await client.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [
                migration.name,
                Date.now(),
              ]);
              await client.query('COMMIT');
            } catch (err) {
              await client.query('ROLLBACK').catch(() => undefined);
              const cause = explainPostgresError(err, target);
              throw new StorageError(
                'migration_failed',
                `Migration ${migration.name} failed${cause === undefined ? '.' : `: ${cause} (see ${POSTGRES_ERRORS_DOCS})`}`,
                { cause: err },
              );
            }
            done.push(migration.name);
            onProgress?.({ name: migration.name, index, total: migrations.length });
          }
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockName]).catch(() => undefined);
        }
      } catch (err) {
        throw translate(err);
      } finally {
        client.release();
      }
      return done;
    },
    async close() {
      if (ownsPool) await pool.end();
    },
  };
}
