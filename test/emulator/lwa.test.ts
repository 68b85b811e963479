// The LWA token endpoint: the three grants, their errors and limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmulator, tokenKey, type EmulatorApplication } from '../../src/emulator/index.js';
import {
  APP,
  REDIRECT,
  SECRET,
  assertLwaError,
  authorize,
  consentCode,
  grantless,
  tokenRequest,
} from './helpers.js';

function clocked(extra: Parameters<typeof createEmulator>[0] = {}) {
  let t = Date.UTC(2026, 5, 1);
  const emulator = createEmulator({ consentMode: 'auto', now: () => t, ...extra });
  return { emulator, fetch: emulator.fetch, advance: (s: number) => (t += s * 1000) };
}

test('code exchange answers Amazon’s success shape and headers', async () => {
  const { fetch } = clocked();
  const { code } = await consentCode(fetch);
  const res = await tokenRequest(fetch, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('pragma'), 'no-cache');
  const body = (await res.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
  assert.match(body.access_token as string, /^Atza\|[A-Za-z0-9_-]{345,}$/);
  assert.match(body.refresh_token as string, /^Atzr\|/);
  assert.equal(body.token_type, 'bearer');
  assert.equal(body.expires_in, 3600);
});

test('a code is single use: the second exchange is invalid_grant', async () => {
  const { fetch } = clocked();
  const { code } = await consentCode(fetch);
  const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
  assert.equal((await tokenRequest(fetch, params)).status, 200);
  const err = await assertLwaError(await tokenRequest(fetch, params), 400, 'invalid_grant');
  assert.equal(err.error_description, 'The request has an invalid grant parameter : code');
});

test('a code expires after 300 s', async () => {
  const { fetch, advance } = clocked();
  const early = await consentCode(fetch);
  const late = await consentCode(fetch);
  advance(299);
  assert.equal(
    (
      await tokenRequest(fetch, {
        grant_type: 'authorization_code',
        code: early.code,
        redirect_uri: REDIRECT,
      })
    ).status,
    200,
  );
  advance(1);
  await assertLwaError(
    await tokenRequest(fetch, { grant_type: 'authorization_code', code: late.code, redirect_uri: REDIRECT }),
    400,
    'invalid_grant',
  );
});

test('a code is bound to its client id and redirect URI', async () => {
  const other: EmulatorApplication = {
    id: 'amzn1.sp.solution.other',
    name: 'Other',
    clientId: 'amzn1.application-oa2-client.other',
    clientSecret: 'other-secret',
    redirectUris: ['https://other.example/cb'],
  };
  const emulator = createEmulator({ consentMode: 'auto', applications: [APP, other] });
  const { fetch } = emulator;
  const a = await consentCode(fetch);
  const stolen = await fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: a.code,
      redirect_uri: REDIRECT,
      client_id: other.clientId,
      client_secret: 'other-secret',
    }),
  });
  await assertLwaError(stolen, 400, 'invalid_grant');

  const b = await consentCode(fetch, { redirect_uri: APP.redirectUris[1]! });
  const wrong = await tokenRequest(fetch, {
    grant_type: 'authorization_code',
    code: b.code,
    redirect_uri: REDIRECT,
  });
  assert.equal(
    (await assertLwaError(wrong, 400, 'invalid_grant')).error_description,
    'The request has an invalid grant parameter : redirect_uri',
  );
  // Omitting redirect_uri at the exchange is accepted, even when the consent named one (Amazon's
  // exchange example omits it; amazon-sp-api's exchange() does too); a wrong one never is.
  const omitted = await tokenRequest(fetch, { grant_type: 'authorization_code', code: b.code });
  assert.equal(omitted.status, 200);
  const c = await consentCode(fetch);
  assert.equal((await tokenRequest(fetch, { grant_type: 'authorization_code', code: c.code })).status, 200);
  const d = await consentCode(fetch);
  await assertLwaError(
    await tokenRequest(fetch, {
      grant_type: 'authorization_code',
      code: d.code,
      redirect_uri: APP.redirectUris[1]!,
    }),
    400,
    'invalid_grant',
  );
});

test('client authentication: body, HTTP Basic, JSON; wrong secret is 401 invalid_client', async () => {
  const { fetch } = clocked();
  const basic = 'Basic ' + Buffer.from(`${APP.clientId}:${SECRET}`).toString('base64');
  const viaBasic = await tokenRequest(
    fetch,
    { grant_type: 'client_credentials', scope: 'sellingpartnerapi::notifications' },
    { noClient: true, headers: { authorization: basic } },
  );
  assert.equal(viaBasic.status, 200);
  const viaJson = await fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      scope: 'sellingpartnerapi::notifications',
      client_id: APP.clientId,
      client_secret: SECRET,
    }),
  });
  assert.equal(viaJson.status, 200);
  const wrong = await tokenRequest(fetch, {
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::notifications',
    client_secret: 'wrong',
  });
  assert.equal(
    (await assertLwaError(wrong, 401, 'invalid_client')).error_description,
    'Client authentication failed',
  );
  const unknown = await tokenRequest(fetch, {
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::notifications',
    client_id: 'nobody',
  });
  await assertLwaError(unknown, 401, 'invalid_client');
  const tooLong = await tokenRequest(fetch, {
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::notifications',
    client_id: 'x'.repeat(101),
  });
  await assertLwaError(tooLong, 401, 'invalid_client');
  const both = await tokenRequest(
    fetch,
    { grant_type: 'client_credentials', scope: 'sellingpartnerapi::notifications' },
    { headers: { authorization: basic } },
  );
  await assertLwaError(both, 400, 'invalid_request');
  const garbled = await tokenRequest(
    fetch,
    { grant_type: 'client_credentials', scope: 'x' },
    { noClient: true, headers: { authorization: 'Basic !!!' } },
  );
  await assertLwaError(garbled, 401, 'invalid_client');
  const noSecret = await tokenRequest(
    fetch,
    { grant_type: 'refresh_token', refresh_token: 'Atzr|x', client_id: APP.clientId },
    { noClient: true },
  );
  await assertLwaError(noSecret, 400, 'invalid_request');
});

test('refresh: the same refresh token comes back, a new access token each time', async () => {
  const { emulator, fetch } = clocked();
  const first = await authorize(fetch);
  const res = await tokenRequest(fetch, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, string>;
  assert.equal(body.refresh_token, first.refresh_token);
  assert.notEqual(body.access_token, first.access_token);
  const stats = await emulator.control.stats();
  assert.equal(stats.refresh_by_seller[first.sellingPartnerId], 1);
  assert.deepEqual(stats.refresh_by_token, { [tokenKey(first.refresh_token)]: 1 });
  assert.ok(!JSON.stringify(stats).includes(first.refresh_token.slice(5, 40)), 'no token in the counters');
  assert.equal(stats.token.refresh_token?.ok, 1);
});

test('refresh after revocation and after the 365-day authorization lapse is invalid_grant', async () => {
  const { emulator, fetch, advance } = clocked();
  const a = await authorize(fetch);
  assert.equal(await emulator.control.revoke(a.sellingPartnerId), 1);
  const revoked = await tokenRequest(fetch, { grant_type: 'refresh_token', refresh_token: a.refresh_token });
  const err = await assertLwaError(revoked, 400, 'invalid_grant');
  assert.equal(
    err.error_description,
    "The request has an invalid grant parameter : refresh_token. User may have revoked or didn't grant the permission.",
  );
  // Re-authorizing gives a new, working token; the revoked one stays dead.
  const b = await authorize(fetch);
  assert.equal(
    (await tokenRequest(fetch, { grant_type: 'refresh_token', refresh_token: b.refresh_token })).status,
    200,
  );
  advance(365 * 86_400);
  await assertLwaError(
    await tokenRequest(fetch, { grant_type: 'refresh_token', refresh_token: b.refresh_token }),
    400,
    'invalid_grant',
  );
  await assertLwaError(
    await tokenRequest(fetch, { grant_type: 'refresh_token', refresh_token: 'Atzr|unknown' }),
    400,
    'invalid_grant',
  );
});

test('client_credentials: the two live scopes, Atc| tokens with scope and no refresh token; migration refused', async () => {
  const { fetch } = clocked();
  for (const scope of [
    'sellingpartnerapi::notifications',
    'sellingpartnerapi::client_credential:rotation',
    'sellingpartnerapi::notifications sellingpartnerapi::client_credential:rotation',
  ]) {
    const res = await tokenRequest(fetch, { grant_type: 'client_credentials', scope });
    assert.equal(res.status, 200, scope);
    const body = (await res.json()) as Record<string, unknown>;
    assert.match(body.access_token as string, /^Atc\|/);
    assert.equal(body.scope, scope);
    assert.equal(body.refresh_token, undefined);
  }
  // A wrong literal, and the scope of the Authorization API removed on 2024-03-27, alone or beside a valid one.
  for (const scope of [
    'SCOPE_MIGRATION_API',
    'sellingpartnerapi::migration',
    'sellingpartnerapi::notifications sellingpartnerapi::migration',
  ]) {
    const bad = await tokenRequest(fetch, { grant_type: 'client_credentials', scope });
    assert.equal(
      (await assertLwaError(bad, 400, 'invalid_scope')).error_description,
      'The request has an invalid parameter : scope',
      scope,
    );
  }
  await assertLwaError(
    await tokenRequest(fetch, { grant_type: 'client_credentials' }),
    400,
    'invalid_request',
  );
});

test('grant types: unknown, missing, or an unread body is unsupported_grant_type', async () => {
  const { fetch } = clocked();
  await assertLwaError(await tokenRequest(fetch, { grant_type: 'password' }), 400, 'unsupported_grant_type');
  await assertLwaError(await tokenRequest(fetch, {}), 400, 'unsupported_grant_type');
  const plain = await fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: 'grant_type=client_credentials',
  });
  await assertLwaError(plain, 400, 'unsupported_grant_type');
});

test('bad requests get LWA’s error shape and status', async () => {
  const { emulator, fetch } = clocked({ maxBodyBytes: 1024 });
  const url = 'https://api.amazon.com/auth/o2/token';
  const get = await fetch(url);
  await assertLwaError(get, 405, 'invalid_request');
  assert.equal(get.headers.get('allow'), 'POST');
  await assertLwaError(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":',
    }),
    400,
    'invalid_request',
  );
  await assertLwaError(
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2]' }),
    400,
    'invalid_request',
  );
  await assertLwaError(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":{"a":1}}',
    }),
    400,
    'invalid_request',
  );
  await assertLwaError(
    await fetch(url, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'x', pad: 'y'.repeat(5000) }),
    }),
    413,
    'invalid_request',
  );
  await assertLwaError(
    await fetch(url, {
      method: 'POST',
      body: 'grant_type=a&grant_type=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
    400,
    'invalid_request',
  );
  await assertLwaError(
    await fetch(url, {
      method: 'POST',
      body: new Uint8Array([0xff, 0xfe, 0x00]),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
    400,
    'invalid_request',
  );
  await assertLwaError(
    await tokenRequest(fetch, { grant_type: 'authorization_code' }),
    400,
    'invalid_request',
  );
  await assertLwaError(await tokenRequest(fetch, { grant_type: 'refresh_token' }), 400, 'invalid_request');
  const stats = await emulator.control.stats();
  assert.equal(stats.requests, 9);
  assert.equal(
    Object.values(stats.token).reduce((n, row) => n + Object.values(row).reduce((a, b) => a + b, 0), 0),
    9,
  );
});

test('PKCE: a consent with code_challenge requires the matching code_verifier', async () => {
  const { fetch } = clocked();
  const verifier = 'v'.repeat(20) + '-._~' + 'A1'.repeat(10);
  const challenge = (await import('node:crypto')).createHash('sha256').update(verifier).digest('base64url');
  const pkce = { code_challenge: challenge, code_challenge_method: 'S256' };
  const missing = await consentCode(fetch, pkce);
  const err = await assertLwaError(
    await tokenRequest(fetch, { grant_type: 'authorization_code', code: missing.code }),
    400,
    'invalid_grant',
  );
  assert.equal(err.error_description, 'The request has an invalid grant parameter : code_verifier');
  const wrong = await consentCode(fetch, pkce);
  await assertLwaError(
    await tokenRequest(fetch, {
      grant_type: 'authorization_code',
      code: wrong.code,
      code_verifier: 'w'.repeat(43),
    }),
    400,
    'invalid_grant',
  );
  const right = await consentCode(fetch, pkce);
  assert.equal(
    (
      await tokenRequest(fetch, {
        grant_type: 'authorization_code',
        code: right.code,
        code_verifier: verifier,
      })
    ).status,
    200,
  );
  const plain = await consentCode(fetch, { code_challenge: verifier });
  assert.equal(
    (
      await tokenRequest(fetch, {
        grant_type: 'authorization_code',
        code: plain.code,
        code_verifier: verifier,
      })
    ).status,
    200,
  );
});

test('options: tokenTtlS, latencyMs (waits, abortable), rotateRefreshTokens', async () => {
  const short = createEmulator({ tokenTtlS: 10 });
  const res = await tokenRequest(short.fetch, {
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::notifications',
  });
  assert.equal(((await res.json()) as { expires_in: number }).expires_in, 10);

  const slow = createEmulator({ latencyMs: 60_000 });
  await assert.rejects(
    slow.fetch('https://api.amazon.com/auth/o2/token', {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'x' }),
      signal: AbortSignal.timeout(20),
    }),
    { name: 'TimeoutError' },
  );

  const rotating = createEmulator({ consentMode: 'auto', rotateRefreshTokens: true });
  const a = await authorize(rotating.fetch);
  const next = (await (
    await tokenRequest(rotating.fetch, { grant_type: 'refresh_token', refresh_token: a.refresh_token })
  ).json()) as { refresh_token: string };
  assert.notEqual(next.refresh_token, a.refresh_token);
  await assertLwaError(
    await tokenRequest(rotating.fetch, { grant_type: 'refresh_token', refresh_token: a.refresh_token }),
    400,
    'invalid_grant',
  );
  assert.equal(
    (await tokenRequest(rotating.fetch, { grant_type: 'refresh_token', refresh_token: next.refresh_token }))
      .status,
    200,
  );
});

test('grantless helper sanity', async () => {
  const { fetch } = clocked();
  assert.match(await grantless(fetch, 'sellingpartnerapi::notifications'), /^Atc\|/);
});
