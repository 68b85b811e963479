import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import {
  buildAuthorizationCodeRequest,
  buildGrantlessRequest,
  buildRefreshTokenRequest,
  exchangeAuthorizationCode,
  getGrantlessToken,
  processAuthorizationCodeResponse,
  processGrantlessResponse,
  processRefreshTokenResponse,
  refreshAccessToken,
} from '../../src/core/lwa.js';
import { AuthorizationError, LwaError, SpapiAuthError } from '../../src/core/errors.js';

const SECRET = 'SECRET-client-secret-MARKER';
const REFRESH = 'Atzr|REFRESH+MARKER&x=y%z';
const ACCESS = 'Atza|ACCESS-MARKER';
const CREDS = { clientId: 'amzn1.application-oa2-client.test', clientSecret: SECRET };
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
  });
const ok = (extra: object = {}) =>
  json({ access_token: ACCESS, token_type: 'bearer', expires_in: 3600, refresh_token: REFRESH, ...extra });
const noSleep = async () => {};

function assertNoSecrets(err: unknown) {
  const text = `${String(err)} ${JSON.stringify(err)} ${(err as Error).stack}`;
  for (const m of ['SECRET', 'MARKER', 'Atza', 'Atzr']) assert.ok(!text.includes(m), `error leaks ${m}`);
}

test('build halves: form-encoded bodies round-trip + & = and never follow redirects', async () => {
  const r = buildRefreshTokenRequest({ ...CREDS, refreshToken: REFRESH });
  assert.equal(r.method, 'POST');
  assert.equal(r.url, 'https://api.amazon.com/auth/o2/token');
  assert.equal(r.redirect, 'manual');
  assert.match(r.headers.get('content-type')!, /^application\/x-www-form-urlencoded/);
  const body = new URLSearchParams(await r.text());
  assert.equal(body.get('refresh_token'), REFRESH);
  assert.equal(body.get('grant_type'), 'refresh_token');
  assert.equal(body.get('client_secret'), SECRET);
  assert.equal(body.has('scope'), false);

  const c = buildAuthorizationCodeRequest(
    { ...CREDS, code: 'AN+code=&', redirectUri: 'https://app.example/cb?a=1', codeVerifier: 'v' },
    { amazonUrl: 'http://127.0.0.1:4010/prefix/' },
  );
  assert.equal(c.url, 'http://127.0.0.1:4010/prefix/auth/o2/token');
  const cb = new URLSearchParams(await c.text());
  assert.equal(cb.get('code'), 'AN+code=&');
  assert.equal(cb.get('redirect_uri'), 'https://app.example/cb?a=1');
  assert.equal(cb.get('code_verifier'), 'v');
  assert.equal(cb.get('grant_type'), 'authorization_code');

  const g = buildGrantlessRequest({ ...CREDS, scope: 'sellingpartnerapi::notifications' });
  const gb = new URLSearchParams(await g.text());
  assert.equal(gb.get('scope'), 'sellingpartnerapi::notifications');
  assert.equal(gb.has('refresh_token'), false);
  assert.throws(() => buildRefreshTokenRequest({ ...CREDS, refreshToken: '' }), TypeError);
  assert.throws(() => buildGrantlessRequest({ ...CREDS, scope: 's' }, { amazonUrl: 'ftp://x' }), TypeError);
});

test('process halves accept valid responses (BEARER, numeric-string expires_in, extra fields)', async () => {
  const t = await processAuthorizationCodeResponse(
    ok({ token_type: 'BEARER', expires_in: '3600', extra: 1 }),
  );
  assert.equal(t.accessToken, ACCESS);
  assert.equal(t.refreshToken, REFRESH);
  assert.equal(t.expiresIn, 3600);
  const r = await processRefreshTokenResponse(
    json({ access_token: ACCESS, token_type: 'bearer', expires_in: 60 }),
  );
  assert.equal(r.refreshToken, undefined);
  const g = await processGrantlessResponse(
    json(
      {
        access_token: 'Atc|x',
        token_type: 'bearer',
        expires_in: 3600,
        scope: 'sellingpartnerapi::notifications',
      },
      200,
      { 'x-amzn-RequestId': 'req-1' },
    ),
  );
  assert.equal(g.scope, 'sellingpartnerapi::notifications');
  assert.equal(g.requestId, 'req-1');
});

test('process halves reject malformed token responses as invalid_token_response, without echoing the body', async () => {
  const bad: Array<[string, Response]> = [
    [
      'html 200',
      new Response('<html>ACCESS-MARKER</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    ],
    ['not json', json('{"access_token":"Atza|ACCESS-MARKER"')],
    ['null', json('null')],
    ['array', json('[]')],
    ['no access_token', json({ token_type: 'bearer', expires_in: 3600, refresh_token: REFRESH })],
    ['empty access_token', ok({ access_token: '' })],
    ['mac', ok({ token_type: 'mac' })],
    ['bearer with space', ok({ token_type: 'Bearer ' })],
    ['no token_type', json({ access_token: ACCESS, expires_in: 3600, refresh_token: REFRESH })],
    ['expires -1', ok({ expires_in: -1 })],
    ['expires 0', ok({ expires_in: 0 })],
    ['expires abc', ok({ expires_in: 'abc' })],
    ['expires 1e308', ok({ expires_in: 1e308 })],
    ['expires 1.5', ok({ expires_in: 1.5 })],
    ['expires missing', json({ access_token: ACCESS, token_type: 'bearer', refresh_token: REFRESH })],
    ['refresh null', ok({ refresh_token: null })],
    ['no refresh on code grant', json({ access_token: ACCESS, token_type: 'bearer', expires_in: 3600 })],
    ['3 KB token', ok({ access_token: 'Atza|' + 'a'.repeat(3000) })],
    ['whitespace in token', ok({ access_token: 'Atza|a b' })],
    ['control char', ok({ access_token: 'Atza|a\u0000b' })],
    ['non-ascii', ok({ access_token: 'Atza|é' })],
    ['scope null', ok({ scope: null })],
    [
      '10 MB body',
      json(
        JSON.stringify({
          access_token: ACCESS,
          token_type: 'bearer',
          expires_in: 1,
          pad: 'x'.repeat(10_000_000),
        }),
      ),
    ],
  ];
  for (const [name, res] of bad) {
    await assert.rejects(processAuthorizationCodeResponse(res), (e: unknown) => {
      assert.ok(e instanceof LwaError, name);
      assert.equal(e.code, 'invalid_token_response', name);
      assertNoSecrets(e);
      return true;
    });
  }
});

test('the byte cap counts decoded bytes (gzip bomb) and stops an endless body', async () => {
  const bomb = gzipSync(Buffer.alloc(50_000_000, 0x20));
  assert.ok(bomb.length < 100_000);
  const res = new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(bomb));
        c.close();
      },
    }).pipeThrough(new DecompressionStream('gzip')),
    { status: 200, headers: { 'content-type': 'application/json' } },
  );
  await assert.rejects(processRefreshTokenResponse(res), { code: 'invalid_token_response' });
  let pulled = 0;
  const endless = new Response(
    new ReadableStream({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    }),
    { status: 200, headers: { 'content-type': 'application/json' } },
  );
  await assert.rejects(processRefreshTokenResponse(endless, { maxResponseBytes: 4096 }), {
    code: 'invalid_token_response',
  });
  assert.ok(pulled <= 8, `read ${pulled} chunks`);
});

test('error responses map to typed errors carrying status, LWA error and request id only', async () => {
  const cases: Array<
    [Response, 'code' | 'refresh' | 'grantless', string, abstract new (...a: never[]) => SpapiAuthError]
  > = [
    [
      json(
        {
          error: 'invalid_grant',
          error_description: 'The request has an invalid grant parameter : refresh_token',
          request_id: 'rid-1',
        },
        400,
      ),
      'refresh',
      'reauthorization_required',
      AuthorizationError,
    ],
    [
      json({ error: 'invalid_grant', error_description: 'x' }, 400),
      'code',
      'authorization_code_invalid',
      LwaError,
    ],
    [
      json({ error: 'invalid_client', error_description: 'Client authentication failed' }, 401),
      'refresh',
      'invalid_client',
      LwaError,
    ],
    [json({ error: 'unauthorized_client' }, 400), 'refresh', 'invalid_client', LwaError],
    [json({ error: 'invalid_scope' }, 400), 'grantless', 'invalid_scope', LwaError],
    [json({ error: 'unsupported_grant_type' }, 400), 'refresh', 'invalid_request', LwaError],
    [new Response('not json', { status: 400 }), 'refresh', 'invalid_request', LwaError],
    [new Response('', { status: 404 }), 'refresh', 'invalid_request', LwaError],
    [json({ error: 'invalid_grant' }, 200), 'refresh', 'reauthorization_required', AuthorizationError],
    [json({}, 429, { 'retry-after': '3' }), 'refresh', 'rate_limited', LwaError],
    [new Response('<html>bad gateway</html>', { status: 502 }), 'refresh', 'upstream_unavailable', LwaError],
    [json({ error: 'server_error' }, 500), 'refresh', 'upstream_unavailable', LwaError],
    [
      new Response(null, { status: 307, headers: { location: 'http://127.0.0.2/steal' } }),
      'refresh',
      'unexpected_redirect',
      LwaError,
    ],
  ];
  const proc = {
    code: processAuthorizationCodeResponse,
    refresh: processRefreshTokenResponse,
    grantless: processGrantlessResponse,
  };
  for (const [res, grant, code, Cls] of cases) {
    await assert.rejects(proc[grant](res), (e: unknown) => {
      assert.ok(e instanceof Cls, code);
      assert.equal((e as SpapiAuthError).code, code);
      assert.equal((e as SpapiAuthError).status, res.status);
      assertNoSecrets(e);
      return true;
    });
  }
  const e = await processRefreshTokenResponse(
    json({ error: 'invalid_grant', request_id: 'rid-1' }, 400),
  ).catch((x) => x);
  assert.equal(e.upstreamError, 'invalid_grant');
  assert.equal(e.requestId, 'rid-1');
  const r = await processRefreshTokenResponse(json({}, 429, { 'retry-after': '3' })).catch((x) => x);
  assert.equal(r.retryAfterMs, 3000);
});

function fakeFetch(responses: Array<Response | Error | ((r: Request) => Response | Promise<Response>)>) {
  const seen: Request[] = [];
  const fn = async (r: Request) => {
    seen.push(r);
    const next = responses.shift();
    if (next === undefined) throw new Error('unexpected call');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next(r) : next;
  };
  return Object.assign(fn, { seen });
}

test('joined calls: expiresAt from the time before the request; retries 5xx/429/network, bounded', async () => {
  let t = 1_000_000;
  const f = fakeFetch([
    new Response('', { status: 503 }),
    new TypeError('fetch failed'),
    (_r) => {
      t += 500;
      return ok();
    },
  ]);
  const sleeps: number[] = [];
  const res = await refreshAccessToken(CREDS, REFRESH, {
    fetch: f,
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  assert.equal(f.seen.length, 3);
  assert.equal(res.expiresAt, 1_000_000 + 3_600_000);
  assert.equal(res.clientSecretUsed, 'current');
  assert.deepEqual(sleeps, [100, 200]);

  const always = fakeFetch(Array.from({ length: 10 }, () => new Response('', { status: 500 })));
  await assert.rejects(refreshAccessToken(CREDS, REFRESH, { fetch: always, sleep: noSleep }), {
    code: 'upstream_unavailable',
  });
  assert.equal(always.seen.length, 3);

  const throttled = fakeFetch([json({}, 429, { 'retry-after': '2' }), ok()]);
  const waits: number[] = [];
  await refreshAccessToken(CREDS, REFRESH, {
    fetch: throttled,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  assert.deepEqual(waits, [2000]);

  const longWait = fakeFetch([json({}, 429, { 'retry-after': '60' }), ok()]);
  await assert.rejects(refreshAccessToken(CREDS, REFRESH, { fetch: longWait, sleep: noSleep }), {
    code: 'rate_limited',
    retryAfterMs: 60_000,
  });
  assert.equal(longWait.seen.length, 1, 'a Retry-After beyond the total budget is not waited for');

  const grant = fakeFetch([json({ error: 'invalid_grant' }, 400), ok()]);
  await assert.rejects(refreshAccessToken(CREDS, REFRESH, { fetch: grant, sleep: noSleep }), {
    code: 'reauthorization_required',
  });
  assert.equal(grant.seen.length, 1, 'invalid_grant is never retried');

  const code = fakeFetch(Array.from({ length: 5 }, () => new TypeError('reset')));
  await assert.rejects(exchangeAuthorizationCode(CREDS, { code: 'c' }, { fetch: code, sleep: noSleep }), {
    code: 'upstream_unavailable',
  });
  assert.equal(code.seen.length, 2, 'the code exchange retries at most once');
});

test('timeouts abort a hanging LWA and count as upstream_unavailable', async () => {
  // AbortSignal.timeout's timer does not keep the event loop alive; a real socket would.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    const hang = async (r: Request) =>
      new Promise<Response>((_, reject) => r.signal.addEventListener('abort', () => reject(r.signal.reason)));
    await assert.rejects(
      refreshAccessToken(CREDS, REFRESH, {
        fetch: hang,
        sleep: noSleep,
        retry: { timeoutMs: 20, maxAttempts: 2 },
      }),
      (e: unknown) => e instanceof LwaError && e.code === 'upstream_unavailable',
    );
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    await assert.rejects(
      refreshAccessToken(CREDS, REFRESH, { fetch: hang, signal: controller.signal }),
      /caller gave up/,
    );
  } finally {
    clearInterval(keepAlive);
  }
});

test('two client secrets: invalid_client on the first tries the second once and reports it', async () => {
  const creds = { ...CREDS, clientSecretNext: 'SECRET-next' };
  const f = fakeFetch([json({ error: 'invalid_client' }, 401), ok()]);
  const res = await getGrantlessToken(creds, 'sellingpartnerapi::notifications', {
    fetch: f,
    sleep: noSleep,
  });
  assert.equal(res.clientSecretUsed, 'next');
  assert.equal(new URLSearchParams(await f.seen[1]!.text()).get('client_secret'), 'SECRET-next');
  const both = fakeFetch([
    json({ error: 'invalid_client' }, 401),
    json({ error: 'invalid_client' }, 401),
    ok(),
  ]);
  await assert.rejects(refreshAccessToken(creds, REFRESH, { fetch: both, sleep: noSleep }), {
    code: 'invalid_client',
  });
  assert.equal(both.seen.length, 2);
  const one = fakeFetch([json({ error: 'invalid_client' }, 401), ok()]);
  await assert.rejects(refreshAccessToken(CREDS, REFRESH, { fetch: one, sleep: noSleep }), {
    code: 'invalid_client',
  });
  assert.equal(one.seen.length, 1);
});

test('a bad argument to a joined call is the caller’s TypeError: no request, no retry, not upstream_unavailable', async () => {
  const f = fakeFetch([]);
  await assert.rejects(getGrantlessToken(CREDS, '', { fetch: f, sleep: async () => {} }), {
    name: 'TypeError',
    message: 'scope must be a non-empty string',
  });
  await assert.rejects(refreshAccessToken(CREDS, '', { fetch: f, sleep: async () => {} }), TypeError);
  assert.equal(f.seen.length, 0);
});
