// better-sqlite3 and pg are optional peer dependencies: a library user installs (and compiles)
// neither. The engine that needs one imports it on first use, so that `spapi-auth/storage` and the
// CLI load without them, and a missing one is a StorageDriverMissingError naming the npm command.
import { StorageDriverMissingError } from './errors.js';
import type { StorageDriver } from './errors.js';

/**
 * Runs `load` (a dynamic `import()` of `driver`) and turns "that package is not installed" into a
 * {@link StorageDriverMissingError}; any other failure (a broken install, a missing dependency of
 * the driver itself) is thrown as it is.
 */
export async function loadDriver<T>(driver: StorageDriver, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
    // Node: "Cannot find package 'pg' imported from …" — the package itself, not one it imports.
    if (code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${driver}'`)) {
      throw new StorageDriverMissingError(driver, { cause: err });
    }
    throw err;
  }
}

// better-sqlite3 loads its addon at the first `new Database()`: these are its messages (from the
// `bindings` package, and Node's own for an addon built for another Node ABI).
const ADDON_NOT_BUILT =
  /Could not locate the bindings file|NODE_MODULE_VERSION|compiled against a different Node\.js version/;

/**
 * The {@link StorageDriverMissingError} (`npm rebuild …`) for an error that says the driver's
 * native addon is not built for this Node.js, or undefined for any other error.
 */
export function addonNotBuilt(driver: StorageDriver, err: unknown): StorageDriverMissingError | undefined {
  const message = err instanceof Error ? err.message : '';
  return ADDON_NOT_BUILT.test(message)
    ? new StorageDriverMissingError(driver, { cause: err, notBuilt: true })
    : undefined;
}
