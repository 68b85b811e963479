// The proactive refresher's hot set (only sellers asked for within the idle window are renewed)
// and sharing the due list between instances through claims. Fake store, fake refresh and a fake
// clock: no emulator, no real waiting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SellerTokenKey } from '../../../src/core/token-vault.js';
import { createLogger } from '../../../src/server/http/log.js';
import {
  createRefresher,
  type HotRefreshDueQuery,
  type RefreshClaimQuery,
} from '../../../src/server/tokens/refresher.js';
import type { RefreshDueEntry } from '../../../src/storage/store.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const LIFETIME = 30_000;
const log = createLogger({ sink: () => undefined });

/** Sellers with a token expiry and a last use; list and claim as the SQL store does. */
function fakeStore(clock: { t: number }) {
  const rows = new Map<string, { expiresAt: number; usedAt: number | null; claimUntil: number }>();
  const queries: HotRefreshDueQuery[] = [];
  const due = (q: { before: number; usedSince?: number }): RefreshDueEntry[] =>
    [...rows]
      .filter(
        ([, r]) =>
          r.expiresAt < q.before &&
          (q.usedSince === undefined || (r.usedAt !== null && r.usedAt >= q.usedSince)),
      )
      .map(([id, r]) => ({ sellingPartnerId: id, region: 'na' as const, accessTokenExpiresAt: r.expiresAt }))
      .sort(
        (a, b) =>
          a.accessTokenExpiresAt - b.accessTokenExpiresAt ||
          (a.sellingPartnerId < b.sellingPartnerId ? -1 : 1),
      );
  return {
    rows,
    queries,
    async listRefreshDue(q: HotRefreshDueQuery) {
      queries.push(q);
      const a = q.after;
      return due(q)
        .filter((r) => !q.unclaimed || rows.get(r.sellingPartnerId)!.claimUntil <= clock.t)
        .filter(
          (r) =>
            a == null ||
            r.accessTokenExpiresAt > a.accessTokenExpiresAt ||
            (r.accessTokenExpiresAt === a.accessTokenExpiresAt && r.sellingPartnerId > a.sellingPartnerId),
        )
        .slice(0, q.limit ?? 100);
    },
    async claimRefreshDue(q: RefreshClaimQuery) {
      const got = due(q)
        .filter((e) => rows.get(e.sellingPartnerId)!.claimUntil <= clock.t)
        .slice(0, q.limit);
      for (const e of got) rows.get(e.sellingPartnerId)!.claimUntil = clock.t + q.claimForMs;
      return got;
    },
  };
}

/** A refresh that issues a LIFETIME token unless the held one lasts until `minExpiresAt`. */
function refreshOf(store: ReturnType<typeof fakeStore>, clock: { t: number }, calls: string[]) {
  return async (key: SellerTokenKey, minExpiresAt: number) => {
    const row = store.rows.get(key.sellingPartnerId)!;
    if (row.expiresAt >= minExpiresAt) return { accessToken: 'kept', expiresAt: row.expiresAt };
    calls.push(key.sellingPartnerId);
    row.expiresAt = clock.t + LIFETIME;
    return { accessToken: `t${calls.length}`, expiresAt: row.expiresAt };
  };
}

describe('refresher: hot set', () => {
  it('renews only sellers used within the idle window; a seller used again re-enters it', async () => {
    const clock = { t: T0 };
    const now = (): number => clock.t;
    const store = fakeStore(clock);
    store.rows.set('A1HOT', { expiresAt: T0 + LIFETIME, usedAt: T0, claimUntil: 0 });
    store.rows.set('A1IDLE', { expiresAt: T0 + LIFETIME, usedAt: T0, claimUntil: 0 });
    const calls: string[] = [];
    const refresher = createRefresher({
      store: { listRefreshDue: (q) => store.listRefreshDue(q) },
      refresh: refreshOf(store, clock, calls),
      ratePerSecond: 10,
      idleAfterMs: 40_000,
      lifetimeMs: LIFETIME,
      log,
      now,
      random: () => 0.5,
    });
    const runUntil = async (end: number, each?: () => void): Promise<void> => {
      while (clock.t < end) {
        each?.();
        const delay = await refresher.runOnce();
        await refresher.settle();
        clock.t += Math.min(delay, 1000);
      }
    };
    // A1HOT is used every 2 s; A1IDLE only at T0.
    let lastUse = T0;
    const useHot = (): void => {
      if (clock.t - lastUse >= 2000) {
        lastUse = clock.t;
        store.rows.get('A1HOT')!.usedAt = clock.t;
      }
    };
    await runUntil(T0 + 150_000, useHot);
    const idleCalls = calls.filter((c) => c === 'A1IDLE').length;
    const hotCalls = calls.filter((c) => c === 'A1HOT').length;
    // A1IDLE: renewed while its use at T0 was inside the window (its first renewal, ~24 s after
    // T0), never after T0 + 40 s.
    assert.equal(idleCalls, 1, calls.join(','));
    // A1HOT: every token renewed before expiry over 150 s of 30 s tokens.
    assert.ok(hotCalls >= 5, `hot seller renewed ${hotCalls} times`);
    assert.ok(store.rows.get('A1HOT')!.expiresAt > clock.t, 'the hot seller always holds a valid token');
    assert.ok(
      store.queries.every((q) => q.usedSince !== undefined && q.usedSince <= clock.t - 40_000 + 1000),
      'every listing asks for the window',
    );

    // A1IDLE is asked for again (its request refreshes on demand: here its row gets a new token and
    // a use): it is renewed ahead of time again.
    store.rows.set('A1IDLE', { expiresAt: clock.t + LIFETIME, usedAt: clock.t, claimUntil: 0 });
    const before = calls.length;
    await runUntil(clock.t + 30_000, useHot);
    assert.ok(calls.slice(before).includes('A1IDLE'));
  });

  it('idleAfterMs 0 renews every active seller (no window in the listing)', async () => {
    const clock = { t: T0 };
    const store = fakeStore(clock);
    store.rows.set('A1NEVERUSED', { expiresAt: T0 + LIFETIME, usedAt: null, claimUntil: 0 });
    const calls: string[] = [];
    const refresher = createRefresher({
      store: { listRefreshDue: (q) => store.listRefreshDue(q) },
      refresh: refreshOf(store, clock, calls),
      ratePerSecond: 10,
      lifetimeMs: LIFETIME,
      log,
      now: () => clock.t,
    });
    while (clock.t < T0 + 100_000) {
      const delay = await refresher.runOnce();
      await refresher.settle();
      clock.t += delay;
    }
    assert.ok(calls.length >= 3);
    assert.ok(store.queries.every((q) => q.usedSince === undefined));
  });
});

describe('refresher: instances share the due list through claims', () => {
  it('three refreshers over one store: each due seller refreshed once, the work split between them', async () => {
    const clock = { t: T0 };
    const now = (): number => clock.t;
    const store = fakeStore(clock);
    // 600 sellers already due (tokens expiring within a few seconds), all in use.
    for (let i = 0; i < 600; i++) {
      store.rows.set(`A1DUE${String(i).padStart(4, '0')}`, {
        expiresAt: T0 + 5_000,
        usedAt: T0,
        claimUntil: 0,
      });
    }
    const calls: string[][] = [[], [], []];
    const refreshers = calls.map((mine) =>
      createRefresher({
        store,
        refresh: (key, min) => {
          const before = store.rows.get(key.sellingPartnerId)!.expiresAt;
          return refreshOf(
            store,
            clock,
            mine,
          )(key, min).then((t) => {
            if (t.expiresAt === before && before < min) throw new Error('not refreshed');
            return t;
          });
        },
        ratePerSecond: 50,
        idleAfterMs: 7_200_000,
        lifetimeMs: LIFETIME,
        log,
        now,
        random: () => 0.5,
      }),
    );
    // Round-robin passes on one clock, as three processes would interleave.
    const next = [0, 0, 0];
    while (clock.t < T0 + 20_000) {
      for (let i = 0; i < 3; i++) {
        if (next[i]! > clock.t) continue;
        next[i] = clock.t + (await refreshers[i]!.runOnce());
        await refreshers[i]!.settle();
      }
      clock.t = Math.min(...next);
    }
    const all = calls.flat();
    assert.equal(all.length, 600, 'every due seller refreshed');
    assert.equal(new Set(all).size, 600, 'none twice');
    // Three instances at 50/s each: about a third each (claims are batches of 2 s of work).
    for (const mine of calls)
      assert.ok(mine.length >= 100, `shares: ${calls.map((c) => c.length).join(',')}`);
  });
});
