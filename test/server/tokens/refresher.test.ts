// The proactive refresher against the in-process emulator, on a fake clock driven by the
// refresher's own "next pass" delays: deterministic, no real waiting.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AccessToken, SellerTokenKey } from '../../../src/core/token-vault.js';
import { createLogger } from '../../../src/server/http/log.js';
import { createRefresher, type Refresher } from '../../../src/server/tokens/refresher.js';
import { createService, startRefresher, type ServiceParts } from '../../../src/server/service.js';
import { openStore } from '../../../src/storage/open.js';
import { createKeyRing } from '../../../src/storage/crypto.js';
import { loadConfig } from '../../../src/config.js';
import { createEmulator, type Emulator } from '../../../src/emulator/index.js';
import { devApplication } from '../../../src/emulator/dev-app.js';
import type { Store } from '../../../src/storage/store.js';
import { grantAtEmulator, naSellers } from '../../helpers/grants.js';
import { CANARY_SECRET, PUBLIC_URL, serviceEnv } from '../../helpers/service.js';
import { markReauthorizationRequired } from '../../helpers/sellers.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

interface World {
  readonly store: Store;
  readonly emulator: Emulator;
  readonly clock: { t: number };
  readonly refresher: Refresher;
  readonly ids: readonly string[];
  readonly results: { at: number; id: string; outcome: string }[];
  /** Refresh-grant calls at the emulator, by outcome. */
  refreshCalls(): Promise<{ ok: number; invalidGrant: number }>;
  /** Runs passes (advancing the clock by each pass's delay) until `until` or the clock passes `end`. */
  run(end: number, until?: () => Promise<boolean>): Promise<{ at: number; calls: number }[]>;
}

const open: Store[] = [];
const services: ServiceParts[] = [];
after(async () => {
  for (const service of services) await service.close();
  for (const store of open) await store.close().catch(() => undefined);
});

/** Sellers consented at the emulator and stored with the tokens of their code exchange, at T0. */
async function world(sellers: number, ratePerSecond: number): Promise<World> {
  const clock = { t: T0 };
  const now = (): number => clock.t;
  const ids = Array.from({ length: sellers }, (_, i) => `A1REFRESH${String(i).padStart(4, '0')}`);
  const app = { ...devApplication(PUBLIC_URL), clientSecret: CANARY_SECRET };
  const emulator = createEmulator({
    applications: [app],
    sellers: naSellers(ids),
    now,
  });
  const config = loadConfig(serviceEnv(app), { mode: 'serve' });
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', Buffer.alloc(32, 3)]]), now });
  open.push(store);
  for (const id of ids) {
    const grant = await grantAtEmulator(emulator, app, CANARY_SECRET, id);
    await store.saveAuthorization({
      sellingPartnerId: id,
      region: 'na',
      kind: 'seller',
      userRef: `u-${id}`,
      marketplace: 'US',
      refreshToken: grant.refreshToken,
      accessToken: { accessToken: grant.accessToken, expiresAt: T0 + grant.expiresIn * 1000 },
    });
  }
  const log = createLogger({ sink: () => undefined, level: 'warn' });
  const service = await createService(config, {
    store,
    log,
    fetch: (req) => emulator.fetch(req),
    now,
  });
  services.push(service);
  const tokens = service.tokens;
  const results: World['results'] = [];
  const refresher = createRefresher({
    store,
    refresh: (key, min) => tokens.refreshAccessToken(key, { minExpiresAt: min }),
    ratePerSecond,
    log,
    now,
    random: () => 0.5,
    onResult: (r) => results.push({ at: clock.t, id: r.key.sellingPartnerId, outcome: r.outcome }),
  });
  const refreshCalls = async (): Promise<{ ok: number; invalidGrant: number }> => {
    const r = ((await emulator.control.stats()).token.refresh_token ?? {}) as Record<string, number>;
    return { ok: r.ok ?? 0, invalidGrant: r.invalid_grant ?? 0 };
  };
  return {
    store,
    emulator,
    clock,
    refresher,
    ids,
    results,
    refreshCalls,
    async run(end, until) {
      const timeline: { at: number; calls: number }[] = [];
      let before = await refreshCalls();
      for (let pass = 0; pass < 20_000 && clock.t < end; pass++) {
        const delay = await refresher.runOnce();
        await refresher.settle();
        const calls = await refreshCalls();
        const made = calls.ok + calls.invalidGrant - before.ok - before.invalidGrant;
        if (made > 0) timeline.push({ at: clock.t, calls: made });
        before = calls;
        if (until !== undefined && (await until())) break;
        clock.t += delay;
      }
      return timeline;
    },
  };
}

describe('proactive refresher', () => {
  it('spreads the refreshes of sellers expiring together under the rate limit, before requests would refresh', async () => {
    const limit = 2;
    const w = await world(12, limit);
    const expiry = T0 + HOUR;
    const stored = await w.store.getSeller({ sellingPartnerId: w.ids[0]!, region: 'na' });
    assert.equal(
      stored?.accessTokenExpiresAt,
      expiry,
      'each seller starts with the token of its code exchange',
    );
    assert.deepEqual(await w.refreshCalls(), { ok: 0, invalidGrant: 0 });

    w.clock.t = T0 + 45 * 60_000;
    const timeline = await w.run(expiry, async () => (await w.refreshCalls()).ok >= 12);
    const times = timeline.flatMap((p) => Array.from({ length: p.calls }, () => p.at));
    assert.equal(times.length, 12, 'one LWA refresh per seller');
    // Every one-second window holds at most `limit` refreshes.
    for (const start of times) {
      const inWindow = times.filter((t) => t >= start && t < start + 1000).length;
      assert.ok(inWindow <= limit, `${inWindow} refreshes in the second from ${start - T0} ms`);
    }
    // Not all at once as soon as seen: started shortly before the deadline, and all of them
    // before the earliest point where a request would refresh (expiry − 6 min).
    assert.ok(times[0]! > T0 + 50 * 60_000, `first refresh at ${(times[0]! - T0) / 60_000} min`);
    assert.ok(times.at(-1)! < expiry - 6 * 60_000, `last refresh at ${(times.at(-1)! - T0) / 60_000} min`);
    assert.ok(times.at(-1)! - times[0]! >= ((12 - 1) / limit) * 1000, 'spread at the paced rate');
    for (const id of w.ids) {
      const s = await w.store.getSeller({ sellingPartnerId: id, region: 'na' });
      assert.ok(s!.accessTokenExpiresAt! > expiry, `${id} holds a new token`);
    }
    assert.ok(w.results.every((r) => r.outcome === 'refreshed'));

    // The new tokens are an hour away: nothing more to do for a while.
    const later = await w.run(w.clock.t + 5 * 60_000);
    assert.deepEqual(later, []);
  });

  it('skips sellers that need re-authorization and stops after invalid_grant', async () => {
    const w = await world(3, 5);
    const [ok, revoked, reauth] = w.ids as [string, string, string];
    await w.emulator.control.revoke(revoked);
    await markReauthorizationRequired(w.store, { sellingPartnerId: reauth, region: 'na' });
    w.clock.t = T0 + 50 * 60_000;
    await w.run(T0 + HOUR - 6 * 60_000);
    assert.deepEqual(await w.refreshCalls(), { ok: 1, invalidGrant: 1 });
    assert.deepEqual(w.results.map((r) => [r.id, r.outcome]).sort(), [
      [ok, 'refreshed'],
      [revoked, 'reauthorization_required'],
    ]);
    assert.equal(
      (await w.store.getSeller({ sellingPartnerId: revoked, region: 'na' }))?.status,
      'reauthorization_required',
    );
    // Past every old expiry: still no further LWA call for the two sellers.
    await w.run(T0 + HOUR + 10 * 60_000);
    assert.deepEqual(await w.refreshCalls(), { ok: 1, invalidGrant: 1 });
  });

  it('lets a refresh in flight finish on stop, and is off at rate 0', async () => {
    let t = T0;
    const store = await openStore('memory:', {
      keyRing: createKeyRing([['k1', Buffer.alloc(32, 7)]]),
      now: () => t,
    });
    await store.saveAuthorization({
      sellingPartnerId: 'A1STOP',
      region: 'eu',
      kind: 'seller',
      userRef: 'u1',
      marketplace: 'DE',
      refreshToken: 'Atzr|stop-test',
      accessToken: { accessToken: 'Atza|old', expiresAt: T0 + 60_000 },
    });
    let finished = false;
    let release!: () => void;
    const refresher = createRefresher({
      store,
      refresh: async (key: SellerTokenKey): Promise<AccessToken> => {
        assert.deepEqual(key, { sellingPartnerId: 'A1STOP', region: 'eu' });
        await new Promise<void>((r) => (release = r));
        finished = true;
        return { accessToken: 'Atza|new', expiresAt: t + HOUR };
      },
      ratePerSecond: 1,
      log: createLogger({ sink: () => undefined, level: 'error' }),
      now: () => t,
    });
    await refresher.runOnce();
    let stopped = false;
    const stopping = refresher.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, 'stop waits for the refresh in flight');
    release();
    await stopping;
    assert.equal(finished, true);
    t += 1;

    const unused = { refreshAccessToken: () => Promise.reject(new Error('never called')) };
    const log = createLogger({ sink: () => undefined, level: 'error' });
    assert.equal(startRefresher({ refreshRateLimit: 0 }, store, unused, log), undefined);
    assert.throws(
      () => createRefresher({ store, refresh: unused.refreshAccessToken, ratePerSecond: 0, log }),
      TypeError,
    );
  });
});
