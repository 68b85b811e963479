// A year (400 days) of three sellers on one fake clock, shared by the service (its injected clock)
// and the in-process emulator (moved only through its control API, `POST /__emulator/clock`):
// connected through the website flow, the Appstore flow and an import; a token asked for every
// simulated hour; the client secret rotated at days 180 and 350 (POST /v1/notifications with the
// emulator's queued APPLICATION_OAUTH_CLIENT_NEW_SECRET); seller.reauthorization_due at day 335; at day 340
// seller one renews through Seller Central's "Re-authorize" (the Appstore flow through the Login
// URI, default configuration, no sign-in page) and seller two through the dashboard's Re-authorize
// link; seller three never does and is reauthorization_required at day 365. Webhooks go to a local
// receiver. No sleeps: every step moves the clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeAuthorizationCode } from '../../src/core/lwa.js';
import { NEW_SECRET, requestClientSecretRotation } from '../../src/server/ops/rotation.js';
import { sweepReauthorizationDue } from '../../src/server/ops/webhooks.js';
import { importSellers } from '../../src/server/sellers/import.js';
import type { TransferLine } from '../../src/server/sellers/transfer-format.js';
import type { AuditRecord } from '../../src/storage/store.js';
import { AMAZON_URL, Browser, PUBLIC_URL, api, rawRequest } from '../helpers/service.js';
import {
  CANARY_SECRET,
  browserCall,
  csrfOf,
  makeOpsService,
  passwordSession,
  startReceiver,
  type OpsService,
} from '../helpers/ops-service.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = 400;
const PASSWORD = 'correct horse battery staple';
// Amazon requires a new client secret every 180 days (a rotated secret lives 180 days): a 400-day
// year needs two rotations, the second before the first one's secret lapses at day 360.
const ROTATION_DAYS = [180, 350];
const WEBSITE = 'A1EMUSELLERNA01'; // seller one: website flow, renews through Seller Central
const APPSTORE = 'A1EMUSELLEREU01'; // seller two: Appstore flow, renews through the dashboard's link
const IMPORTED = 'A1EMUSELLERFE01'; // seller three: imported, never renews
const REGION = { [WEBSITE]: 'na', [APPSTORE]: 'eu', [IMPORTED]: 'fe' } as const;
const SELLERS = [WEBSITE, APPSTORE, IMPORTED] as const;
type Seller = (typeof SELLERS)[number];

/** Every audit record of a seller other than token releases and refreshes, oldest first. */
async function story(svc: OpsService, id: string): Promise<string[]> {
  await svc.app.context.audit.flush();
  const all: AuditRecord[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await svc.store.listAudit({
      sellingPartnerId: id,
      limit: 1000,
      ...(before ? { before } : {}),
    });
    all.push(...page);
    if (page.length < 1000) break;
    before = page.at(-1)!.id;
  }
  return all
    .filter((r) => !r.action.startsWith('token.'))
    .sort((a, b) => a.id - b.id)
    .map((r) => `${r.action} ${r.actor ?? '-'} ${r.outcome ?? '-'}`);
}

/** A browser flow ends on a page: its status and URL, failing loudly with the page's error code. */
async function finish(svc: OpsService, start: string): Promise<string> {
  const { res, url } = await new Browser(svc).follow(start);
  const body = await res.text();
  assert.equal(res.status, 200, `${url}: ${/<code>([a-z_]+)<\/code>/.exec(body)?.[1] ?? body.slice(0, 200)}`);
  return url;
}

// Its cost is the year itself: 28,800 token requests, each one a refresh (Amazon's access tokens
// live an hour and one is asked for every hour) — about 50 s of CPU. On a busy machine that can take
// minutes, hence its own timeout.
test(
  'a year of three sellers: website, Appstore and import; rotation; re-authorization two ways; one lapses',
  {
    timeout: 900_000,
  },
  async () => {
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();
    const receiver = await startReceiver();
    const svc = await makeOpsService({
      env: {
        SPAPI_AUTH_WEBHOOK_URL: receiver.url,
        SPAPI_AUTH_WEBHOOK_SECRET: 'year-test-webhook-secret-0000000000000000',
        SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD,
      },
      frozenClock: true,
      frozenEmulatorClock: true,
      logLevel: 'info',
    });
    const control = svc.emulator.control;
    let at = 0;
    /** Moves both clocks to `ms` after the start: the service's, and the emulator's through its control API. */
    const moveTo = async (ms: number): Promise<void> => {
      svc.advance(ms - at);
      at = ms;
      const { offset_s } = await control.clock(ms / 1000);
      assert.equal(offset_s, ms / 1000);
    };
    const uses = {
      ok: new Map<Seller, number>(),
      failed: new Map<Seller, { hour: number; code: string }[]>(),
    };
    const exchanges = new Map<Seller, number>(SELLERS.map((s) => [s, 0]));
    try {
      // ── Day 0: three sellers, three ways in ──
      await control.consentMode('auto', WEBSITE);
      const link = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'acct-1', marketplace: 'US' });
      await finish(svc, ((await link.json()) as { url: string }).url);
      exchanges.set(WEBSITE, 1);

      await control.consentMode('auto', APPSTORE);
      const appstore = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${APPSTORE}`;
      assert.ok((await finish(svc, appstore)).startsWith(`${PUBLIC_URL}/oauth/result?status=connected`));
      exchanges.set(APPSTORE, 1);

      // Seller three was connected by the app's own code: its refresh token comes in through an import.
      await control.consentMode('auto', IMPORTED);
      const redirectUri = `${PUBLIC_URL}/oauth/callback`;
      const consent = await svc.emulator.fetch(
        `${AMAZON_URL}/apps/authorize/consent?application_id=${svc.config.applicationId}&state=own&redirect_uri=${encodeURIComponent(redirectUri)}`,
        { redirect: 'manual' },
      );
      const code = new URL(consent.headers.get('location')!).searchParams.get('spapi_oauth_code')!;
      const lwa = { fetch: (r: Request) => svc.emulator.fetch(r), amazonUrl: AMAZON_URL };
      const own = await exchangeAuthorizationCode(
        { clientId: svc.config.lwaClientId, clientSecret: CANARY_SECRET },
        { code, redirectUri },
        lwa,
      );
      async function* lines(): AsyncGenerator<TransferLine> {
        yield {
          line: 1,
          kind: 'record',
          record: {
            selling_partner_id: IMPORTED,
            region: 'fe',
            refresh_token: own.refreshToken,
            user_ref: 'acct-3',
          },
        };
      }
      const imported = await importSellers(lines(), {
        store: svc.store,
        credentials: () => svc.ops.ring.credentials(),
        lwa,
        spapi: svc.amazon,
        ratePerSecond: 0,
        now: () => svc.app.context.now(),
      });
      assert.equal(imported.imported, 1, JSON.stringify(imported.failures));
      const refreshesBeforeYear = (await control.stats()).refresh_by_seller;
      assert.equal(refreshesBeforeYear[IMPORTED], 1, 'the import verified the token with one refresh');

      // ── The year, hour by hour ──
      const notificationsKey = await svc.key(['notifications:write']);
      let newSecret: string | undefined;
      let rotations = 0;
      for (let hour = 0; hour < DAYS * 24; hour++) {
        await moveTo(hour * HOUR);
        if (ROTATION_DAYS.includes(hour / 24)) {
          // The client secret is rotated: the emulator queues the new one, the service takes it.
          const before = svc.ops.ring.credentials().clientSecret;
          await requestClientSecretRotation({ amazon: svc.amazon, fetch: (r) => svc.emulator.fetch(r) });
          const n = (await control.notifications()).filter((x) => x.notificationType === NEW_SECRET).at(-1);
          assert.ok(n, 'the emulator queued the new secret');
          const res = await api(svc, 'POST', '/v1/notifications', n, notificationsKey);
          assert.equal(res.status, 200, await res.clone().text());
          assert.equal(((await res.json()) as { outcome: string }).outcome, 'accepted');
          newSecret = svc.ops.ring.credentials().clientSecret;
          assert.ok(newSecret !== before, 'switched to the new secret');
          rotations++;
        }
        if (hour === 340 * 24) {
          // Day 340, seller one: Seller Central → Manage Your Apps → Re-authorize runs the Appstore
          // workflow through the Login URI (no sign-in page configured).
          await control.consentMode('auto', WEBSITE);
          const renew = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${WEBSITE}`;
          assert.ok((await finish(svc, renew)).startsWith(`${PUBLIC_URL}/oauth/result?status=connected`));
          exchanges.set(WEBSITE, 2);
          // Seller two: an operator makes a re-authorization link on the dashboard and sends it.
          const call = browserCall(svc.app);
          const cookie = await passwordSession(call, PASSWORD);
          const csrf = csrfOf(await (await call(`/admin/sellers/${APPSTORE}`, cookie)).text());
          const made = await call(`/admin/sellers/${APPSTORE}/reauthorize`, cookie, { csrf, region: 'eu' });
          assert.equal(made.status, 200);
          const sent = /id="continue" href="([^"]+)"/.exec(await made.text())![1]!;
          await control.consentMode('auto', APPSTORE);
          assert.ok((await finish(svc, sent)).startsWith(`${PUBLIC_URL}/admin/connected?status=connected`));
          exchanges.set(APPSTORE, 2);
        }
        for (const id of SELLERS) {
          const res = await rawRequest(svc, 'GET', `/v1/sellers/${id}/access-token`, {
            authorization: `Bearer ${svc.apiKey}`,
          });
          if (res.status === 200) {
            uses.ok.set(id, (uses.ok.get(id) ?? 0) + 1);
          } else {
            const { error } = JSON.parse(res.body) as { error: { code: string } };
            uses.failed.set(id, [...(uses.failed.get(id) ?? []), { hour, code: error.code }]);
          }
        }
        // The service's re-authorization sweep (hourly in the service; once a simulated day is
        // enough here: an event's window is six days) and its webhook worker, on the same clock.
        if (hour % 24 === 0) {
          await sweepReauthorizationDue(svc.store, svc.app.context.now());
          await svc.ops.webhooks.runOnce();
        }
      }
      await svc.ops.webhooks.runOnce();

      // ── Zero failed token requests for the renewing sellers; seller three stops at day 365 ──
      assert.deepEqual(uses.failed.get(WEBSITE) ?? [], []);
      assert.deepEqual(uses.failed.get(APPSTORE) ?? [], []);
      assert.equal(uses.ok.get(WEBSITE), DAYS * 24);
      assert.equal(uses.ok.get(APPSTORE), DAYS * 24);
      const lapsed = uses.failed.get(IMPORTED) ?? [];
      assert.equal(lapsed[0]?.hour, 365 * 24, 'seller three fails first at the 365-day mark');
      assert.ok(lapsed.every((f) => f.code === 'seller_reauthorization_required'));
      assert.equal(uses.ok.get(IMPORTED), 365 * 24);
      for (const id of SELLERS) {
        const s = (await svc.store.getSeller({ sellingPartnerId: id, region: REGION[id] }))!;
        assert.equal(s.status, id === IMPORTED ? 'reauthorization_required' : 'active', id);
      }
      assert.equal(rotations, ROTATION_DAYS.filter((d) => d < DAYS).length);
      assert.ok(svc.ops.ring.credentials().clientSecret === newSecret, 'on the last rotated secret');

      // ── LWA refreshes within 1.05× of the minimum for the hours each seller was used ──
      // A token lives an hour and is asked for every hour, so each hourly use needs a new token,
      // except the use right after a code exchange (the exchange brings one). The import's own
      // verification refresh serves seller three's first hour.
      const stats = await control.stats();
      const ratios: Record<string, number> = {};
      for (const id of SELLERS) {
        const minimum = uses.ok.get(id)! - exchanges.get(id)!;
        const refreshes = stats.refresh_by_seller[id] ?? 0;
        ratios[id] = refreshes / minimum;
        assert.ok(refreshes >= minimum, `${id}: ${refreshes} refreshes < the minimum ${minimum}?`);
        assert.ok(refreshes <= 1.05 * minimum, `${id}: ${refreshes} refreshes for a minimum of ${minimum}`);
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `seller year: ${DAYS} days × 24 hourly uses × 3 sellers in ${seconds.toFixed(1)} s (${(process.cpuUsage(cpuAtStart).user / 1e6).toFixed(1)} s CPU); ` +
          `LWA refreshes / minimum: ${Object.entries(ratios)
            .map(([id, r]) => `${id} ${r.toFixed(4)}`)
            .join(', ')}`,
      );
      // After invalid_grant, no further LWA call is made for seller three.
      assert.equal(stats.token.refresh_token?.invalid_grant, 1);

      // ── Each webhook exactly once ──
      const events = receiver.received.map(
        (r) => JSON.parse(r.body) as { id: string; type: string; data: Record<string, unknown> },
      );
      assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event delivered twice');
      const seen = events
        .filter((e) => e.type.startsWith('seller.'))
        .map((e) => `${e.type} ${String(e.data.selling_partner_id)}`)
        .sort();
      assert.deepEqual(
        seen,
        [
          `seller.authorized ${APPSTORE}`,
          `seller.authorized ${APPSTORE}`,
          `seller.authorized ${IMPORTED}`,
          `seller.authorized ${WEBSITE}`,
          `seller.authorized ${WEBSITE}`,
          `seller.reauthorization_due ${APPSTORE}`,
          `seller.reauthorization_due ${IMPORTED}`,
          `seller.reauthorization_due ${WEBSITE}`,
          `seller.reauthorization_required ${IMPORTED}`,
        ].sort(),
      );
      // The due events came at day 335, each with the way back.
      for (const e of events.filter((x) => x.type === 'seller.reauthorization_due')) {
        const reauthorize = e.data.reauthorize as { api: { path: string; body: Record<string, unknown> } };
        assert.equal(reauthorize.api.path, '/v1/connect-sessions');
        assert.equal(reauthorize.api.body.selling_partner_id, e.data.selling_partner_id);
      }
      const start = svc.app.context.now() - at;
      assert.deepEqual(
        receiver.received
          .map((r) => JSON.parse(r.body) as { type: string; created_at: string })
          .filter((e) => e.type === 'seller.reauthorization_due')
          .map((e) => Date.parse(e.created_at) - start),
        [335 * DAY, 335 * DAY, 335 * DAY],
      );

      // ── The audit trail of each seller tells its story ──
      assert.deepEqual(await story(svc, WEBSITE), [
        'seller.authorized website ok',
        'seller.authorized appstore ok',
      ]);
      // Day 340's two records carry the same (fake) time; the link's record goes through the audit
      // buffer and the authorization's through the store's transaction, so their ids may come in
      // either order.
      const appstoreStory = await story(svc, APPSTORE);
      assert.equal(appstoreStory[0], 'seller.authorized appstore ok');
      assert.deepEqual(appstoreStory.slice(1).sort(), [
        'connect_session.created admin:password ok',
        'seller.authorized website ok',
      ]);
      assert.deepEqual(await story(svc, IMPORTED), [
        'seller.authorized import ok',
        'seller.reauthorization_required system reauthorization_required',
      ]);
    } finally {
      await svc.close();
      await receiver.close();
    }
  },
);
