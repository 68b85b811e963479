// What an engine gives the SQL store: only the slice of its driver the store uses (kysely's
// dialect idea): run a statement, run a transaction, migrate. Every statement is written with `?`
// placeholders and bound parameters; the PostgreSQL driver numbers them. No value is ever spliced
// into SQL text.
import type { Sealer } from '../shared.js';
import type { MigrationProgress } from '../store.js';

export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

/** Runs statements. `all` returns rows (also of `… RETURNING`); `run` returns the affected-row count. */
export interface SqlExecutor {
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** What an engine provides. */
export interface SqlDriver extends SqlExecutor {
  readonly engine: 'sqlite' | 'postgres';
  /** Appended to a SELECT that locks the rows it reads (PostgreSQL); empty where a transaction already excludes writers. */
  readonly forUpdate: string;
  readonly skipLocked: string;
  /** Runs `fn` in one transaction that excludes concurrent writers of the rows it touches. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  migrate(onProgress?: (progress: MigrationProgress) => void): Promise<string[]>;
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

/** What every concern's methods share: the driver, the store's clock and its sealer. */
export interface SqlContext {
  readonly db: SqlDriver;
  readonly now: () => number;
  readonly sealer: Sealer;
}
