// The browser end-to-end (docs/security.md T-A1, T-G3, T-G6, T-G7, T-G8): Debian's Chromium driven by
// playwright-core against `spapi-auth serve` on `localhost` and the emulator on `127.0.0.1` — two
// different sites, so the binding cookie must survive a real cross-site return. Screenshots of the
// main pages go to test-artifacts/screenshots/ (gitignored).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication } from '../../src/emulator/types.js';
import type { Store } from '../../src/storage/store.js';
import { webhookEvent } from '../../src/server/domain/events.js';
import { chromiumMissing, launchChromium } from '../helpers/browser.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import { repoRoot } from '../helpers/cli.js';
import {
  createKey,
  freePort,
  markerSecrets,
  openTestStore,
  serveEnv,
  suiteRuns,
  startServe,
  startTestEmulator,
  type ServeProcess,
} from '../helpers/e2e.js';

const SHOTS = join(repoRoot, 'test-artifacts', 'screenshots');
const ADMIN_PASSWORD = 'CANARYadminPassword0123456789';
const XSS_USER_REF = `<script>alert('xss')</script><img src=x onerror="alert('img')">`;
if (
  await suiteRuns(chromiumMissing(), {
    suite: 'browser end-to-end (headless Chromium)',
    what: 'browser end-to-end',
    placeholder: 'browser end-to-end',
    needs: 'Chromium',
  })
) {
  describe('browser end-to-end (headless Chromium)', () => {
    const secrets = markerSecrets('Browser');
    const canary = createCanary();
    let dir: string;
    let amazon: RunningEmulator;
    let app: EmulatorApplication;
    let store: Store;
    let serve: ServeProcess;
    let browser: Browser;
    let apiKey: string;
    let publicUrl: string;
    // The app's own site (another origin on 127.0.0.1): the sign-in page of the Appstore hop, and
    // the attacker's pages for framing and cross-site POST.
    let site: Server;
    let siteUrl: string;

    const shot = async (page: Page, name: string): Promise<void> => {
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    };

    /** A fresh browser profile with a dialog and console hook (T-G8 counts executions). */
    const newContext = async (): Promise<{ context: BrowserContext; page: Page; dialogs: string[] }> => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(8000);
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      page.on('console', (m) => {
        if (/xss|img/.test(m.text())) dialogs.push(`console: ${m.text()}`);
      });
      return { context, page, dialogs };
    };

    /** Logs in through the form, as a person would. */
    const login = async (page: Page): Promise<void> => {
      await page.goto(`${publicUrl}/admin/login`);
      await shot(page, '01-admin-login');
      await page.fill('input[name=password]', ADMIN_PASSWORD);
      await Promise.all([page.waitForURL(`${publicUrl}/admin`), page.click('button[type=submit]')]);
    };

    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      dir = mkdtempSync(join(tmpdir(), 'spapi-browser-'));
      const port = await freePort();
      publicUrl = `http://localhost:${port}`;
      ({ amazon, app } = await startTestEmulator(publicUrl, secrets.clientSecret));
      const databaseUrl = `sqlite:${join(dir, 'spapi-auth.db')}`;
      store = await openTestStore(databaseUrl, secrets.encryptionKeys);
      apiKey = await createKey(store);
      addRunSecrets(canary, { ...secrets, apiKey });
      canary.add('admin_password', ADMIN_PASSWORD);

      site = createServer((req, res) => {
        const u = new URL(req.url ?? '/', 'http://x');
        if (u.pathname === '/signin') {
          // The app signs its user in, then confirms the pending Appstore session server-side.
          const pending = u.searchParams.get('spapi_pending') ?? '';
          void fetch(`${publicUrl}/v1/appstore-sessions/${pending}/confirm`, {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ user_ref: 'appstore-user' }),
          })
            .then(async (r) => {
              const body = (await r.json()) as { url?: string };
              if (r.status !== 200 || body.url === undefined) {
                res.writeHead(500).end(`confirm failed: ${r.status}`);
                return;
              }
              res.writeHead(302, { location: body.url }).end();
            })
            .catch(() => res.writeHead(500).end('confirm failed'));
          return;
        }
        if (u.pathname === '/frame') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(
            `<!doctype html><h1>evil</h1><iframe id="f" src="${publicUrl}/admin" width="800" height="600"></iframe>`,
          );
          return;
        }
        if (u.pathname === '/post') {
          const target = u.searchParams.get('target') ?? '';
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(
            `<!doctype html><form id="f" method="post" action="${publicUrl}${target}">` +
              `<input name="csrf" value="guessed"></form><script>document.getElementById('f').submit()</script>`,
          );
          return;
        }
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
      siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;

      serve = await startServe(
        serveEnv({
          app,
          secrets,
          amazon,
          databaseUrl,
          publicUrl,
          port,
          extra: { SPAPI_AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD, SPAPI_AUTH_SIGNIN_URL: `${siteUrl}/signin` },
        }),
      );
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await serve?.stop();
      await store?.close();
      await amazon?.close();
      await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
      rmSync(dir, { recursive: true, force: true });
    });

    it('T-A1: admin login form → "Connect a seller" → emulator consent (Confirm) → back on localhost → seller shown active', async () => {
      const { context, page } = await newContext();
      try {
        await login(page);
        await shot(page, '02-admin-overview');
        await page.goto(`${publicUrl}/admin/connect`);
        await page.fill('input[name=user_ref]', 'admin-button-user');
        await shot(page, '03-admin-connect');
        // Connect a seller → /connect/<token> → the emulator's consent page on 127.0.0.1.
        const csp: string[] = [];
        page.on('console', (m) => {
          if (/Content Security Policy|form-action/i.test(m.text())) csp.push(m.text());
        });
        // The form answers with a page holding the single-use link (a form's redirect across
        // origins would be blocked by the dashboard's form-action 'self'); the operator follows it.
        await page.click('button:has-text("Connect a seller")');
        await page.waitForSelector('#continue');
        await shot(page, '03b-admin-connect-link');
        await page.click('#continue');
        await page.waitForSelector('#confirm').catch(async (err: Error) => {
          await shot(page, 'failed-connect');
          throw new Error(`${err.message} at ${page.url()}; CSP reports: ${csp.join(' | ').slice(0, 500)}`);
        });
        assert.equal(new URL(page.url()).origin, amazon.url);
        // The NA seller is taken by the next test's user_ref; pick the global seller here.
        await page.check('input[value="A1EMUSELLERGL01:na"]');
        await page.click('#confirm');
        // A link made in the dashboard returns to the dashboard, not to the public result page.
        await page.waitForURL((u) => u.origin === publicUrl && u.pathname === '/admin/connected');
        const sellers = await store.listSellers({ limit: 10 });
        const mine = sellers.items.find((x) => x.userRef === 'admin-button-user');
        assert.ok(mine, 'the seller is stored under the user_ref typed in the form');
        assert.equal(mine.status, 'active');
        await page.goto(`${publicUrl}/admin/sellers`);
        const row = page.locator('tr', { hasText: 'admin-button-user' });
        assert.match(await row.innerText(), /active/);
      } finally {
        await context.close();
      }
    });

    it('T-A1, T-G3, T-G8: connect link → emulator consent on 127.0.0.1 (Confirm) → callback on localhost with the Lax cookie → seller active on the dashboard; <script> user_ref inert', async () => {
      const { context, page, dialogs } = await newContext();
      try {
        const session = await fetch(`${publicUrl}/v1/connect-sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user_ref: XSS_USER_REF, marketplace: 'US' }),
        });
        assert.equal(session.status, 201);
        const { url } = (await session.json()) as { url: string };
        await page.goto(url);
        // On the emulator's site now (127.0.0.1): the consent page.
        assert.equal(new URL(page.url()).hostname, '127.0.0.1');
        await page.waitForSelector('#confirm');
        await shot(page, '04-emulator-consent');
        let callbackHeaders: Promise<Record<string, string>> | undefined;
        let callbacks = 0;
        page.on('request', (r) => {
          if (r.url().startsWith(`${publicUrl}/oauth/callback`)) {
            callbacks++;
            callbackHeaders = r.allHeaders();
          }
        });
        await Promise.all([page.waitForURL((u) => u.origin === publicUrl), page.click('#confirm')]);
        await page.waitForLoadState();
        // T-G3: the binding cookie (SameSite=Lax) came along on the cross-site return.
        assert.equal(callbacks, 1);
        assert.match((await callbackHeaders!).cookie ?? '', /spapi_tx=/);
        assert.ok(page.url().startsWith(`${publicUrl}/oauth/result`), page.url());
        assert.ok(!page.url().includes('spapi_oauth_code') && !page.url().includes('state='));
        await shot(page, '05-result');
        const sellers = await store.listSellers({ limit: 10 });
        const seller = sellers.items.find((x) => x.userRef === XSS_USER_REF);
        assert.ok(seller, 'the seller is stored under its user_ref');
        assert.equal(seller.status, 'active');
        // The seller shows as active on the dashboard; the hostile user_ref is text, not markup.
        await login(page);
        await page.goto(`${publicUrl}/admin/sellers`);
        await shot(page, '06-admin-sellers');
        const row = page.locator('tr', { hasText: seller.sellingPartnerId });
        assert.match(await row.innerText(), /active/);
        assert.ok((await page.content()).includes('&lt;script&gt;'));
        await page.goto(`${publicUrl}/admin/sellers/${seller.sellingPartnerId}`);
        await shot(page, '07-admin-seller-detail');
        assert.ok((await page.locator('body').innerText()).includes(XSS_USER_REF));
        assert.equal(await page.locator('script:not([nonce])').count(), 0);
        assert.equal(await page.locator('img[src=x]').count(), 0);
        assert.deepEqual(dialogs, [], 'no script from the stored user_ref ran');
        const stored = await store.loadTokens({ sellingPartnerId: seller.sellingPartnerId, region: 'na' });
        canary.add('refresh_token', stored?.refreshToken);
      } finally {
        await context.close();
      }
    });

    it('Appstore flow: emulator Appstore page → Login URI → sign-in hop → Confirm → seller active (user_ref from the app)', async () => {
      const { context, page } = await newContext();
      try {
        // Another seller than the website flow's (A1EMUSELLERNA01 belongs to another user_ref now).
        await page.goto(
          `${amazon.url}/appstore/authorize?application_id=${encodeURIComponent(app.id)}&selling_partner_id=A1EMUSELLEREU01`,
        );
        // Amazon → our Login URI → the app's sign-in page → confirm → back to Amazon's confirm page.
        await page.waitForURL(
          (u) => u.origin === amazon.url && u.pathname.startsWith('/apps/authorize/confirm/'),
        );
        await shot(page, '08-emulator-appstore-confirm');
        if ((await page.locator('#confirm').count()) > 0) {
          await Promise.all([page.waitForURL((u) => u.origin === publicUrl), page.click('#confirm')]);
        } else {
          await page.waitForURL((u) => u.origin === publicUrl);
        }
        await page.waitForLoadState();
        assert.ok(page.url().startsWith(`${publicUrl}/oauth/result`), page.url());
        await shot(page, '09-appstore-result');
        const sellers = await store.listSellers({ limit: 10 });
        const appstore = sellers.items.find((s) => s.userRef === 'appstore-user');
        assert.ok(appstore, 'the Appstore seller is stored under the signed-in user');
        assert.equal(appstore.sellingPartnerId, 'A1EMUSELLEREU01');
        assert.equal(appstore.status, 'active');
      } finally {
        await context.close();
      }
    });

    it('T-G6: the admin page refuses to be framed by another site', async () => {
      const { context, page } = await newContext();
      try {
        await login(page);
        await page.goto(`${siteUrl}/frame`);
        await page.waitForTimeout(500);
        await shot(page, '10-framing-blocked');
        const frame = page.frames().find((f) => f !== page.mainFrame());
        assert.ok(frame, 'the iframe exists');
        const text = await frame
          .locator('body')
          .innerText({ timeout: 1000 })
          .catch(() => '');
        assert.ok(!/Overview|Sellers/.test(text), 'the dashboard did not render inside the frame');
        const res = await fetch(`${publicUrl}/admin/login`);
        assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        assert.equal(res.headers.get('x-frame-options'), 'DENY');
      } finally {
        await context.close();
      }
    });

    it('T-G7: a cross-site form POST to delete a seller is refused (403) and changes nothing', async () => {
      const { context, page } = await newContext();
      try {
        await login(page);
        const before = await store.listSellers({ limit: 10 });
        const victim = before.items[0]!.sellingPartnerId;
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url().includes(`/admin/sellers/${victim}/delete`)),
          page.goto(`${siteUrl}/post?target=${encodeURIComponent(`/admin/sellers/${victim}/delete`)}`),
        ]);
        assert.equal(response.status(), 403);
        await page.waitForLoadState();
        await shot(page, '11-cross-site-post-refused');
        const afterList = await store.listSellers({ limit: 10 });
        assert.deepEqual(
          afterList.items.map((s) => [s.sellingPartnerId, s.status, s.version]),
          before.items.map((s) => [s.sellingPartnerId, s.status, s.version]),
        );
      } finally {
        await context.close();
      }
    });

    it('T-F17: "Redeliver" on a failed webhook event queues it again under the same id (a click, with the form\'s CSRF token)', async () => {
      const { context, page } = await newContext();
      try {
        const failed = webhookEvent('seller.deleted', { selling_partner_id: 'A1BROWSERHOOK' }, Date.now());
        await store.enqueueWebhookEvents([failed]);
        const claimed = await store.claimWebhookEvents('gone-worker', { limit: 10, leaseMs: 1 });
        assert.ok(claimed.some((e) => e.id === failed.id));
        await store.markWebhookFailed(failed.id, 'gone-worker', { error: 'http_500', nextAttemptAt: null });
        await login(page);
        await page.goto(`${publicUrl}/admin/webhooks?state=dead`);
        const row = page.locator('tr', { hasText: failed.id });
        await Promise.all([
          page.waitForURL((u) => u.searchParams.get('notice') === 'redelivered'),
          row.locator('button[data-action=redeliver]').click(),
        ]);
        await shot(page, '12-admin-webhook-redelivered');
        assert.match(await page.locator('.notice').innerText(), /same id/);
        assert.equal(new URL(page.url()).searchParams.get('state'), 'pending');
        await page.locator('tr', { hasText: failed.id }).waitFor();
        const [queued] = (await store.listWebhookEvents({ state: 'pending' })).filter(
          (r) => r.id === failed.id,
        );
        assert.equal(queued?.attempts, 0, 'queued again with a fresh schedule');
        assert.deepEqual(queued?.data, failed.data);
        // The audit is written by the service's buffer (flushed within a second).
        const deadline = Date.now() + 10_000;
        let audited = false;
        while (!audited && Date.now() < deadline) {
          audited = (await store.listAudit({ limit: 50 })).some(
            (r) =>
              r.action === 'webhook.redelivered' &&
              r.actor === 'admin:password' &&
              r.details.event_id === failed.id,
          );
          if (!audited) await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(audited, 'the redelivery is in the audit, naming the operator');
      } finally {
        await context.close();
      }
    });

    it('T-H1: no marker secret in the service output', () => {
      const { stdout, stderr } = serve.output();
      canary.assertClean({ stdout, stderr });
    });
  });
}
