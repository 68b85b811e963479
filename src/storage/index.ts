/**
 * spapi-auth storage: the {@link Store} interface, its engines (SQLite — on a file or in memory — and
 * PostgreSQL),
 * encryption at rest, rewrap, and the token vault the core's token manager uses.
 */
export * from './store.js';
export * from './errors.js';
export { createKeyRing, parseKeyRing, generateKey, sealValue, openValue, sealedKeyId } from './crypto.js';
export type { KeyRing, SealContext } from './crypto.js';
export { createSqliteStore } from './sqlite.js';
export type { SqliteStoreOptions } from './sqlite.js';
export { createPostgresStore } from './postgres.js';
export type { PgClientLike, PgPoolLike, PgQueryResult, PostgresStoreOptions } from './postgres.js';
export { openStore } from './open.js';
export { rewrap } from './rewrap.js';
export type { RewrapProgress } from './rewrap.js';
export { createStoreTokenVault } from './token-vault.js';
export type { StoreTokenVaultOptions } from './token-vault.js';
export { loadMigrations } from './migrations.js';
export type { Migration } from './migrations.js';
