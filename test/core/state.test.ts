import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  base64url,
  createPkce,
  createState,
  hashState,
  pkceChallenge,
  timingSafeEqual,
  verifyState,
} from '../../src/core/state.js';

test('state: 32 random bytes base64url, stored as a SHA-256 hash, compared in constant time', async () => {
  const a = createState();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, createState());
  assert.equal(await hashState('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  assert.ok(await verifyState(a, await hashState(a)));
  assert.equal(await verifyState(a + 'x', await hashState(a)), false);
  assert.ok(timingSafeEqual('abc', 'abc'));
  assert.equal(timingSafeEqual('abc', 'abd'), false);
  assert.equal(timingSafeEqual('abc', 'abcd'), false);
  assert.equal(timingSafeEqual('', 'a'), false);
  for (let n = 0; n < 40; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    assert.equal(base64url(bytes), Buffer.from(bytes).toString('base64url'));
  }
});

test('PKCE S256 (RFC 7636 appendix B vector)', async () => {
  assert.equal(
    await pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  );
  const p = await createPkce();
  assert.match(p.codeVerifier, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(p.codeChallenge, await pkceChallenge(p.codeVerifier));
  assert.equal(p.codeChallengeMethod, 'S256');
});
