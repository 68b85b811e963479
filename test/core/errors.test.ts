import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AuthorizationError,
  CallbackError,
  ERROR_CODES,
  LoginRequestError,
  LwaError,
  SpApiError,
  SpapiAuthError,
  StateError,
  isSpapiAuthError,
} from '../../src/core/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| `([A-Za-z]+)` \| (yes|no) \| (.+?) \| (.+?) \|$/gm)];

test('docs/errors.md lists exactly the codes of ERROR_CODES, with the same class and retryability', () => {
  const documented = new Map(
    rows.map((r) => [r[1]!, { cls: r[2]!, retryable: r[3] === 'yes', meaning: r[4]!, remedy: r[5]! }]),
  );
  assert.equal(documented.size, rows.length, 'a code is documented twice');
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const d = documented.get(code)!;
    assert.equal(d.cls, spec.errorClass, `${code}: class`);
    assert.equal(d.retryable, spec.retryable, `${code}: retryable`);
    assert.ok(d.meaning.length > 20 && d.remedy.length > 5, `${code}: meaning and remedy`);
  }
});

test('every class is exported, carries its codes, and serialises without secrets', () => {
  const classes = { CallbackError, StateError, LoginRequestError, LwaError, AuthorizationError, SpApiError };
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const Cls = classes[spec.errorClass] as unknown as new (
      c: string,
      m: string,
      d?: object,
    ) => SpapiAuthError;
    const err = new Cls(code, 'msg', {
      status: 400,
      upstreamError: 'x',
      requestId: 'r1',
      cause: new Error('SECRET-MARKER'),
    });
    assert.ok(err instanceof SpapiAuthError);
    assert.equal(err.name, spec.errorClass);
    assert.equal(err.code, code);
    assert.equal(err.retryable, spec.retryable);
    assert.ok(isSpapiAuthError(err, code as never));
    assert.doesNotMatch(JSON.stringify(err), /SECRET-MARKER/);
  }
  assert.equal(isSpapiAuthError(new Error('x')), false);
});
