// Admin sign-in through a real OpenID provider in a real browser (Debian's Chromium through
// playwright-core): the service on localhost, the provider (node-oidc-provider) on 127.0.0.1 — two
// sites, so the sign-in cookie must survive the provider's cross-site redirect back (Lax) and the
// Strict session cookie must reach /admin after it. An allowed operator gets in and sees the
// dashboard with their name; another account is refused with a clear page and no session; an ID
// token altered at the token endpoint is refused; logout ends the session; the audit names the operator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { chromiumOrSkip, launchChromium } from '../../helpers/browser.js';
import { startTestProvider } from '../../helpers/oidc-provider.js';
import { freePort, startLocalService } from '../../helpers/service.js';

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
  if (!chromiumOrSkip(t)) return;
  // The provider needs the callback URL before the service starts: the port is chosen first.
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const idp = await startTestProvider({ redirectUri: `${publicUrl}/admin/oidc/callback` });
  const local = await startLocalService(
    {
      SPAPI_AUTH_ADMIN_OIDC_ISSUER: idp.issuer,
      SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID: idp.clientId,
      SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: idp.clientSecret,
      SPAPI_AUTH_ADMIN_OIDC_ALLOWED: 'alice@example.com, group:admins',
    },
    port,
  );
  const { store } = local;
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    // A signed-in operator's cookie: v1.<expiry>.<id>.u<operator>.<HMAC> (an anonymous one has 0
    // there; its id or HMAC may start with a "u" too, so the field is read, not searched for).
    const hasSession = async (page: Page): Promise<boolean> =>
      (await page.context().cookies()).some(
        (c) => c.name === 'spapi_admin' && (c.value.split('.')[3] ?? '').startsWith('u'),
      );

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
    await local.close();
    await idp.close();
  }
});
