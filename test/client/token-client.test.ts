// The token client (`spapi-auth/client`) against the service in-process (its `fetch` is the app's),
// on one injected clock shared with the service and the emulator; and against scripted answers for
// the retry rules. Token API requests are counted at the injected fetch, LWA calls at the emulator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TOKEN_API_ERROR_CODES,
  TokenApiError,
  createTokenClient,
  isReauthorizationRequired,
  type FetchLike,
  type TokenClient,
} from '../../src/client/index.js';
import { connectSeller, makeService, type TestService } from '../helpers/service.js';

const SELLER = 'A1EMUSELLERNA01';
const BASE = 'http://localhost:3000';

interface Rig {
  readonly svc: TestService;
  /** Token API requests the client sent, by path. */
  readonly requests: string[];
  readonly fetch: FetchLike;
  advance(ms: number): void;
  now(): number;
}

async function service(): Promise<Rig> {
  let offset = 0;
  const now = () => Date.now() + offset;
  const svc = await makeService({ SPAPI_AUTH_KEY_RATE_LIMIT: '0' }, { now });
  await connectSeller(svc);
  const requests: string[] = [];
  const fetch: FetchLike = (request) => {
    requests.push(new URL(request.url).pathname);
    return svc.app.fetch(request);
  };
  return { svc, requests, fetch, now, advance: (ms) => (offset += ms) };
}

/** Runs `fn` with a service and a client of it (the service's API key, its fetch and clock). */
async function withClient(fn: (rig: Rig, client: TokenClient) => Promise<void>): Promise<void> {
  const rig = await service();
  try {
    await fn(
      rig,
      createTokenClient({ baseUrl: BASE, apiKey: rig.svc.apiKey, fetch: rig.fetch, now: rig.now }),
    );
  } finally {
    await rig.svc.close();
  }
}

test('1,000 concurrent getAccessToken → 1 token API request; cached until expires_at minus the margin, then 1 more', async () => {
  await withClient(async (rig, client) => {
    const lwaBefore = await rig.svc.lwaCalls('refresh_token');
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => client.getAccessToken(SELLER)));
    assert.equal(rig.requests.length, 1);
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
    assert.equal(tokens[0]!.region, 'na');
    assert.match(tokens[0]!.endpoint, /sellingpartnerapi-na\.amazon\.com/);
    assert.ok(tokens[0]!.expiresAt > rig.now());
    // Within its lifetime: no request, however many calls.
    await Promise.all(Array.from({ length: 1000 }, () => client.getAccessToken(SELLER)));
    assert.equal(rig.requests.length, 1);
    // Past expires_at minus 60 s: one request for all callers (the service refreshed meanwhile: 1 LWA call).
    rig.advance(tokens[0]!.expiresAt - rig.now() - 59_000);
    const next = await Promise.all(Array.from({ length: 1000 }, () => client.getAccessToken(SELLER, 'na')));
    assert.equal(rig.requests.length, 2);
    assert.notEqual(next[0]!.accessToken, tokens[0]!.accessToken);
    assert.equal((await rig.svc.lwaCalls('refresh_token')) - lwaBefore, 1);
    // The key form (what the SDK adapters pass) is the same cache.
    assert.equal(
      (await client.getAccessToken({ sellingPartnerId: SELLER, region: 'na' })).accessToken,
      next[0]!.accessToken,
    );
    assert.equal(rig.requests.length, 2);
  });
});

test('grantless and restricted data tokens, cached; sellers listed and shown as the service sends them', async () => {
  await withClient(async (rig, client) => {
    const [g1, g2] = await Promise.all([
      client.getGrantlessToken('sellingpartnerapi::notifications'),
      client.getGrantlessToken('sellingpartnerapi::notifications'),
    ]);
    assert.equal(g1.accessToken, g2.accessToken);
    assert.match(g1.accessToken, /^Atc\|/);
    const request = {
      restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo'] }],
    } as const;
    const r1 = await client.getRestrictedDataToken(SELLER, request);
    const r2 = await client.getRestrictedDataToken(SELLER, request);
    assert.equal(r1.restrictedDataToken, r2.restrictedDataToken);
    assert.ok(r1.expiresAt > rig.now());
    const page = await client.listSellers({ limit: 10, status: 'active' });
    assert.deepEqual(
      page.items.map((s) => [s.selling_partner_id, s.region, s.status]),
      [[SELLER, 'na', 'active']],
    );
    assert.equal(page.next_cursor, null);
    const seller = await client.getSeller(SELLER);
    assert.deepEqual(seller.regions, ['na']);
    assert.ok(seller.authorizations[0]!.marketplaces!.some((m) => m.country === 'US'));
    assert.deepEqual(rig.requests, [
      '/v1/grantless-tokens',
      `/v1/sellers/${SELLER}/restricted-data-tokens`,
      '/v1/sellers',
      `/v1/sellers/${SELLER}`,
    ]);
  });
});

test("the service's codes as typed errors: unknown seller, revoked seller, bad key — each asked once, no retry", async () => {
  await withClient(async (rig, client) => {
    await assert.rejects(client.getAccessToken('A1NOSUCHSELLER'), (e: unknown) => {
      assert.ok(e instanceof TokenApiError);
      assert.equal(e.code, 'seller_not_found');
      assert.equal(e.status, 404);
      assert.equal(e.retryable, false);
      return true;
    });
    await rig.svc.emulator.control.revoke(SELLER);
    rig.advance(2 * 60 * 60 * 1000); // past the service's token: its next refresh meets invalid_grant
    rig.requests.length = 0;
    const errors = await Promise.allSettled(
      Array.from({ length: 1000 }, () => client.getAccessToken(SELLER)),
    );
    assert.equal(rig.requests.length, 1, 'one request for 1,000 callers');
    for (const r of errors) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason as TokenApiError;
      assert.equal(e.code, 'seller_reauthorization_required');
      assert.equal(e.status, 409);
      assert.ok(isReauthorizationRequired(e));
    }
    const bad = createTokenClient({ baseUrl: BASE, apiKey: 'spk_not_a_key', fetch: rig.fetch });
    rig.requests.length = 0;
    await assert.rejects(bad.getAccessToken(SELLER), {
      name: 'TokenApiError',
      code: 'unauthorized',
      status: 401,
    });
    assert.equal(rig.requests.length, 1);
  });
});

/** A fetch that answers from a script, recording each request's headers. */
function scripted(...answers: Array<() => Response | Promise<Response>>): FetchLike & { calls: Request[] } {
  const calls: Request[] = [];
  const f = async (request: Request) => {
    calls.push(request);
    const next = answers.shift();
    if (next === undefined) throw new Error('no more scripted answers');
    return next();
  };
  return Object.assign(f, { calls });
}
const error =
  (status: number, code: string, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify({ error: { code, message: 'm' } }), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    });
const token = () => () =>
  new Response(
    JSON.stringify({
      access_token: 'Atza|t',
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      region: 'na',
      endpoint: 'https://sellingpartnerapi-na.amazon.com',
    }),
    { headers: { 'content-type': 'application/json' } },
  );

test('Retry-After is honoured (429, 503), within the time budget; a longer one is returned at once with its delay', async () => {
  const sleeps: number[] = [];
  const sleep = async (ms: number) => void sleeps.push(ms);
  const f = scripted(
    error(429, 'rate_limited', { 'retry-after': '2' }),
    error(503, 'store_unavailable', { 'retry-after': '1' }),
    token(),
  );
  const client = createTokenClient({ baseUrl: BASE, apiKey: 'spk_x', fetch: f, sleep });
  assert.equal((await client.getAccessToken(SELLER)).accessToken, 'Atza|t');
  assert.deepEqual(sleeps, [2000, 1000]);
  assert.equal(f.calls.length, 3);

  const g = scripted(error(503, 'upstream_unavailable', { 'retry-after': '30' }));
  const waiting = createTokenClient({ baseUrl: BASE, apiKey: 'spk_x', fetch: g, sleep });
  await assert.rejects(waiting.getAccessToken(SELLER), {
    code: 'upstream_unavailable',
    status: 503,
    retryAfterMs: 30_000,
  });
  assert.equal(g.calls.length, 1, 'a 30 s Retry-After does not fit in the 20 s budget: no wait, no retry');
});

test('5xx and network errors: full-jitter backoff, 3 attempts in all; the last error is thrown', async () => {
  const sleeps: number[] = [];
  const opts = {
    baseUrl: BASE,
    apiKey: 'spk_x',
    sleep: async (ms: number) => void sleeps.push(ms),
    random: () => 0.5,
  };
  const f = scripted(error(500, 'internal_error'), error(502, 'upstream_request_failed'));
  // upstream_request_failed (the Tokens API refused the request) is not retried.
  await assert.rejects(createTokenClient({ ...opts, fetch: f }).getAccessToken(SELLER), {
    code: 'upstream_request_failed',
  });
  assert.equal(f.calls.length, 2);
  assert.deepEqual(sleeps, [100]);

  sleeps.length = 0;
  const down = () => Promise.reject(new TypeError('fetch failed'));
  const g = scripted(down, down, down, down);
  await assert.rejects(createTokenClient({ ...opts, fetch: g }).getAccessToken(SELLER), {
    code: 'network_error',
    status: 0,
  });
  assert.equal(g.calls.length, 3);
  assert.deepEqual(sleeps, [100, 200], 'random(0, 200·2^n) with random = 0.5');

  const proxy = scripted(() => new Response('<html>Bad gateway</html>', { status: 502 }), token());
  assert.equal(
    (await createTokenClient({ ...opts, fetch: proxy }).getAccessToken(SELLER)).accessToken,
    'Atza|t',
  );
  assert.equal(proxy.calls.length, 2, "a proxy's 502 page is retried");
});

test('no API key or token in any error, whatever the answer holds; the key only in the Authorization header', async () => {
  const KEY = 'spk_KEYCANARY0000000000';
  const echo = (status: number) => () =>
    new Response(
      JSON.stringify({ error: { code: `Atza|TOKENCANARY ${KEY}`, message: `Atza|TOKENCANARY ${KEY}` } }),
      { status, headers: { 'x-echo': KEY } },
    );
  const f = scripted(
    echo(400),
    () => new Response(JSON.stringify({ access_token: 'Atza|TOKENCANARY', expires_at: 'soon' })),
    () => Promise.reject(Object.assign(new TypeError(`connect failed ${KEY}`), { cause: KEY })),
  );
  const client = createTokenClient({ baseUrl: BASE, apiKey: KEY, fetch: f, retry: { maxAttempts: 1 } });
  const errors: unknown[] = [];
  for (let i = 0; i < 3; i++) await client.getAccessToken(SELLER).catch((e) => errors.push(e));
  assert.equal(errors.length, 3);
  assert.deepEqual(
    errors.map((e) => (e as TokenApiError).code),
    ['invalid_response', 'invalid_response', 'network_error'],
  );
  const text = errors
    .map((e) => `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack} ${String((e as Error).cause)}`)
    .join('\n');
  assert.doesNotMatch(text, /CANARY/);
  for (const r of f.calls) {
    assert.equal(r.headers.get('authorization'), `Bearer ${KEY}`);
    assert.doesNotMatch(r.url, /CANARY/);
  }
});

test('bad options are TypeErrors; the code list holds the client’s own codes', () => {
  assert.throws(() => createTokenClient({ baseUrl: BASE, apiKey: '' }), TypeError);
  assert.throws(() => createTokenClient({ baseUrl: 'ftp://x', apiKey: 'k' }), TypeError);
  for (const c of ['network_error', 'timeout', 'invalid_response'] as const)
    assert.ok(TOKEN_API_ERROR_CODES.includes(c));
});
