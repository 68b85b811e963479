// docs/security.md T-B13 (the code exchange answered with invalid_grant) at the service, in-process, and
// T-B15 (LWA behind a certificate the service must not trust) with `serve` as a process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.js';
import { devApplication } from '../../src/emulator/dev-app.js';
import { PUBLIC_URL, Browser, api, errorCode, type TestService, testService } from '../helpers/service.js';
import {
  createKey,
  freePort,
  markerSecrets,
  openTestStore,
  seedSellers,
  serveEnv,
  startServe,
  testSellers,
} from '../helpers/e2e.js';
import { selfSignedCert } from '../helpers/tls.js';

const CALLBACK = `${PUBLIC_URL}/oauth/callback`;

async function pendingCallback(svc: TestService, body: Record<string, unknown>) {
  const created = await api(svc, 'POST', '/v1/connect-sessions', body);
  const { url } = (await created.json()) as { url: string };
  const browser = new Browser(svc);
  const { url: callback } = await browser.follow(url, (u) => u.startsWith(CALLBACK));
  return { browser, callback: new URL(callback) };
}

test('T-B13: the code exchange answered invalid_grant → "authorize again", state consumed, seller rows unchanged, one exchange', async (t) => {
  const svc = await testService(t);
  // A seller already authorized (re-authorization case): its token must survive the failure.
  const first = await pendingCallback(svc, { user_ref: 'u1', marketplace: 'US' });
  assert.equal((await first.browser.request(first.callback.href)).status, 303);
  const before = await svc.store.listSellers({ limit: 10 });
  const tokensBefore = await svc.store.loadTokens({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });

  // A re-authorization names the seller (a plain link may not replace a stored one).
  const again = await pendingCallback(svc, {
    user_ref: 'u1',
    marketplace: 'US',
    selling_partner_id: 'A1EMUSELLERNA01',
  });
  await svc.emulator.control.fault({
    target: 'token',
    grant_type: 'authorization_code',
    status: 400,
    body: { error: 'invalid_grant', error_description: 'The authorization code has expired' },
    count: 0,
  });
  const codeCalls = await svc.lwaCalls('authorization_code');
  const res = await again.browser.request(again.callback.href, { accept: 'application/json' });
  await svc.emulator.control.clearFaults();
  assert.equal(res.status, 400);
  assert.equal(await errorCode(res), 'authorization_code_invalid');
  assert.equal((await svc.lwaCalls('authorization_code')) - codeCalls, 1, 'exchanged once, not retried');
  // The state is spent: replaying the callback makes no further exchange.
  const replay = await again.browser.request(again.callback.href, { accept: 'application/json' });
  assert.equal(replay.status, 400);
  assert.equal(await errorCode(replay), 'state_used');
  assert.equal((await svc.lwaCalls('authorization_code')) - codeCalls, 1);
  // Seller rows unchanged, and the old refresh token still stored and working.
  const afterList = await svc.store.listSellers({ limit: 10 });
  assert.deepEqual(
    afterList.items.map((s) => [s.sellingPartnerId, s.status, s.version]),
    before.items.map((s) => [s.sellingPartnerId, s.status, s.version]),
  );
  const tokensAfter = await svc.store.loadTokens({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.equal(tokensAfter?.refreshToken, tokensBefore?.refreshToken);
  // The page a person sees says to authorize again.
  const page = await pendingCallback(svc, { user_ref: 'u1', marketplace: 'US' });
  await svc.emulator.control.fault({
    target: 'token',
    grant_type: 'authorization_code',
    status: 400,
    body: { error: 'invalid_grant' },
    count: 1,
  });
  const html = await (await page.browser.request(page.callback.href)).text();
  assert.match(html, /again/i);
  assert.ok(!html.includes(page.callback.searchParams.get('spapi_oauth_code')!));
});

test('T-B15: LWA behind a self-signed certificate → the service fails closed (503), the fake receives no HTTP request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-tls-'));
  const secrets = markerSecrets('Tls');
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const app = { ...devApplication(publicUrl), clientSecret: secrets.clientSecret };
  const amazon = await startEmulator({
    port: 0,
    applications: [app],
    sellers: testSellers(1, 'TLS'),
    tls: selfSignedCert(dir),
  });
  const databaseUrl = `sqlite:${join(dir, 'spapi-auth.db')}`;
  const store = await openTestStore(databaseUrl, secrets.encryptionKeys);
  const seller = testSellers(1, 'TLS')[0]!.sellingPartnerId;
  let serve;
  try {
    await seedSellers(amazon, app, secrets.clientSecret, store, [seller]);
    const apiKey = await createKey(store);
    const before = (await amazon.emulator.control.stats()).requests;
    serve = await startServe(
      serveEnv({
        app,
        secrets,
        amazon,
        databaseUrl,
        publicUrl,
        port,
      }),
    );
    assert.match(amazon.url, /^https:/);
    const res = await fetch(`${serve.url}/v1/sellers/${seller}/access-token`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(res.status, 503);
    assert.equal(body.error.code, 'upstream_unavailable');
    assert.equal((await amazon.emulator.control.stats()).requests - before, 0, 'no HTTP request reached LWA');
    assert.ok(!serve.output().stdout.includes(secrets.clientSecret));
  } finally {
    await serve?.stop();
    await store.close();
    await amazon.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
