// Renders the admin dashboard in headless Chromium at laptop and phone widths and saves PNGs, for a
// person to look at (not a test). Seeds sellers (one with a hostile user_ref), some activity and
// webhook events, serves on 127.0.0.1:0 and logs in with a password.
//   node --import tsx scripts/admin-screenshot.ts [out-dir]   (default /tmp/spapi-admin-shots)
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { listen } from '../src/server/http/node.js';
import { webhookEvent } from '../src/server/domain/events.js';
import { launchChromium } from '../test/helpers/browser.js';
import { markReauthorizationRequired } from '../test/helpers/sellers.js';
import { makeOpsService } from '../test/helpers/ops-service.js';

const out = process.argv[2] ?? '/tmp/spapi-admin-shots';
const PASSWORD = 'screenshot password 1234';
mkdirSync(out, { recursive: true });

// The dashboard checks a form's Origin against SPAPI_AUTH_PUBLIC_URL: serve on the port it names.
const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const p = (probe.address() as AddressInfo).port;
    probe.close(() => resolve(p));
  });
});
const svc = await makeOpsService({
  env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD, SPAPI_AUTH_PUBLIC_URL: `http://localhost:${port}` },
});
for (const [id, region, userRef] of [
  ['A1EMUSELLERNA01', 'na', 'acct-1001'],
  ['A1EMUSELLEREU01', 'eu', '<script>alert(1)</script>'],
] as const) {
  await svc.store.saveAuthorization({
    sellingPartnerId: id,
    region,
    kind: 'seller',
    userRef,
    marketplace: region === 'na' ? 'US' : 'DE',
    refreshToken: `Atzr|${id}`,
  });
}
for (let i = 0; i < 60; i++) {
  await svc.store.saveAuthorization({
    sellingPartnerId: `A${(1_000_000 + i * 7919).toString(36).toUpperCase()}SELLER`,
    region: (['na', 'eu', 'fe'] as const)[i % 3]!,
    kind: i % 10 === 0 ? 'vendor' : 'seller',
    userRef: `customer-${4000 + i}`,
    marketplace: ['US', 'DE', 'JP'][i % 3]!,
    refreshToken: `Atzr|seed-${i}`,
  });
  if (i % 9 === 4) {
    await markReauthorizationRequired(svc.store, {
      sellingPartnerId: `A${(1_000_000 + i * 7919).toString(36).toUpperCase()}SELLER`,
      region: (['na', 'eu', 'fe'] as const)[i % 3]!,
    });
  }
}
// Activity for the chart: refreshes spread over the last hours, a few errors.
const m = svc.ops.metrics as unknown as { bump(f: 'refreshes' | 'errors'): void; now: () => number };
const realNow = Date.now;
for (let h = 0; h < 24 * 12; h++) {
  const at = realNow() - h * 5 * 60_000;
  (m as { now: () => number }).now = () => at;
  const n = Math.round(6 + 5 * Math.sin(h / 9) + (h % 7));
  for (let k = 0; k < n; k++) m.bump('refreshes');
  if (h % 17 === 3) m.bump('errors');
}
(m as { now: () => number }).now = realNow;
const na = { sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' } as const;
const lease = await svc.store.acquireRefreshLease(na, 'shot', 10_000);
if (lease)
  await svc.store.markReauthorizationRequired(na, lease, {
    code: 'reauthorization_required',
    message: 'LWA answered invalid_grant',
  });
await svc.store.enqueueWebhookEvents([
  webhookEvent('seller.deleted', { selling_partner_id: 'A7QPSELLER' }, Date.now()),
]);
const [claimed] = await svc.store.claimWebhookEvents('shot', { limit: 1, leaseMs: 1000 });
if (claimed)
  await svc.store.markWebhookFailed(claimed.id, 'shot', { error: 'http_503', nextAttemptAt: null });

const server = await listen(svc.app.handle, { port, host: '127.0.0.1' });
const base = `http://localhost:${port}`;
const browser = await launchChromium();
const consoleErrors: string[] = [];
try {
  for (const [name, viewport] of [
    ['laptop', { width: 1366, height: 900 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    const context = await browser.newContext({ viewport, deviceScaleFactor: name === 'phone' ? 2 : 1 });
    const page = await context.newPage();
    page.on('console', (msg) => void (msg.type() === 'error' && consoleErrors.push(msg.text())));
    page.on('dialog', (d) => {
      consoleErrors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(`${base}/admin/login`);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForLoadState();
    if (!page.url().endsWith('/admin'))
      throw new Error(
        `login failed at ${page.url()}: ${(await page.content()).replace(/<style[\s\S]*?<\/style>/, '').slice(0, 900)}`,
      );
    for (const [shot, path] of [
      ['overview', '/admin'],
      ['sellers', '/admin/sellers'],
      ['seller', '/admin/sellers/A1EMUSELLEREU01'],
      ['webhooks', '/admin/webhooks?state=dead'],
      ['connect', '/admin/connect'],
    ] as const) {
      await page.goto(`${base}${path}`);
      await page.screenshot({ path: join(out, `${name}-${shot}.png`), fullPage: true });
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
  await svc.close();
}
console.log(
  `screenshots in ${out}; console errors / dialogs: ${consoleErrors.length ? consoleErrors.join(' | ') : 'none'}`,
);
