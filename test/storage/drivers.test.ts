// Loading the optional database drivers: a missing one is a StorageDriverMissingError naming the
// npm command; any other failure passes through unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addonNotBuilt, loadDriver } from '../../src/storage/drivers.js';
import { StorageDriverMissingError, StorageError } from '../../src/storage/index.js';

/** The error Node's ESM loader throws for a package that is not installed. */
function notFound(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from /app/dist/storage/x.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

test('a driver that is not installed is storage_driver_missing, naming the package and the npm command', async () => {
  for (const [driver, command, engine] of [
    ['better-sqlite3', 'npm install better-sqlite3@12', 'SQLite'],
    ['pg', 'npm install pg@8', 'PostgreSQL'],
  ] as const) {
    const cause = notFound(driver);
    await assert.rejects(
      loadDriver(driver, () => Promise.reject(cause)),
      (err: unknown) => {
        assert.ok(err instanceof StorageDriverMissingError);
        assert.ok(err instanceof StorageError);
        assert.equal(err.code, 'storage_driver_missing');
        assert.equal(err.driver, driver);
        assert.equal(err.installCommand, command);
        assert.ok(err.message.includes(command), err.message);
        assert.ok(err.message.includes(engine), err.message);
        assert.equal(err.cause, cause);
        return true;
      },
    );
  }
});

test('a driver that is installed but fails to load is not reported as missing', async () => {
  // pg installed, one of its own dependencies gone: the user must see that, not "install pg".
  const inner = notFound('pg-pool');
  await assert.rejects(
    loadDriver('pg', () => Promise.reject(inner)),
    (err: unknown) => err === inner,
  );
  const broken = new Error('Could not locate the bindings file');
  await assert.rejects(
    loadDriver('better-sqlite3', () => Promise.reject(broken)),
    (err: unknown) => err === broken,
  );
});

test('an installed driver is loaded as it is', async () => {
  const pg = await loadDriver('pg', () => import('pg'));
  assert.equal(typeof pg.default.Pool, 'function');
  const sqlite = await loadDriver('better-sqlite3', () => import('better-sqlite3'));
  assert.equal(typeof sqlite.default, 'function');
});

test('better-sqlite3 installed without its addon built for this Node is storage_driver_missing, asking for a rebuild', () => {
  const messages = [
    'Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node',
    "The module '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 127.",
  ];
  for (const message of messages) {
    const cause = new Error(message);
    const err = addonNotBuilt('better-sqlite3', cause);
    assert.ok(err instanceof StorageDriverMissingError);
    assert.equal(err.code, 'storage_driver_missing');
    assert.equal(err.installCommand, 'npm rebuild better-sqlite3');
    assert.ok(err.message.includes('npm rebuild better-sqlite3'), err.message);
    assert.equal(err.cause, cause);
  }
  assert.equal(
    addonNotBuilt('better-sqlite3', new Error('SQLITE_CANTOPEN: unable to open database file')),
    undefined,
  );
  assert.equal(addonNotBuilt('better-sqlite3', 'not an error'), undefined);
});
