// A real browser (Debian's Chromium through playwright-core) walks the website flow: the service on
// one site (localhost) and the emulator on another (127.0.0.1), so the binding cookie must survive
// the cross-site return (SameSite=Lax, docs/security.md T-G3), and the pages' CSP must not break the flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../../src/config.js';
import { chromiumOrSkip, launchChromium } from '../../helpers/browser.js';
import { freePort, startLocalService } from '../../helpers/service.js';
import { devApplication } from '../../../src/emulator/dev-app.js';
import { TEST_SELLERS, createEmulator } from '../../../src/emulator/index.js';
import { devPartnersOf } from '../../../src/server/dev/emulator-mount.js';
import { fromFetchHandler } from '../../../src/server/http/request.js';
import { openStore } from '../../../src/storage/open.js';
import { createKeyRing } from '../../../src/storage/crypto.js';
import { generateApiKey } from '../../../src/server/tokens/api-keys.js';
import { silentLogger } from '../../../src/server/http/log.js';
import { startService } from '../../../src/server/service.js';

test('Chromium: connect link → consent page on another site → Confirm → connected (Lax cookie survives)', async (t) => {
  if (!chromiumOrSkip(t)) return;
  const local = await startLocalService();
  const { publicUrl, emulator, store } = local;
  const browser = await launchChromium();
  try {
    const k = generateApiKey();
    await store.createApiKey({ id: k.id, name: null, hash: k.hash, scopes: ['connect', 'tokens:read'] });
    const created = await fetch(`${publicUrl}/v1/connect-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: 'acct-9', marketplace: 'US' }),
    });
    const { url } = (await created.json()) as { url: string };
    const page = await browser.newPage();
    const errors: string[] = [];
    // CSP violations and script errors (a missing favicon is not one).
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(url);
    assert.ok(page.url().startsWith(`${emulator.url}/apps/authorize/consent?`), page.url());
    await page.click('#confirm');
    await page.waitForURL(/\/oauth\/result\?status=connected/, { timeout: 10_000 });
    assert.match((await page.textContent('h1')) ?? '', /Seller connected/);
    assert.deepEqual(errors, [], 'no CSP violation or script error');
    assert.deepEqual(failed, [], 'no failed navigation');
    const token = await fetch(`${publicUrl}/v1/sellers/A1EMUSELLERNA01/access-token`, {
      headers: { authorization: `Bearer ${k.key}` },
    });
    assert.equal(token.status, 200);
  } finally {
    await browser.close();
    await local.close();
  }
});

test('Chromium, dev mode: the start page\'s "Connect a seller" walks the whole flow on one origin', async (t) => {
  if (!chromiumOrSkip(t)) return;
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const app = devApplication(publicUrl);
  const emulator = createEmulator({ applications: [app] });
  const key = randomBytes(32);
  const config = loadConfig(
    {
      PORT: String(port),
      SPAPI_AUTH_AMAZON_URL: publicUrl,
      SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${key.toString('base64')}`,
    },
    {
      mode: 'dev',
      devDefaults: { clientId: app.clientId, clientSecret: app.clientSecret!, applicationId: app.id },
    },
  );
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', key]]) });
  const service = await startService(config, {
    store,
    log: silentLogger,
    fetch: (req) => emulator.fetch(req),
    fallback: fromFetchHandler((req) => emulator.fetch(req), publicUrl),
    devPartners: devPartnersOf(TEST_SELLERS),
  });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    await page.goto(`${publicUrl}/`);
    await page.click('text=Connect a seller');
    await page.waitForURL(/\/apps\/authorize\/consent\?/);
    await page.click('#confirm');
    await page.waitForURL(/\/oauth\/result\?status=connected/, { timeout: 10_000 });
    await page.click('text=Back to the start page');
    assert.match((await page.textContent('table')) ?? '', /A1EMUSELLERNA01[\s\S]*working \(Atza\|/);
    // The Appstore flow from the same page: Amazon → our Login URI → Amazon's confirm → callback.
    await page.click('text=Appstore flow');
    await page.waitForSelector('#confirm');
    await page.click('#confirm');
    await page.waitForURL(/\/oauth\/result\?status=connected/, { timeout: 10_000 });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await service.close();
  }
});
