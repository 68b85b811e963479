// Opening, migrating and closing a store.
import type { KeyRing } from '../crypto.js';
// Named in the TSDoc links below.
import type { StorageUnavailableError } from '../errors.js';

/** A migration applied by {@link LifecycleStore.migrate}. */
export interface MigrationProgress {
  readonly name: string;
  readonly index: number;
  readonly total: number;
}

/** Migrations and shutdown. */
export interface LifecycleStore {
  /** Applies pending migrations (also done at open unless disabled); resolves to the names applied. */
  migrate(options?: { onProgress?: (progress: MigrationProgress) => void }): Promise<string[]>;
  /** Names of migrations not yet applied (empty when ready). Throws {@link StorageUnavailableError} when unreachable. */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Options every adapter takes.
 *
 * @example
 * ```ts
 * const store = await createSqliteStore({ path: './data/spapi-auth.db', keyRing, now: clock.now });
 * ```
 */
export interface StoreOptions {
  /** The key ring that seals and opens secrets; without one, any secret read or write throws. */
  readonly keyRing?: KeyRing | null;
  /** The clock (epoch ms); injected by tests. */
  readonly now?: () => number;
  /** Apply pending migrations at open (default true). */
  readonly migrate?: boolean;
}
