/**
 * The storage layer's errors: a small closed set, each with a stable snake_case `code`. Messages
 * never contain a token, a secret, a key or a key-ring value.
 */

/**
 * Every code a storage error can carry, with the class that carries it (docs/errors.md lists
 * them; a test fails when the two disagree).
 *
 * @example
 * STORAGE_ERROR_CODES.store_unavailable; // 'StorageUnavailableError'
 */
export const STORAGE_ERROR_CODES = Object.freeze({
  credential_integrity_error: 'StorageIntegrityError',
  seller_owned_by_other_user: 'SellerOwnershipError',
  seller_already_connected: 'SellerExistsError',
  refresh_token_in_use: 'RefreshTokenInUseError',
  invalid_encryption_keys: 'KeyRingError',
  store_unavailable: 'StorageUnavailableError',
  invalid_database_url: 'StorageError',
  migration_failed: 'StorageError',
  storage_driver_missing: 'StorageDriverMissingError',
} as const);

/** Every code a storage error can carry. */
export type StorageErrorCode = keyof typeof STORAGE_ERROR_CODES;

/**
 * Base class of the storage errors; `switch (err.code)` narrows.
 *
 * @example
 * ```ts
 * try { await store.loadTokens(key); } catch (err) {
 *   if (err instanceof StorageError && err.code === 'credential_integrity_error') alarm();
 * }
 * ```
 */
export class StorageError extends Error {
  override name = 'StorageError';
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A sealed value failed authentication (tampered, copied from another row, truncated, or sealed
 * with a key id the ring does not have). The value is never returned nor sent to Amazon.
 *
 * @example
 * ```ts
 * if (err instanceof StorageIntegrityError) return errorResponse(err.code);
 * ```
 */
export class StorageIntegrityError extends StorageError {
  override name = 'StorageIntegrityError';
  constructor(message: string) {
    super('credential_integrity_error', message);
  }
}

/**
 * The seller is already linked to another user_ref and re-linking is not allowed (HTTP 409).
 *
 * @example
 * ```ts
 * if (err instanceof SellerOwnershipError) return errorResponse(err.code);
 * ```
 */
export class SellerOwnershipError extends StorageError {
  override name = 'SellerOwnershipError';
  constructor() {
    super('seller_owned_by_other_user', 'This selling partner is already linked to another user.');
  }
}

/**
 * The seller is already connected and this authorization may not replace its token: its
 * transaction named no seller, or carried no owner (HTTP 409). A re-authorization goes through a
 * connect session that names the seller, or the Appstore sign-in hop.
 *
 * @example
 * ```ts
 * if (err instanceof SellerExistsError) return errorResponse(err.code);
 * ```
 */
export class SellerExistsError extends StorageError {
  override name = 'SellerExistsError';
  constructor() {
    super('seller_already_connected', 'This selling partner is already connected.');
  }
}

/**
 * The refresh token is already stored for another selling partner id (an authorization saved with
 * `exclusiveRefreshToken`): one grant belongs to one seller, so nothing is written (HTTP 409).
 *
 * @example
 * ```ts
 * if (err instanceof RefreshTokenInUseError) report(line, err.code);
 * ```
 */
export class RefreshTokenInUseError extends StorageError {
  override name = 'RefreshTokenInUseError';
  constructor() {
    super('refresh_token_in_use', 'This refresh token is already stored for another selling partner.');
  }
}

/**
 * The key ring setting is malformed. The message names the variable, never its value.
 *
 * @example
 * ```ts
 * try { parseKeyRing(value); } catch (err) { if (err instanceof KeyRingError) exit(err.message); }
 * ```
 */
export class KeyRingError extends StorageError {
  override name = 'KeyRingError';
  constructor(message: string) {
    super('invalid_encryption_keys', message);
  }
}

/**
 * The database could not be reached, or a database URL is not understood.
 *
 * @example
 * ```ts
 * if (err instanceof StorageUnavailableError) return errorResponse(err.code);
 * ```
 */
export class StorageUnavailableError extends StorageError {
  override name = 'StorageUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, options);
  }
}

/** The database drivers, optional peer dependencies of spapi-auth, with the major version it supports. */
export const STORAGE_DRIVERS = Object.freeze({
  'better-sqlite3': { engine: 'SQLite', major: 12 },
  pg: { engine: 'PostgreSQL', major: 8 },
} as const);

/** A database driver package spapi-auth can load. */
export type StorageDriver = keyof typeof STORAGE_DRIVERS;

/**
 * The store for `DATABASE_URL` needs a database driver that is not installed (`better-sqlite3` for
 * SQLite and `memory:`, `pg` for PostgreSQL): they are optional so that library users install
 * nothing native. The message names the package and the command that installs it — or, when
 * better-sqlite3 is installed but its native addon was not built for this Node.js (installed with
 * `--ignore-scripts`, or Node upgraded since), the command that rebuilds it.
 *
 * @example
 * ```ts
 * if (err instanceof StorageDriverMissingError) console.error(`run: ${err.installCommand}`);
 * ```
 */
export class StorageDriverMissingError extends StorageError {
  override name = 'StorageDriverMissingError';
  /** The missing package. */
  readonly driver: StorageDriver;
  /** The command that installs it, e.g. `npm install better-sqlite3@12` (or `npm rebuild …`). */
  readonly installCommand: string;
  constructor(driver: StorageDriver, options?: { cause?: unknown; notBuilt?: boolean }) {
    const { engine, major } = STORAGE_DRIVERS[driver];
    const installCommand = options?.notBuilt ? `npm rebuild ${driver}` : `npm install ${driver}@${major}`;
    super(
      'storage_driver_missing',
      options?.notBuilt
        ? `The ${engine} store needs the native addon of ${driver}, which is not built for this Node.js: ${installCommand}`
        : `The ${engine} store needs the ${driver} package, which is not installed: ${installCommand}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.driver = driver;
    this.installCommand = installCommand;
  }
}
