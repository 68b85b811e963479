// The LWA faults against the real thing: `spapi-auth serve` as a process (SQLite), the emulator on
// a port told to misbehave through its control API, every count taken at the emulator. Each case
// uses its own seller whose stored access token has already expired, so its first request refreshes.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Store } from '../../src/storage/store.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import { refreshCalls, testSellers, type ServeProcess } from '../helpers/e2e.js';
import { afterSuite, startFleet, type Fleet } from '../helpers/fleet.js';

const SELLERS = testSellers(12, 'LWAF').map((s) => s.sellingPartnerId);
const canary = createCanary();

let dir: string;
let amazon: RunningEmulator;
let store: Store;
let serve: ServeProcess;
let apiKey: string;
let fleet: Fleet;
const errorBodies: string[] = [];
const outputs: { stdout: string; stderr: string }[] = [];

/**
 * A fresh process: the circuit breaker (5 failures → open for 30 s) is per process, so cases that
 * trip it run in a group of their own.
 */
async function restart(): Promise<void> {
  await serve.stop();
  outputs.push(serve.output());
  serve = await fleet.serve(fleet.ports[0]!);
}

async function token(
  seller: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${serve.url}/v1/sellers/${seller}/access-token`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  const text = await res.text();
  if (res.status !== 200) errorBodies.push(text);
  else canary.add(`access_token ${seller}`, (JSON.parse(text) as { access_token: string }).access_token);
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

/** Resident memory of the serve process in KiB (Linux /proc). */
function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(m![1]);
}

/** A gzip body that inflates to `mib` MiB of zeros (compressed, about 1/1000 of that). */
async function gzipBomb(mib: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => gz.on('end', resolve));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(chunks);
}

describe('LWA faults against a serve process', () => {
  const suite = afterSuite();
  before(async () => {
    fleet = await startFleet(suite, 1, {
      label: 'lwafaults',
      database: 'sqlite',
      sellers: testSellers(12, 'LWAF'),
    });
    ({ amazon, store, apiKey } = fleet);
    serve = fleet.instances[0]!;
    dir = fleet.folder!;
    addRunSecrets(canary, { ...fleet.secrets, apiKey, seeded: fleet.seeded });
    for (const [id, t] of fleet.seeded) canary.add(`seed access_token ${id}`, t.accessToken);
  });

  it('T-B1: LWA 503 twice then 200 → retried (3 refresh calls), the caller gets a token', async () => {
    const before = await refreshCalls(amazon);
    await amazon.emulator.control.fault({
      target: 'token',
      grant_type: 'refresh_token',
      status: 503,
      count: 2,
    });
    const r = await token(SELLERS[0]!);
    assert.equal(r.status, 200);
    assert.match(String(r.body.access_token), /^Atza\|/);
    assert.equal((await refreshCalls(amazon)) - before, 3);
  });

  it('T-B2: LWA 500 on every call while a cached token is valid → callers never see it, no LWA call', async () => {
    // SELLERS[0] now holds a fresh token (T-B1); LWA fails for everything from here.
    await amazon.emulator.control.fault({ target: 'token', status: 500, count: 0 });
    const before = await refreshCalls(amazon);
    const results = await Promise.all(Array.from({ length: 50 }, () => token(SELLERS[0]!)));
    await amazon.emulator.control.clearFaults();
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    assert.equal(new Set(results.map((r) => r.body.access_token)).size, 1);
    assert.equal((await refreshCalls(amazon)) - before, 0);
  });

  it('T-B5, T-B16: LWA hanging and a 1 byte/s body → callers answered after the LWA timeout; nothing stuck', async (t) => {
    await amazon.emulator.control.fault({
      target: 'token',
      grant_type: 'refresh_token',
      hang: true,
      count: 1,
    });
    await amazon.emulator.control.fault({
      target: 'token',
      grant_type: 'refresh_token',
      trickle_ms: 1000,
      count: 1,
    });
    const before = await refreshCalls(amazon);
    const t0 = Date.now();
    const [hung, trickled] = await Promise.all([token(SELLERS[4]!), token(SELLERS[5]!)]);
    // Each first attempt is aborted at the LWA timeout (an LWA that never answers would leave
    // these callers waiting: the answers themselves are the check); the retry gets a normal answer.
    // Counted, not timed: two refresh-grant calls per caller, the aborted one and its retry.
    assert.equal(hung.status, 200);
    assert.equal(trickled.status, 200);
    assert.equal((await refreshCalls(amazon)) - before, 4, 'one retry per aborted attempt, no more');
    t.diagnostic(`both callers answered after ${Date.now() - t0} ms (reported, not asserted)`);
    // Nothing stuck: the single-flight entries and leases are free, a further caller is served at once.
    const again = await token(SELLERS[4]!);
    assert.equal(again.status, 200);
    assert.equal(again.body.access_token, hung.body.access_token);
  });

  it('T-B6: invalid_grant (seller revoked at Amazon) → 409, seller marked, 100 more calls make no LWA call', async () => {
    await amazon.emulator.control.revoke(SELLERS[10]!);
    const r = await token(SELLERS[10]!);
    assert.equal(r.status, 409);
    assert.equal((r.body.error as { code: string }).code, 'seller_reauthorization_required');
    const before = await refreshCalls(amazon);
    const more = await Promise.all(Array.from({ length: 100 }, () => token(SELLERS[10]!)));
    assert.ok(more.every((m) => m.status === 409));
    assert.equal((await refreshCalls(amazon)) - before, 0);
    const seller = await store.getSeller({ sellingPartnerId: SELLERS[10]!, region: 'na' });
    assert.equal(seller?.status, 'reauthorization_required');
  });

  it(
    'T-B4: 429 with Retry-After: 2 → no LWA call by any seller before it passes, then service resumes',
    // The LWA client tells the token manager of the 429 as it arrives (`onThrottle`), and the
    // manager holds back every LWA call app-wide until Retry-After has passed.
    async () => {
      await amazon.emulator.control.fault({
        target: 'token',
        grant_type: 'refresh_token',
        status: 429,
        headers: { 'retry-after': '2', 'content-type': 'application/json' },
        body: { error: 'rate_limited' },
        count: 1,
      });
      const before = await refreshCalls(amazon);
      const first = token(SELLERS[2]!);
      // Once the 429 is out, another seller asks: neither may reach LWA before 2 s have passed.
      let t429 = 0;
      while (t429 === 0) {
        if ((await refreshCalls(amazon)) - before >= 1) t429 = Date.now();
        else await new Promise((res) => setTimeout(res, 10));
      }
      const second = token(SELLERS[3]!);
      let tNext = 0;
      while (Date.now() - t429 < 15_000 && tNext === 0) {
        if ((await refreshCalls(amazon)) - before >= 2) tNext = Date.now();
        else await new Promise((res) => setTimeout(res, 25));
      }
      const results = await Promise.all([first, second]);
      assert.ok(tNext > 0, 'LWA is called again after Retry-After');
      // t429 is seen at most one 10 ms poll late; tNext is never seen early.
      assert.ok(tNext - t429 >= 2000 - 50, `a call ${tNext - t429} ms after the 429`);
      // Both callers are answered: a token once LWA takes calls again, or 503 with Retry-After.
      for (const r of results)
        assert.ok(r.status === 200 || (r.status === 503 && r.headers.get('retry-after')));
      await new Promise((res) => setTimeout(res, 2100));
      assert.equal((await token(SELLERS[3]!)).status, 200);
    },
  );

  it('T-B3: LWA 503 on every call and no valid token → 503 upstream_unavailable + Retry-After; LWA calls bounded', async () => {
    await amazon.emulator.control.fault({
      target: 'token',
      grant_type: 'refresh_token',
      status: 503,
      count: 0,
    });
    const before = await refreshCalls(amazon);
    const first = await token(SELLERS[1]!);
    assert.equal(first.status, 503);
    assert.equal((first.body.error as { code: string }).code, 'upstream_unavailable');
    assert.ok(Number(first.headers.get('retry-after')) >= 1);
    const afterFirst = (await refreshCalls(amazon)) - before;
    assert.ok(afterFirst >= 1 && afterFirst <= 3, `one bounded retry series, got ${afterFirst}`);
    // 20 more callers while LWA stays down: the breaker answers; at most one probe reaches LWA.
    const more = await Promise.all(Array.from({ length: 20 }, () => token(SELLERS[1]!)));
    await amazon.emulator.control.clearFaults();
    assert.ok(more.every((r) => r.status === 503));
    const total = (await refreshCalls(amazon)) - before;
    assert.ok(total <= afterFirst + 3, `breaker bounds LWA calls: ${total}`);
  });

  it('(a fresh process: the breaker of T-B3 is open for 30 s)', () => restart());

  it('T-B7: invalid_client → 503 upstream_credentials_invalid and no seller marked', async () => {
    await amazon.emulator.control.fault({
      target: 'token',
      status: 401,
      body: { error: 'invalid_client', error_description: 'Client authentication failed' },
      count: 0,
    });
    const r = await token(SELLERS[11]!);
    await amazon.emulator.control.clearFaults();
    assert.equal(r.status, 503);
    assert.equal((r.body.error as { code: string }).code, 'upstream_credentials_invalid');
    const counts = await store.countSellersByStatus();
    assert.equal(counts.reauthorization_required, 1, 'only the seller revoked in T-B6');
    assert.equal((await store.getSeller({ sellingPartnerId: SELLERS[11]!, region: 'na' }))?.status, 'active');
  });

  it('T-B10, T-B11: a 10 MB body and a gzip bomb are cut at the byte cap; memory stays flat', async () => {
    const pid = serve.child.pid!;
    const rss0 = rssKiB(pid);
    await amazon.emulator.control.fault({
      target: 'token',
      grant_type: 'refresh_token',
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: `{"access_token":"${'A'.repeat(10 * 1024 * 1024)}"}`,
      count: 3,
    });
    const big = await token(SELLERS[7]!);
    await amazon.emulator.control.clearFaults();
    assert.equal(big.status, 503);
    const bomb = await gzipBomb(256);
    await amazon.emulator.control.fault({
      target: 'token',
      grant_type: 'refresh_token',
      status: 200,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body_base64: bomb.toString('base64'),
      count: 3,
    });
    const bombed = await token(SELLERS[8]!);
    await amazon.emulator.control.clearFaults();
    assert.equal(bombed.status, 503);
    const growthMiB = (rssKiB(pid) - rss0) / 1024;
    assert.ok(growthMiB < 40, `RSS grew ${growthMiB.toFixed(1)} MiB`);
  });

  it('T-B14: a 307 to another host is never followed (the steal server counts 0 hits)', async () => {
    let hits = 0;
    const steal: Server = createServer((req, res) => {
      hits++;
      req.resume();
      res.end('{}');
    });
    await new Promise<void>((resolve) => steal.listen(0, '127.0.0.2', resolve));
    const stealUrl = `http://127.0.0.2:${(steal.address() as { port: number }).port}/steal`;
    try {
      await amazon.emulator.control.fault({
        target: 'token',
        grant_type: 'refresh_token',
        status: 307,
        headers: { location: stealUrl },
        count: 3,
      });
      const r = await token(SELLERS[9]!);
      await amazon.emulator.control.clearFaults();
      assert.equal(r.status, 503);
      assert.equal(hits, 0);
    } finally {
      await new Promise((resolve) => steal.close(resolve));
    }
  });

  it('(a fresh process: the breaker counts one failure per case)', () => restart());

  it('T-B8, T-B9: garbage 200 bodies → no token stored, 503 to the caller, the body never echoed', async () => {
    const garbage: { body?: unknown; headers?: Record<string, string> }[] = [
      { body: '<html><body>502 Bad Gateway</body></html>', headers: { 'content-type': 'text/html' } },
      { body: 'null', headers: { 'content-type': 'application/json' } },
      { body: { access_token: 'Atza|GARBAGEMARKER0000', token_type: 'mac', expires_in: 3600 } },
      { body: { access_token: 'Atza|GARBAGE MARKER', token_type: 'bearer', expires_in: 3600 } },
      { body: { access_token: 'Atza|GARBAGEMARKER0001', token_type: 'bearer', expires_in: -1 } },
    ];
    const before = await refreshCalls(amazon);
    for (const g of garbage) {
      await amazon.emulator.control.fault({
        target: 'token',
        grant_type: 'refresh_token',
        status: 200,
        count: 3,
        ...g,
      });
      const r = await token(SELLERS[6]!);
      await amazon.emulator.control.clearFaults();
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.ok(
        !JSON.stringify(r.body).includes('GARBAGE') && !JSON.stringify(r.body).includes('Bad Gateway'),
      );
      const stored = await store.loadTokens({ sellingPartnerId: SELLERS[6]!, region: 'na' });
      assert.ok(!String(stored?.accessToken?.accessToken).includes('GARBAGE'), 'nothing stored');
    }
    assert.ok((await refreshCalls(amazon)) - before >= garbage.length);
    const out = serve.output().stdout + serve.output().stderr;
    assert.ok(!out.includes('GARBAGE') && !out.includes('Bad Gateway'));
  });

  it('T-H1, T-H2: no marker secret in the output, error bodies, /metrics or the database files', async () => {
    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    assert.match(metrics, /lwa/);
    const db = readdirSync(dir)
      .filter((f) => f.startsWith('spapi-auth.db'))
      .map((f) => readFileSync(join(dir, f)));
    const all = [...outputs, serve.output()];
    canary.assertClean({
      stdout: all.map((o) => o.stdout).join('\n'),
      stderr: all.map((o) => o.stderr).join('\n'),
      'error bodies': errorBodies.join('\n'),
      '/metrics': metrics,
      ...Object.fromEntries(db.map((b, i) => [`db file ${i}`, b])),
    });
    assert.ok(canary.names.length >= 20);
  });
});
