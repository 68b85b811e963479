// The Store over SQL, shared by SQLite and PostgreSQL: one module per concern, composed here over
// the engine's driver (see driver.ts).
import { clockOf, createSealer } from '../shared.js';
import type { Store, StoreOptions } from '../store.js';
import { auditMethods } from './audit.js';
import type { SqlContext, SqlDriver } from './driver.js';
import { flowMethods } from './flows.js';
import { apiKeyMethods } from './keys.js';
import { leaseMethods } from './leases.js';
import { outboxMethods } from './outbox.js';
import { refreshMethods } from './refresh.js';
import { revocationMethods } from './revocations.js';
import { rewrapMethods } from './rewrap.js';
import { rotationMethods } from './rotation.js';
import { appSecretMethods } from './secrets.js';
import { sellerMethods } from './sellers.js';

export type { Row, SqlContext, SqlDriver, SqlExecutor, SqlValue } from './driver.js';

/**
 * Builds the SQL Store over an engine's driver.
 *
 * @example
 * ```ts
 * const store = createSqlStore(driver, { keyRing });
 * ```
 */
export function createSqlStore(db: SqlDriver, options: StoreOptions): Store {
  const ctx: SqlContext = { db, now: clockOf(options), sealer: createSealer(options.keyRing) };
  return {
    engine: db.engine,
    migrate: (opts) => db.migrate(opts?.onProgress),
    pendingMigrations: () => db.pendingMigrations(),
    close: () => db.close(),
    ...sellerMethods(ctx),
    ...leaseMethods(ctx),
    ...flowMethods(ctx),
    ...apiKeyMethods(ctx),
    ...appSecretMethods(ctx),
    ...auditMethods(ctx),
    ...outboxMethods(ctx),
    ...refreshMethods(ctx),
    ...rewrapMethods(ctx),
    ...revocationMethods(ctx),
    ...rotationMethods(ctx),
  };
}
