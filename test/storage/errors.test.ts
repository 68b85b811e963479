// The storage layer's error codes: documented in docs/errors.md, each carried by its class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  KeyRingError,
  RefreshTokenInUseError,
  STORAGE_ERROR_CODES,
  SellerExistsError,
  SellerOwnershipError,
  StorageDriverMissingError,
  StorageError,
  StorageIntegrityError,
  StorageUnavailableError,
} from '../../src/storage/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| `([A-Za-z]+Error)` \| ([^|]+) \|$/gm)];

test('docs/errors.md lists exactly the codes of STORAGE_ERROR_CODES, with the same class', () => {
  const documented = new Map(rows.map((r) => [r[1]!, { cls: r[2]!, meaning: r[3]! }]));
  assert.equal(documented.size, rows.length, 'a code is documented twice');
  assert.deepEqual([...documented.keys()].sort(), Object.keys(STORAGE_ERROR_CODES).sort());
  for (const [code, cls] of Object.entries(STORAGE_ERROR_CODES)) {
    assert.equal(documented.get(code)!.cls, cls, `${code}: class`);
    assert.ok(documented.get(code)!.meaning.length > 20, `${code}: meaning`);
  }
});

test('each storage error class carries the code the list gives it', () => {
  const made: StorageError[] = [
    new StorageIntegrityError('m'),
    new SellerOwnershipError(),
    new SellerExistsError(),
    new RefreshTokenInUseError(),
    new KeyRingError('m'),
    new StorageUnavailableError('m'),
    new StorageError('invalid_database_url', 'm'),
    new StorageError('migration_failed', 'm'),
    new StorageDriverMissingError('pg'),
  ];
  for (const err of made) {
    assert.ok(err instanceof StorageError);
    assert.equal(err.name, STORAGE_ERROR_CODES[err.code], err.code);
  }
  assert.deepEqual(made.map((e) => e.code).sort(), Object.keys(STORAGE_ERROR_CODES).sort());
});
