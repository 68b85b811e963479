// Admin sign-in through a real OpenID provider in a real browser (Debian's Chromium through
// playwright-core): the service on localhost, the provider (node-oidc-provider) on 127.0.0.1 — two
// sites, so the sign-in cookie must survive the provider's cross-site redirect back (Lax) and the
// Strict session cookie must reach /admin after it. An allowed operator gets in and sees the
// dashboard with their name; another account is refused with a clear page and no session; an ID
// token altered at the token endpoint is refused; logout ends the session; the audit names the operator.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { freePort } from './helpers.js';
import { devApplication } from '../../src/emulator/dev-app.js';
import { startEmulator } from '../../src/emulator/index.js';
import { openStore } from '../../src/storage/open.js';
import { createKeyRing } from '../../src/storage/crypto.js';
import { silentLogger } from '../../src/server/http/log.js';
import { startService } from '../../src/server/service.js';
import { startTestProvider } from '../helpers/oidc-provider.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];

/** playwright-core's chromium; without the browser, skips `t` (fails in CI) and resolves to undefined. */
async function chromiumOrSkip(
  t: TestContext,
): Promise<typeof import('playwright-core').chromium | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') assert.fail('chromium is required in CI');
    t.skip('no /usr/bin/chromium');
    return undefined;
  }
  return (await import('playwright-core')).chromium;
}

/** From the login page through the provider's login form, as `login`; resolves on the page it ends on. */
async function signIn(page: Page, publicUrl: string, login: string): Promise<void> {
  await page.goto(`${publicUrl}/admin/login`);
  await page.click('#oidc-sign-in');
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password');
  await page.click('button[type="submit"]');
  await page.waitForURL(
    (u) => u.pathname !== '/interaction' && !u.pathname.startsWith('/interaction/') && u.origin === publicUrl,
    {
      timeout: 10_000,
    },
  );
  await page.waitForLoadState('load');
}

test('Chromium: OIDC sign-in — allowed operator in (dashboard, name shown, audited), others refused, altered ID token refused, logout', async (t) => {
  const chromium = await chromiumOrSkip(t);
  if (chromium === undefined) return;
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const idp = await startTestProvider({ redirectUri: `${publicUrl}/admin/oidc/callback` });
  const app = devApplication(publicUrl);
  const emulator = await startEmulator({ port: 0, applications: [app] });
  const key = randomBytes(32);
  const config = loadConfig(
    {
      LWA_CLIENT_ID: app.clientId,
      LWA_CLIENT_SECRET: app.clientSecret!,
      SPAPI_APPLICATION_ID: app.id,
      SPAPI_AUTH_PUBLIC_URL: publicUrl,
      SPAPI_AUTH_AMAZON_URL: emulator.url,
      SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${key.toString('base64')}`,
      SPAPI_AUTH_ADMIN_OIDC_ISSUER: idp.issuer,
      SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID: idp.clientId,
      SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: idp.clientSecret,
      SPAPI_AUTH_ADMIN_OIDC_ALLOWED: 'alice@example.com, group:admins',
      PORT: String(port),
    },
    { mode: 'serve' },
  );
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', key]]) });
  const service = await startService({ config, store, log: silentLogger });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const hasSession = async (page: Page): Promise<boolean> =>
      (await page.context().cookies()).some((c) => c.name === 'spapi_admin' && c.value.includes('.u'));

    // Alice: allowed by e-mail. The dashboard, with her name beside "Log out".
    const alice = await browser.newPage();
    const errors: string[] = [];
    alice.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    alice.on('pageerror', (e) => errors.push(e.message));
    await signIn(alice, publicUrl, 'alice');
    await alice.waitForURL(`${publicUrl}/admin`, { timeout: 10_000 });
    assert.match((await alice.textContent('main')) ?? '', /Sellers/);
    assert.equal(((await alice.textContent('.operator')) ?? '').trim(), 'alice@example.com');
    assert.ok(await hasSession(alice));
    assert.deepEqual(errors, [], 'no CSP violation or script error');

    // An admin action under her name, then logout: the dashboard asks for a sign-in again.
    await alice.goto(`${publicUrl}/admin/webhooks`);
    await alice.click('text=Send test event');
    await alice.waitForURL(/notice=test_sent/);
    await alice.click('button:has-text("Log out")');
    await alice.waitForURL(`${publicUrl}/admin/login`);
    await alice.goto(`${publicUrl}/admin`);
    assert.equal(alice.url(), `${publicUrl}/admin/login`);

    // Bob: signed in at the provider, but not on the allow-list.
    const bobContext = await browser.newContext();
    const bob = await bobContext.newPage();
    await signIn(bob, publicUrl, 'bob');
    assert.match(bob.url(), /\/admin\/oidc\/callback\?/);
    const refusal = (await bob.textContent('main')) ?? '';
    assert.match(refusal, /bob@elsewhere\.test signed in at the identity provider, but is not allowed/);
    assert.match(refusal, /admin_not_allowed/);
    assert.equal(await hasSession(bob), false, 'no session for a refused account');
    await bob.goto(`${publicUrl}/admin`);
    assert.equal(bob.url(), `${publicUrl}/admin/login`);

    // Bob again, with his ID token rewritten at the token endpoint to say he is Alice in admins.
    idp.tamper = 'claims';
    const forgedContext = await browser.newContext();
    const forged = await forgedContext.newPage();
    await signIn(forged, publicUrl, 'bob');
    assert.match((await forged.textContent('main')) ?? '', /oidc_invalid_response/);
    assert.equal(await hasSession(forged), false, 'no session from an altered ID token');
    idp.tamper = 'none';

    // Dave: in by his group.
    const daveContext = await browser.newContext();
    const dave = await daveContext.newPage();
    await signIn(dave, publicUrl, 'dave');
    await dave.waitForURL(`${publicUrl}/admin`, { timeout: 10_000 });
    assert.equal(((await dave.textContent('.operator')) ?? '').trim(), 'dave@elsewhere.test');

    // The audit names the operator (records are written in batches: wait for them, bounded).
    const expected = [
      'admin.login admin:alice@example.com ok',
      'webhook.test_sent admin:alice@example.com ok',
      'admin.logout admin:alice@example.com ok',
      'admin.login oidc:bob@elsewhere.test not_allowed',
      'admin.login oidc oidc_invalid_response',
      'admin.login admin:dave@elsewhere.test ok',
    ];
    let audit: string[] = [];
    for (let i = 0; i < 100; i++) {
      audit = (await store.listAudit({ limit: 100 })).map((r) => `${r.action} ${r.actor} ${r.outcome}`);
      if (expected.every((line) => audit.includes(line))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const line of expected) assert.ok(audit.includes(line), `${line} in ${audit.join(' | ')}`);
  } finally {
    await browser?.close();
    await service.close();
    await emulator.close();
    await idp.close();
  }
});
