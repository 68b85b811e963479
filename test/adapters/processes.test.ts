// Three worker processes sharing one seller through the service, for each of the three SDKs: each
// process runs the SDK through its adapter with the token client; the emulator counts one LWA
// refresh for all of them. The emulator keeps Amazon's rate for the operation, so some calls may be
// throttled (429): each still carried a token SP-API accepted, which is what is counted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { devApplication } from '../../src/emulator/dev-app.js';
import { createKey } from '../helpers/e2e.js';
import { startLocalService, CANARY_SECRET } from '../helpers/service.js';
import { closeAfter } from '../helpers/after.js';

const worker = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));

for (const sdk of ['amazon-sp-api', 'sp-api-sdk', 'official-sdk'] as const) {
  test(`${sdk}: 3 processes × 200 concurrent calls through the service: 1 LWA call`, async (t) => {
    const svc = closeAfter(t, await startLocalService({ SPAPI_AUTH_KEY_RATE_LIMIT: '0' }));
    const control = svc.emulator.emulator.control;
    await control.consentMode('auto');
    const app = devApplication(svc.publicUrl);
    const { code } = await (async () => {
      const q = new URLSearchParams({ application_id: app.id, state: 's' });
      const res = await svc.emulator.emulator.fetch(
        new Request(`https://sellercentral.amazon.com/apps/authorize/consent?${q}`, { redirect: 'manual' }),
      );
      return { code: new URL(res.headers.get('location')!).searchParams.get('spapi_oauth_code')! };
    })();
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      client_id: app.clientId,
      client_secret: CANARY_SECRET,
    });
    const exchanged = await svc.emulator.emulator.fetch(
      new Request('https://api.amazon.com/auth/o2/token', { method: 'POST', body }),
    );
    const { refresh_token: refreshToken } = (await exchanged.json()) as { refresh_token: string };
    await svc.store.saveAuthorization({
      sellingPartnerId: 'A1EMUSELLERNA01',
      region: 'na',
      kind: 'seller',
      userRef: 'u1',
      marketplace: 'US',
      refreshToken,
    });
    const apiKey = await createKey(svc.store, ['tokens:read']);
    const refreshes = async () =>
      Object.values((await control.stats()).token.refresh_token ?? {}).reduce((a, b) => a + b, 0);
    const before = await refreshes();
    const run = () =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', worker, sdk, svc.publicUrl, apiKey, String(svc.emulator.port), '200'],
        { timeout: 120_000 },
      );
    const outs = await Promise.all([run(), run(), run()]);
    for (const o of outs) {
      const outcomes = JSON.parse(o.stdout) as Record<string, number>;
      // Every call got a token SP-API accepted: it answered (200) or throttled the operation (429).
      assert.deepEqual(
        Object.keys(outcomes).filter((k) => k !== 'ok' && k !== 'QuotaExceeded'),
        [],
        o.stdout,
      );
      assert.equal((outcomes.ok ?? 0) + (outcomes.QuotaExceeded ?? 0), 200);
    }
    // SP-API saw no refused token: only answers and throttles.
    const statuses = Object.keys(
      (await control.stats()).spapi['/sellers/v1/marketplaceParticipations'] ?? {},
    );
    assert.deepEqual(
      statuses.filter((s) => s !== '200' && s !== '429'),
      [],
    );
    assert.ok(statuses.includes('200'));
    assert.equal((await refreshes()) - before, 1);
  });
}
