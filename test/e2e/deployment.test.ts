// The deployment recipe of docs/deployment.md, run: nginx (Debian's package) from the very files on
// that page, TLS with a self-signed certificate, two `spapi-auth serve` instances on one PostgreSQL
// database, and the website flow in Chromium over https — once on a host of its own, once under the
// path prefix /auth, where the admin dashboard is signed in to and used in Chromium too. Skips with
// a message without nginx, Chromium or PostgreSQL, unless CI=true.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { devApplication } from '../../src/emulator/dev-app.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication } from '../../src/emulator/types.js';
import type { Store } from '../../src/storage/store.js';
import {
  createKey,
  freePort,
  freshDatabase,
  markerSecrets,
  openTestStore,
  postgresSuiteRuns,
  serveEnv,
  suiteRuns,
  startServe,
  type ServeProcess,
} from '../helpers/e2e.js';
import { chromiumMissing, launchChromium } from '../helpers/browser.js';
import { docFiles, nginxMissing, startNginx, substitute, type RunningNginx } from '../helpers/nginx.js';
import { selfSignedCert } from '../helpers/tls.js';
import { closeAfter } from '../helpers/after.js';

const SELLER = 'A1EMUSELLERNA01';
// Another seller under the prefix: a plain connect link only creates, never replaces, a seller.
const EU_SELLER = 'A1EMUSELLEREU01';
const SNIPPET = '/etc/nginx/snippets/spapi-auth-proxy.conf';
const SITE = '/etc/nginx/sites-available/spapi-auth';
const PREFIX_SITE = '/etc/nginx/sites-available/app-with-spapi-auth';
const ENV_FILE = '/etc/spapi-auth/env';
// Per-address allowance of the browser flows on each instance (low, so the test can exhaust it).
const OAUTH_LIMIT = 10;
const ADMIN_PASSWORD = 'CANARYdeployAdminPassword0123';

if (
  (await suiteRuns(nginxMissing() ?? chromiumMissing(), {
    suite: 'deployment recipe',
    what: 'the nginx recipe',
    placeholder: 'deployment recipe (nginx, two instances, https)',
    needs: 'nginx and Chromium',
  })) &&
  (await postgresSuiteRuns('deployment recipe', 'the nginx recipe', 'two instances on PostgreSQL'))
) {
  describe('the nginx recipe of docs/deployment.md: two instances on PostgreSQL over https', () => {
    const secrets = markerSecrets('Deploy');
    const dir = mkdtempSync(join(tmpdir(), 'spapi-deploy-'));
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let amazon: RunningEmulator;
    let app: EmulatorApplication;
    let store: Store;
    let apiKey: string;
    let nginx: RunningNginx;
    let browser: Browser;
    let instances: ServeProcess[] = [];
    let ports: number[];
    let httpPort: number;
    let siteUrl: string;
    let prefixUrl: string;
    // What the doc's /etc/spapi-auth/env says about the proxy, given to both instances.
    let trustedProxies: string;

    /** Both instances (again), with `publicUrl` as their public URL. */
    const startInstances = async (publicUrl: string): Promise<void> => {
      await Promise.all(instances.map((i) => i.stop()));
      instances = await Promise.all(
        ports.map((port) =>
          startServe(
            serveEnv({
              app,
              secrets,
              amazon,
              databaseUrl: db.url,
              publicUrl,
              port,
              extra: {
                SPAPI_AUTH_TRUSTED_PROXIES: trustedProxies,
                SPAPI_AUTH_OAUTH_RATE_LIMIT: String(OAUTH_LIMIT),
                SPAPI_AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
              },
            }),
            40_000,
          ),
        ),
      );
    };

    /** Requests each instance logged so far (its JSON request lines). */
    const requestsSeen = (): number[] =>
      instances.map(
        (i) =>
          i
            .output()
            .stdout.split('\n')
            .filter((l) => l.includes('"msg":"request"')).length,
      );

    /**
     * The website flow as a person's browser runs it, through nginx: the app asks for a connect link
     * (API, over https), the browser opens it, Amazon (the emulator, consent in auto mode) sends it
     * back to the callback, and it lands on the result page. Returns what the browser saw.
     */
    const websiteFlow = async (
      context: BrowserContext,
      base: string,
      seller: string,
      marketplace: string,
    ): Promise<{ finalUrl: string; heading: string; txCookie: string | undefined }> => {
      await amazon.emulator.control.consentMode('auto', seller);
      const created = await context.request.post(`${base}/v1/connect-sessions`, {
        headers: { authorization: `Bearer ${apiKey}` },
        data: { user_ref: 'deploy-user', marketplace },
      });
      assert.equal(created.status(), 201, await created.text());
      const { url } = (await created.json()) as { url: string };
      assert.ok(url.startsWith(`${base}/connect/`), `the link is on the public URL: ${url}`);
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      // Set-Cookie is only in the full header list (Playwright leaves it out of headers()).
      const cookies: Promise<string | null>[] = [];
      page.on('response', (res) => void cookies.push(res.headerValue('set-cookie')));
      await page.goto(url);
      await page.waitForURL((u) => u.href.startsWith(`${base}/oauth/result`));
      const heading = (await page.textContent('h1')) ?? '';
      const finalUrl = page.url();
      await page.close();
      const txCookie =
        (await Promise.all(cookies)).find((c) => c !== null && /spapi_tx=/.test(c)) ?? undefined;
      return { finalUrl, heading, txCookie };
    };

    before(async () => {
      db = await freshDatabase('deploy');
      ports = await Promise.all([freePort(), freePort()]);
      const [sitePort, prefixPort] = await Promise.all([freePort(), freePort()]);
      httpPort = await freePort();
      siteUrl = `https://127.0.0.1:${sitePort}`;
      prefixUrl = `https://127.0.0.1:${prefixPort}/auth`;
      app = {
        ...devApplication(siteUrl),
        clientSecret: secrets.clientSecret,
        redirectUris: [`${siteUrl}/oauth/callback`, `${prefixUrl}/oauth/callback`],
      };
      amazon = await startEmulator({ port: 0, applications: [app], consentMode: 'auto' });
      store = await openTestStore(db.url, secrets.encryptionKeys);
      apiKey = await createKey(store);

      // The doc's files, with this machine's ports and the test certificate.
      const files = docFiles('docs/deployment.md');
      const tls = join(dir, 'tls');
      mkdirSync(tls);
      selfSignedCert(tls);
      const certs: [RegExp, string][] = [
        [/ssl_certificate \S+;/, `ssl_certificate ${join(tls, 'cert.pem')};`],
        [/ssl_certificate_key \S+;/, `ssl_certificate_key ${join(tls, 'key.pem')};`],
      ];
      const site = substitute(files.get(SITE) ?? '', [
        ['server 127.0.0.1:3001 ', `server 127.0.0.1:${ports[0]} `],
        ['server 127.0.0.1:3002 ', `server 127.0.0.1:${ports[1]} `],
        ['listen 80;', `listen 127.0.0.1:${httpPort};`],
        ['listen 443 ssl http2;', `listen 127.0.0.1:${sitePort} ssl http2;`],
        ...certs,
      ]);
      const prefixSite = substitute(files.get(PREFIX_SITE) ?? '', [
        ['listen 443 ssl http2;', `listen 127.0.0.1:${prefixPort} ssl http2;`],
        ...certs,
      ]);
      assert.ok(files.get(SNIPPET), `${SNIPPET} is in docs/deployment.md`);
      const trusted = /^SPAPI_AUTH_TRUSTED_PROXIES=(\S+)$/m.exec(files.get(ENV_FILE) ?? '');
      assert.ok(trusted, `${ENV_FILE} in docs/deployment.md sets SPAPI_AUTH_TRUSTED_PROXIES`);
      trustedProxies = trusted[1]!;
      nginx = await startNginx(join(dir, 'nginx'), {
        'snippets/spapi-auth-proxy.conf': files.get(SNIPPET)!,
        'sites-enabled/spapi-auth': site,
        'sites-enabled/app-with-spapi-auth': prefixSite,
      });
      await startInstances(siteUrl);
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await Promise.all(instances.map((i) => i.stop()));
      await nginx?.stop();
      await store?.close();
      await amazon?.close();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the website flow in Chromium over https, served by both instances; __Host- cookie; token through the proxy', async (t) => {
      // The test certificate is self-signed: this browser profile accepts it, as it would a real one.
      const context = closeAfter(t, await browser.newContext({ ignoreHTTPSErrors: true }));
      const before = requestsSeen();
      const { finalUrl, heading, txCookie } = await websiteFlow(context, siteUrl, SELLER, 'US');
      assert.match(heading, /connected/i);
      assert.match(finalUrl, /selling_partner_id=A1EMUSELLERNA01/);
      assert.ok(txCookie, 'the connect link set the binding cookie');
      assert.match(txCookie, /^__Host-spapi_tx=[^;]+; Path=\/;.*; Secure$/);
      const token = await context.request.get(`${siteUrl}/v1/sellers/${SELLER}/access-token`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      assert.equal(token.status(), 200, await token.text());
      assert.equal(token.headers()['strict-transport-security'], 'max-age=63072000; includeSubDomains');
      const served = requestsSeen().map((n, i) => n - before[i]!);
      assert.ok(
        served.every((n) => n > 0),
        `round robin: each instance served part of the flow (${served.join(' and ')} requests)`,
      );
      // The request id nginx made is the one the instance logged.
      const listed = await context.request.get(`${siteUrl}/v1/sellers`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      assert.equal(listed.status(), 200);
      const id = listed.headers()['x-request-id'];
      assert.match(id ?? '', /^[0-9a-f]{32}$/);
      assert.ok(instances.some((i) => i.output().stdout.includes(`"request_id":"${id}"`)));
    });

    it('through nginx the per-address limit counts the browser address nginx forwards, never a forged X-Forwarded-For', async () => {
      const port = Number(new URL(siteUrl).port);
      /** GET /oauth/login (malformed: answered 400, but counted) from a given local source address. */
      const loginFrom = (localAddress: string, headers: Record<string, string> = {}): Promise<number> =>
        new Promise((resolve, reject) => {
          httpsRequest(
            {
              host: '127.0.0.1',
              port,
              path: '/oauth/login',
              localAddress,
              rejectUnauthorized: false,
              agent: false,
              headers,
            },
            (r) => {
              r.resume();
              resolve(r.statusCode ?? 0);
            },
          )
            .on('error', reject)
            .end();
        });
      // One browser (127.0.0.5) forging a new X-Forwarded-For on every request: still one client.
      const statuses: number[] = [];
      for (let i = 0; i < 2 * OAUTH_LIMIT + 6; i++) {
        statuses.push(await loginFrom('127.0.0.5', { 'x-forwarded-for': `198.51.100.${i + 1}` }));
      }
      const passed = statuses.filter((s) => s !== 429);
      assert.ok(
        passed.every((s) => s === 400),
        statuses.join(' '),
      );
      assert.ok(
        passed.length <= 2 * OAUTH_LIMIT,
        `at most the allowance of both instances: ${statuses.join(' ')}`,
      );
      assert.deepEqual(statuses.slice(-4), [429, 429, 429, 429]);
      // Another browser behind the same nginx is not affected: the instances see its own address.
      assert.deepEqual([await loginFrom('127.0.0.6'), await loginFrom('127.0.0.6')], [400, 400]);
    });

    it('plain http is redirected to https; /metrics is not served through the proxy', async (t) => {
      const res = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
        httpRequest(`http://127.0.0.1:${httpPort}/v1/sellers`, (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, location: r.headers.location });
        })
          .on('error', reject)
          .end();
      });
      assert.equal(res.status, 301);
      assert.equal(res.location, 'https://127.0.0.1/v1/sellers');
      const context = closeAfter(t, await browser.newContext({ ignoreHTTPSErrors: true }));
      assert.equal((await context.request.get(`${siteUrl}/metrics`)).status(), 404);
      assert.equal((await context.request.get(`${siteUrl}/readyz`)).status(), 200);
      // Straight to an instance, for the monitoring network.
      assert.equal((await fetch(`${instances[0]!.url}/metrics`)).status, 200);
    });

    it('graceful shutdown: with one instance stopped (SIGTERM), every request still succeeds through the other', async (t) => {
      const context = closeAfter(t, await browser.newContext({ ignoreHTTPSErrors: true }));
      await instances[0]!.stop(15_000);
      const { code, signal } = await instances[0]!.exited;
      assert.deepEqual(
        { code, signal },
        { code: 0, signal: null },
        'the instance exited by itself on SIGTERM',
      );
      for (let i = 0; i < 6; i++) {
        const res = await context.request.get(`${siteUrl}/v1/sellers/${SELLER}/access-token`, {
          headers: { authorization: `Bearer ${apiKey}` },
        });
        assert.equal(res.status(), 200, `request ${i}: ${await res.text()}`);
      }
    });

    it('under the path prefix /auth (SPAPI_AUTH_PUBLIC_URL with a path), through the same proxy', async () => {
      await startInstances(prefixUrl);
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      try {
        const { finalUrl, heading, txCookie } = await websiteFlow(context, prefixUrl, EU_SELLER, 'DE');
        assert.match(heading, /connected/i);
        assert.ok(finalUrl.startsWith(`${prefixUrl}/oauth/result?`), finalUrl);
        assert.match(finalUrl, /selling_partner_id=A1EMUSELLEREU01/);
        assert.match(txCookie ?? '', /^__Host-spapi_tx=[^;]+; Path=\/;/);
        const doc = await context.request.get(`${prefixUrl}/openapi.json`);
        assert.deepEqual(((await doc.json()) as { servers: unknown }).servers, [{ url: prefixUrl }]);
        const token = await context.request.get(`${prefixUrl}/v1/sellers/${EU_SELLER}/access-token`, {
          headers: { authorization: `Bearer ${apiKey}` },
        });
        assert.equal(token.status(), 200, await token.text());
        assert.equal((await context.request.get(`${prefixUrl}/metrics`)).status(), 404);
      } finally {
        await context.close();
      }
      assert.doesNotMatch(nginx.errors(), /\[(emerg|alert|crit)\]/);
    });

    it('the admin dashboard under /auth in Chromium: sign in, follow the links, send a test event, log out — every URL under the prefix', async (t) => {
      const context = closeAfter(t, await browser.newContext({ ignoreHTTPSErrors: true }));
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      // Everything outside /auth/ is the application's (nginx answers 404 there): any link, form
      // or redirect that forgot the prefix ends on such a response.
      const outside: string[] = [];
      page.on('response', (r) => {
        const u = new URL(r.url());
        if (u.origin === new URL(prefixUrl).origin && !u.pathname.startsWith('/auth/')) outside.push(r.url());
      });
      await page.goto(`${prefixUrl}/admin`);
      await page.waitForURL(`${prefixUrl}/admin/login`);
      await page.fill('input[name=password]', ADMIN_PASSWORD);
      await Promise.all([page.waitForURL(`${prefixUrl}/admin`), page.click('button[type=submit]')]);
      const [session] = (await context.cookies()).filter((c) => c.name === 'spapi_admin');
      assert.equal(session?.path, '/auth/admin');
      assert.equal(session?.secure, true);
      assert.equal(session?.httpOnly, true);
      await Promise.all([
        page.waitForURL(`${prefixUrl}/admin/sellers`),
        page.click('nav a:has-text("Sellers")'),
      ]);
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/auth/admin/sellers/${EU_SELLER}`),
        page.click(`a:has-text("${EU_SELLER}")`),
      ]);
      await Promise.all([
        page.waitForURL(`${prefixUrl}/admin/webhooks`),
        page.click('nav a:has-text("Webhooks")'),
      ]);
      // The action: a POST with the form's CSRF token, redirected back under the prefix.
      await Promise.all([
        page.waitForURL(`${prefixUrl}/admin/webhooks?state=pending&notice=test_sent`),
        page.click('#send-test-event'),
      ]);
      assert.match(await page.locator('.notice').innerText(), /webhook\.test event is queued/);
      const queued = (await store.listWebhookEvents({ state: 'pending', limit: 50 })).filter(
        (e) => e.type === 'webhook.test' && e.data.requested_by === 'admin',
      );
      assert.equal(queued.length, 1, 'the click queued one webhook.test event');
      await Promise.all([
        page.waitForURL(`${prefixUrl}/admin/login`),
        page.click('nav button:has-text("Log out")'),
      ]);
      assert.deepEqual(outside, [], 'requests that left the prefix');
    });
  });
}
