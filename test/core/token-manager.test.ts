import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryTokenVault } from '../../src/core/memory-vault.js';
import {
  createTokenManager,
  type TokenEvent,
  type TokenManagerOptions,
} from '../../src/core/token-manager.js';
import type { SellerTokenKey, TokenVault } from '../../src/core/token-vault.js';
import { createLwaThrottle } from '../../src/core/lwa-guard.js';

const KEY: SellerTokenKey = { sellingPartnerId: 'A1SELLER', region: 'na' };
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** A fake LWA + Tokens API: scripted outcomes, counted calls. */
function fakeAmazon(opts: { expiresIn?: number; delayMs?: number } = {}) {
  const calls = { refresh_token: 0, client_credentials: 0, rdt: 0, secrets: [] as string[] };
  let n = 0;
  const script: Array<Response | Error> = [];
  const fetch = async (r: Request): Promise<Response> => {
    if (r.url.endsWith('/tokens/2021-03-01/restrictedDataToken')) {
      calls.rdt++;
      return json({ restrictedDataToken: `Atz.sprdt|${calls.rdt}`, expiresIn: 3600 });
    }
    const form = new URLSearchParams(await r.text());
    const grant = form.get('grant_type') as 'refresh_token' | 'client_credentials';
    calls[grant]++;
    calls.secrets.push(form.get('client_secret')!);
    if (opts.delayMs) await new Promise((res) => setTimeout(res, opts.delayMs));
    const next = script.shift();
    if (next instanceof Error) throw next;
    if (next) return next;
    return json({
      access_token: `Atza|token-${++n}`,
      token_type: 'bearer',
      expires_in: opts.expiresIn ?? 3600,
    });
  };
  return { fetch, calls, script };
}

function setup(over: Partial<TokenManagerOptions> = {}, amazon = fakeAmazon()) {
  const clock = { t: 1_000_000_000 };
  const vault = createMemoryTokenVault({ now: () => clock.t });
  vault.put(KEY, 'Atzr|refresh+token&=');
  const events: TokenEvent[] = [];
  const tokens = createTokenManager({
    credentials: { clientId: 'cid', clientSecret: 'SECRET-1' },
    vault,
    fetch: amazon.fetch,
    now: () => clock.t,
    sleep: async () => {},
    random: () => 0,
    onEvent: (e) => events.push(e),
    ...over,
  });
  return { clock, vault, tokens, amazon, events };
}

test('cache hits make no LWA call and allocate nothing new (same promise each time)', async () => {
  const { tokens, amazon, events } = setup();
  const a = await tokens.getAccessToken(KEY);
  assert.equal(a.accessToken, 'Atza|token-1');
  assert.equal(a.expiresAt, 1_000_000_000 + 3_600_000);
  const p1 = tokens.getAccessToken(KEY);
  const p2 = tokens.getAccessToken(KEY);
  assert.equal(p1, p2);
  assert.equal(await p1, a);
  assert.equal(amazon.calls.refresh_token, 1);
  const hits = events.filter((e) => e.type === 'cache_hit');
  assert.equal(hits.length, 2);
  assert.equal(hits[0], hits[1]);
  assert.deepEqual(events.find((e) => e.type === 'refresh')?.key, KEY);
});

test('expiry boundaries: 1 ms before the margin is a hit, at/after it a refresh (margin ≤ a fifth of the lifetime)', async () => {
  for (const [expiresIn, marginMs] of [
    [3600, 300_000],
    [10, 2_000],
  ] as const) {
    const { tokens, amazon, clock } = setup({}, fakeAmazon({ expiresIn }));
    const start = clock.t;
    await tokens.getAccessToken(KEY);
    const refreshAt = start + expiresIn * 1000 - marginMs;
    clock.t = refreshAt - 1;
    await tokens.getAccessToken(KEY);
    assert.equal(amazon.calls.refresh_token, 1, `${expiresIn}s: 1 ms before`);
    clock.t = refreshAt + 1;
    const t = await tokens.getAccessToken(KEY);
    assert.equal(amazon.calls.refresh_token, 2, `${expiresIn}s: 1 ms after`);
    assert.equal(t.accessToken, 'Atza|token-2');
  }
  // Jitter adds up to a minute: random() = 0.5 → 5.5 minutes.
  const { tokens, amazon, clock } = setup({ random: () => 0.5 });
  await tokens.getAccessToken(KEY);
  clock.t += 3_600_000 - 330_000 - 1;
  await tokens.getAccessToken(KEY);
  assert.equal(amazon.calls.refresh_token, 1);
  clock.t += 2;
  await tokens.getAccessToken(KEY);
  assert.equal(amazon.calls.refresh_token, 2);
});

test('expiresAt is measured from the time before the request', async () => {
  const amazon = fakeAmazon();
  const clock = { t: 5_000 };
  const vault = createMemoryTokenVault({ now: () => clock.t });
  vault.put(KEY, 'r');
  const tokens = createTokenManager({
    credentials: { clientId: 'c', clientSecret: 's' },
    vault,
    now: () => clock.t,
    fetch: async (r) => {
      const res = await amazon.fetch(r);
      clock.t += 700; // the request took 700 ms
      return res;
    },
  });
  assert.equal((await tokens.getAccessToken(KEY)).expiresAt, 5_000 + 3_600_000);
});

test('single-flight: 1,000 concurrent calls on an expired token → 1 LWA call; failures are not sticky', async () => {
  const { tokens, amazon, events } = setup({}, fakeAmazon({ delayMs: 5 }));
  const all = await Promise.all(Array.from({ length: 1000 }, () => tokens.getAccessToken(KEY)));
  assert.equal(amazon.calls.refresh_token, 1);
  assert.ok(all.every((t) => t === all[0]));
  assert.equal(events.filter((e) => e.type === 'single_flight_join').length, 999);

  const s = setup({ retry: { maxAttempts: 1 } });
  s.amazon.script.push(new Response('', { status: 500 }));
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => s.tokens.getAccessToken(KEY)));
  assert.ok(
    results.every(
      (r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'upstream_unavailable',
    ),
  );
  assert.equal(s.amazon.calls.refresh_token, 1);
  assert.equal((await s.tokens.getAccessToken(KEY)).accessToken, 'Atza|token-1');
  assert.equal(s.amazon.calls.refresh_token, 2);
});

test('a caller signal stops only that caller; the shared refresh completes for the others', async () => {
  const { tokens, amazon } = setup({}, fakeAmazon({ delayMs: 20 }));
  const c = new AbortController();
  const a = tokens.getAccessToken(KEY, { signal: c.signal });
  const b = tokens.getAccessToken(KEY);
  c.abort(new Error('gave up'));
  await assert.rejects(a, /gave up/);
  assert.equal((await b).accessToken, 'Atza|token-1');
  assert.equal(amazon.calls.refresh_token, 1);
});

test('invalid_grant marks the seller and stops LWA calls for it', async () => {
  const { tokens, amazon, vault, events, clock } = setup();
  amazon.script.push(json({ error: 'invalid_grant', error_description: 'revoked' }, 400));
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'reauthorization_required' });
  assert.equal(vault.inspect(KEY)?.status, 'reauthorization_required');
  for (let i = 0; i < 100; i++) {
    await assert.rejects(tokens.getAccessToken(KEY), { code: 'reauthorization_required' });
  }
  clock.t += 60_000;
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'reauthorization_required' });
  assert.equal(amazon.calls.refresh_token, 1);
  assert.equal(events.filter((e) => e.type === 'invalid_grant').length, 1);
  // Re-authorization puts a new refresh token: the seller works again.
  vault.put(KEY, 'Atzr|new');
  tokens.forget(KEY);
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|token-1');
  await assert.rejects(tokens.getAccessToken({ sellingPartnerId: 'UNKNOWN', region: 'eu' }), {
    code: 'seller_not_found',
  });
  await assert.rejects(tokens.getAccessToken({ sellingPartnerId: 'A1', region: 'xx' as 'na' }), TypeError);
});

test('invalid_client is our problem: the seller is not marked; the second secret is tried and kept', async () => {
  const { tokens, amazon, vault, events } = setup();
  amazon.script.push(json({ error: 'invalid_client' }, 401));
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'invalid_client' });
  assert.equal(vault.inspect(KEY)?.status, 'active');
  assert.equal(vault.inspect(KEY)?.lastFailure?.code, 'invalid_client');
  assert.ok(events.some((e) => e.type === 'invalid_client'));

  const s = setup({ credentials: { clientId: 'c', clientSecret: 'OLD', clientSecretNext: 'NEW' } });
  s.amazon.script.push(json({ error: 'invalid_client' }, 401));
  await s.tokens.getAccessToken(KEY);
  assert.deepEqual(s.amazon.calls.secrets, ['OLD', 'NEW']);
  assert.equal(s.tokens.clientSecretInUse(), 'next');
  assert.ok(s.events.some((e) => e.type === 'client_secret_switched'));
  await s.tokens.getGrantlessToken('sellingpartnerapi::notifications');
  assert.equal(s.amazon.calls.secrets[2], 'NEW', 'the secret that worked is tried first afterwards');
});

test('live credentials (a rotating secret ring) are read on every call, also after a switch', async () => {
  let ring = { clientId: 'c', clientSecret: 'S1', clientSecretNext: 'S2' as string | undefined };
  const credentials = {
    get clientId() {
      return ring.clientId;
    },
    get clientSecret() {
      return ring.clientSecret;
    },
    get clientSecretNext() {
      return ring.clientSecretNext;
    },
  };
  const s = setup({ credentials });
  s.amazon.script.push(json({ error: 'invalid_client' }, 401));
  await s.tokens.getGrantlessToken('sellingpartnerapi::notifications');
  assert.deepEqual(s.amazon.calls.secrets, ['S1', 'S2']);
  // The ring rotates on: S3 is now the newest, S2 the fallback. The manager must see S3 at once.
  ring = { clientId: 'c', clientSecret: 'S3', clientSecretNext: undefined };
  await s.tokens.getGrantlessToken('sellingpartnerapi::client_credential:rotation');
  assert.equal(s.amazon.calls.secrets[2], 'S3');
});

test('circuit breaker: serves still-valid tokens while LWA fails, fails fast without one, probes after the cooldown', async () => {
  const { tokens, amazon, clock, events } = setup({
    breaker: { failureThreshold: 3, cooldownMs: 120_000 },
    retry: { maxAttempts: 1 },
  });
  const first = await tokens.getAccessToken(KEY);
  for (let i = 0; i < 20; i++) amazon.script.push(new Response('', { status: 503 }));
  clock.t = first.expiresAt - 60_000; // inside the margin, still valid
  for (let i = 0; i < 10; i++) assert.equal(await tokens.getAccessToken(KEY), first);
  assert.equal(amazon.calls.refresh_token, 1 + 3, 'three failures open the breaker; no call after');
  assert.equal(tokens.breakerState().state, 'open');
  assert.ok(events.some((e) => e.type === 'breaker_open'));
  assert.ok(events.some((e) => e.type === 'stale_served'));
  // Without a valid token: fail fast with a Retry-After, no LWA call.
  clock.t = first.expiresAt + 1;
  await assert.rejects(
    tokens.getAccessToken(KEY),
    (e: { code: string; retryAfterMs?: number }) =>
      e.code === 'upstream_unavailable' && (e.retryAfterMs ?? 0) > 0,
  );
  assert.equal(amazon.calls.refresh_token, 4);
  // After the cooldown one probe goes through; success closes the breaker.
  amazon.script.length = 0;
  clock.t += 120_000;
  assert.equal(tokens.breakerState().state, 'half_open');
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|token-2');
  assert.equal(tokens.breakerState().state, 'closed');
});

test('429 with Retry-After: no LWA call by anyone before it passes', async () => {
  const { tokens, amazon, clock } = setup({ retry: { maxAttempts: 1 } });
  amazon.script.push(json({}, 429, { 'retry-after': '3' }));
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'rate_limited' });
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'upstream_unavailable' });
  assert.equal(amazon.calls.refresh_token, 1);
  clock.t += 3_000;
  await tokens.getAccessToken(KEY);
  assert.equal(amazon.calls.refresh_token, 2);
});

/** A fake clock whose sleeps resolve only when the test moves time on. */
function manualClock(start = 1_000_000_000) {
  const clock = { t: start };
  const timers: Array<{ at: number; resolve: () => void }> = [];
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => timers.push({ at: clock.t + ms, resolve }));
  /** Lets every promise chain settle (the fake LWA and the vault answer in microtasks). */
  const settle = () => new Promise((res) => setImmediate(res));
  const advance = async (ms: number) => {
    clock.t += ms;
    for (const due of timers.filter((x) => x.at <= clock.t)) {
      timers.splice(timers.indexOf(due), 1);
      due.resolve();
    }
    await settle();
  };
  return { clock, sleep, settle, advance, timers };
}

test('T-B4: a 429 Retry-After on one seller holds back every LWA call while that call still retries', async () => {
  const KEY_B: SellerTokenKey = { sellingPartnerId: 'B2SELLER', region: 'na' };
  const m = manualClock();
  const { tokens, amazon, vault } = setup({ now: () => m.clock.t, sleep: m.sleep });
  vault.put(KEY_B, 'Atzr|refresh-b');
  amazon.script.push(json({}, 429, { 'retry-after': '3' }));
  const a = tokens.getAccessToken(KEY);
  await m.settle();
  assert.equal(amazon.calls.refresh_token, 1, "seller A's refresh got the 429 and waits to retry");
  const b = tokens.getAccessToken(KEY_B);
  await m.settle();
  await m.advance(2_999);
  assert.equal(amazon.calls.refresh_token, 1, 'no LWA call by seller B (or A) within Retry-After');
  assert.equal(tokens.breakerState().state, 'open');
  await m.advance(1);
  const [ta, tb] = await Promise.all([a, b]);
  assert.equal(amazon.calls.refresh_token, 3, 'both refresh once the throttle has passed');
  assert.notEqual(ta.accessToken, tb.accessToken);
  assert.equal(tokens.breakerState().state, 'closed');
});

test('T-B4: while throttled, a caller holding a still-valid token gets it at once; grantless waits too', async () => {
  const m = manualClock();
  const { tokens, amazon } = setup({ now: () => m.clock.t, sleep: m.sleep, retry: { maxAttempts: 1 } });
  const first = await tokens.getAccessToken(KEY);
  m.clock.t = first.expiresAt - 60_000; // inside the margin, still valid
  amazon.script.push(json({}, 429, { 'retry-after': '3' }));
  assert.equal(await tokens.getAccessToken(KEY), first, 'the 429 ends in the still-valid token');
  assert.equal(await tokens.getAccessToken(KEY), first, 'served from memory, no LWA call');
  assert.equal(amazon.calls.refresh_token, 2);
  const g = tokens.getGrantlessToken('sellingpartnerapi::notifications');
  await m.advance(2_999);
  assert.equal(amazon.calls.client_credentials, 0, 'the grantless call waits for the throttle');
  await m.advance(1);
  assert.match((await g).accessToken, /^Atza\|token-/);
  assert.equal(amazon.calls.client_credentials, 1);
});

test('lease held by another instance: wait, re-load, use its token (no LWA call)', async () => {
  const { tokens, amazon, vault, events, clock } = setup();
  const lease = await vault.acquireLease(KEY, 15_000);
  assert.ok(lease);
  let polls = 0;
  const waiting = createTokenManager({
    credentials: { clientId: 'c', clientSecret: 's' },
    vault: {
      ...vault,
      load: async (k) => {
        if (++polls === 3)
          await vault.commitRefresh(KEY, lease, {
            accessToken: 'Atza|from-other',
            expiresAt: clock.t + 3_600_000,
          });
        return vault.load(k);
      },
    } as TokenVault,
    fetch: amazon.fetch,
    now: () => clock.t,
    sleep: async () => {},
    onEvent: (e) => events.push(e),
  });
  assert.equal((await waiting.getAccessToken(KEY)).accessToken, 'Atza|from-other');
  assert.equal(amazon.calls.refresh_token, 0);
  assert.ok(events.some((e) => e.type === 'lease_wait'));
  // The first manager finds the shared token in the vault too.
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|from-other');
  assert.equal(amazon.calls.refresh_token, 0);
});

test('another instance refreshes between our load and our lease: its token is used, no second LWA call', async () => {
  const clock = { t: 1_000_000_000 };
  const inner = createMemoryTokenVault({ now: () => clock.t });
  inner.put(KEY, 'Atzr|refresh');
  let raced = false;
  const vault: TokenVault = {
    ...inner,
    load: (k) => inner.load(k),
    acquireLease: async (k, ttl) => {
      if (!raced) {
        raced = true; // the other instance: takes the lease, refreshes, commits and releases
        const theirs = await inner.acquireLease(k, ttl);
        await inner.commitRefresh(k, theirs!, { accessToken: 'Atza|theirs', expiresAt: clock.t + 3_600_000 });
      }
      return inner.acquireLease(k, ttl);
    },
    commitRefresh: (k, l, t) => inner.commitRefresh(k, l, t),
    releaseLease: (k, l, f) => inner.releaseLease(k, l, f),
    markReauthorizationRequired: (k, l, f) => inner.markReauthorizationRequired(k, l, f),
  };
  const amazon = fakeAmazon();
  const { tokens } = setup({ vault, now: () => clock.t }, amazon);
  const t = await tokens.getAccessToken(KEY);
  assert.equal(t.accessToken, 'Atza|theirs');
  assert.equal(amazon.calls.refresh_token, 0);
});

test('a dead lease holder: the lease expires and a waiter takes over', async () => {
  const { tokens, amazon, vault, clock } = setup({ leaseTtlMs: 1_000 });
  await vault.acquireLease(KEY, 1_000);
  const sleepy = createTokenManager({
    credentials: { clientId: 'c', clientSecret: 's' },
    vault,
    fetch: amazon.fetch,
    now: () => clock.t,
    sleep: async (ms) => {
      clock.t += ms;
    },
    leaseTtlMs: 1_000,
  });
  assert.equal((await sleepy.getAccessToken(KEY)).accessToken, 'Atza|token-1');
  assert.equal(amazon.calls.refresh_token, 1);
  void tokens;
});

test("T-C6: a waiter takes over a dead holder's lease right after it expires, with exactly one LWA call", async () => {
  const amazon = fakeAmazon();
  let calledAt = 0;
  // setup's clock drives the vault's lease expiry; sleeping moves it on.
  const { vault, tokens, clock } = setup(
    {
      sleep: async (ms) => {
        clock.t += ms;
      },
      fetch: async (r) => {
        calledAt = clock.t;
        return amazon.fetch(r);
      },
    },
    amazon,
  );
  // The holder took a 5 s lease and died before calling LWA: shorter than the waiter's 12 s
  // wait, so the waiter must take over rather than answer 503 at the end of its wait.
  const dead = await vault.acquireLease(KEY, 5_000);
  assert.ok(dead);
  const t = await tokens.getAccessToken(KEY);
  assert.equal(t.accessToken, 'Atza|token-1');
  assert.equal(amazon.calls.refresh_token, 1);
  assert.ok(calledAt >= dead.expiresAt, 'no LWA call while the dead lease is valid');
  assert.ok(calledAt <= dead.expiresAt + 1_500, `taken over ${calledAt - dead.expiresAt} ms after expiry`);
  assert.deepEqual(await vault.load(KEY).then((s) => s?.accessToken), t);
});

test('T-C6: a lease taken over on a row that changed since the load is released and the row looked at again', async () => {
  const clock = { t: 1_000_000_000 };
  const inner = createMemoryTokenVault({ now: () => clock.t });
  inner.put(KEY, 'Atzr|refresh');
  const dead = await inner.acquireLease(KEY, 2_000);
  let released = 0;
  let loads = 0;
  const vault: TokenVault = {
    ...inner,
    load: async (k) => {
      // Once the dead lease has expired, another instance slips in between the waiter's load and
      // its lease: it refreshes and commits, so the waiter's lease is on a newer row version.
      if (clock.t >= dead!.expiresAt && ++loads === 1) {
        const state = await inner.load(k);
        const theirs = await inner.acquireLease(k, 15_000);
        await inner.commitRefresh(k, theirs!, { accessToken: 'Atza|theirs', expiresAt: clock.t + 3_600_000 });
        return state;
      }
      return inner.load(k);
    },
    acquireLease: (k, ttl) => inner.acquireLease(k, ttl),
    commitRefresh: (k, l, t) => inner.commitRefresh(k, l, t),
    releaseLease: async (k, l, f) => {
      released++;
      return inner.releaseLease(k, l, f);
    },
    markReauthorizationRequired: (k, l, f) => inner.markReauthorizationRequired(k, l, f),
  };
  const amazon = fakeAmazon();
  const { tokens } = setup(
    {
      vault,
      now: () => clock.t,
      sleep: async (ms) => {
        clock.t += ms;
      },
    },
    amazon,
  );
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|theirs');
  assert.equal(amazon.calls.refresh_token, 0);
  assert.equal(released, 1);
});

test('invalidate drops an early-rejected token: the next call refreshes', async () => {
  const { tokens, amazon } = setup();
  const a = await tokens.getAccessToken(KEY);
  await tokens.invalidate(KEY, 'Atza|not-current');
  assert.equal(await tokens.getAccessToken(KEY), a);
  await tokens.invalidate(KEY, a.accessToken);
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|token-2');
  assert.equal(amazon.calls.refresh_token, 2);
});

test('grantless tokens are cached per scope with single-flight', async () => {
  const { tokens, amazon } = setup({}, fakeAmazon({ delayMs: 5 }));
  const scope = 'sellingpartnerapi::notifications';
  const all = await Promise.all(Array.from({ length: 100 }, () => tokens.getGrantlessToken(scope)));
  assert.ok(all.every((t) => t.accessToken === all[0]!.accessToken));
  await tokens.getGrantlessToken(scope);
  assert.equal(amazon.calls.client_credentials, 1);
  await tokens.getGrantlessToken('sellingpartnerapi::client_credential:rotation');
  assert.equal(amazon.calls.client_credentials, 2);
  await assert.rejects(tokens.getGrantlessToken('bad\nscope'), TypeError);
});

test('restricted data tokens are cached per (seller, region, resources, target)', async () => {
  const { tokens, amazon } = setup();
  const req = {
    restrictedResources: [
      { method: 'GET', path: '/orders/v0/orders', dataElements: ['shippingAddress', 'buyerInfo'] },
    ],
  } as const;
  const a = await tokens.getRestrictedDataToken(KEY, req);
  const b = await tokens.getRestrictedDataToken(KEY, {
    restrictedResources: [
      { method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo', 'shippingAddress'] },
    ],
  });
  assert.equal(a, b);
  assert.equal(amazon.calls.rdt, 1);
  await tokens.getRestrictedDataToken(KEY, { ...req, targetApplication: 'amzn1.sp.solution.other' });
  await tokens.getRestrictedDataToken(
    { ...KEY, region: 'na' },
    { restrictedResources: [{ method: 'GET', path: '/orders/v0/orders/1' }] },
  );
  assert.equal(amazon.calls.rdt, 3);
  assert.equal(amazon.calls.refresh_token, 1);
  await assert.rejects(tokens.getRestrictedDataToken(KEY, { restrictedResources: [] }), TypeError);
});

test('property (T-C9): under any interleaving, at most one LWA refresh in flight; success means exactly one', async () => {
  const fc = (await import('fast-check')).default;
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 30 }), fc.boolean(), async (s, k, fail) => {
      let inFlight = 0;
      let maxInFlight = 0;
      let calls = 0;
      const clock = { t: 1_000_000 };
      const vault = createMemoryTokenVault({ now: () => clock.t });
      vault.put(KEY, 'r');
      const tokens = createTokenManager({
        credentials: { clientId: 'c', clientSecret: 's' },
        vault,
        now: () => clock.t,
        sleep: async () => {},
        retry: { maxAttempts: 1 },
        breaker: { failureThreshold: 1_000 }, // the breaker is tested on its own; here, every generation calls
        fetch: async () => {
          calls++;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await s.schedule(Promise.resolve(), 'lwa answers');
          inFlight--;
          return fail
            ? new Response('', { status: 500 })
            : json({ access_token: `Atza|${calls}`, token_type: 'bearer', expires_in: 3600 });
        },
      });
      const all = Array.from({ length: k }, (_, i) =>
        s.schedule(Promise.resolve(), `caller ${i}`).then(() => tokens.getAccessToken(KEY)),
      );
      const results = await s.waitFor(Promise.allSettled(all));
      assert.ok(maxInFlight <= 1);
      if (!fail) {
        assert.equal(calls, 1);
        assert.ok(results.every((r) => r.status === 'fulfilled' && r.value.accessToken === 'Atza|1'));
      } else {
        assert.ok(results.every((r) => r.status === 'rejected'));
        // Not sticky: a new call after the failures makes a new attempt.
        const before = calls;
        await s.waitFor(tokens.getAccessToken(KEY).catch(() => undefined));
        assert.equal(calls, before + 1);
      }
    }),
    { numRuns: 300 },
  );
});

test('peekAccessToken answers synchronously exactly while getAccessToken would answer from memory', async () => {
  const { tokens, amazon, clock, events } = setup();
  assert.equal(tokens.peekAccessToken(KEY), undefined, 'nothing cached yet');
  const start = clock.t;
  const t = await tokens.getAccessToken(KEY);
  const refreshAt = start + 3_600_000 - 300_000;
  clock.t = refreshAt - 1;
  assert.equal(tokens.peekAccessToken(KEY), t, 'the same frozen token, 1 ms before the refresh point');
  assert.equal(events.filter((e) => e.type === 'cache_hit').length, 1, 'a peek counts as a cache hit');
  clock.t = refreshAt;
  assert.equal(tokens.peekAccessToken(KEY), undefined, 'at the refresh point the caller must refresh');
  assert.equal(
    tokens.peekAccessToken({ sellingPartnerId: 'A1SELLER', region: 'constructor' as 'na' }),
    undefined,
  );
  assert.throws(() => tokens.peekAccessToken(null as never), TypeError);
  tokens.forget(KEY);
  clock.t = start;
  assert.equal(tokens.peekAccessToken(KEY), undefined, 'forgotten');
  assert.equal(amazon.calls.refresh_token, 1, 'peeking never calls LWA');
});

test('the app-wide 429 pause is injectable: a pause imposed from outside holds back LWA, one seen here is published', async () => {
  const published: number[] = [];
  const throttle = createLwaThrottle({ onPause: (until) => published.push(until) });
  const { tokens, amazon, clock } = setup({ throttle, retry: { maxAttempts: 1 } });
  throttle.pauseUntil(clock.t + 60_000);
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'upstream_unavailable' });
  assert.equal(amazon.calls.refresh_token, 0, 'no LWA call during a pause another instance imposed');
  assert.equal(tokens.breakerState().state, 'open');
  clock.t += 60_000;
  amazon.script.push(json({}, 429, { 'retry-after': '7' }));
  await assert.rejects(tokens.getAccessToken(KEY), { code: 'rate_limited' });
  assert.equal(published.at(-1), clock.t + 7_000, "this instance's 429 is published to the others");
});
