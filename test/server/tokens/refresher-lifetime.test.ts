// The proactive refresher learning the token lifetime from a refresh that returns a token expiring
// sooner than the listed one (stored tokens issued for longer than LWA issues now, as in the T-C5
// soak's seeded fleet). Fake store, fake refresh and a fake clock: no emulator, no real waiting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SellerTokenKey } from '../../../src/core/token-vault.js';
import { createLogger } from '../../../src/server/http/log.js';
import { createRefresher } from '../../../src/server/tokens/refresher.js';
import type { RefreshDueEntry } from '../../../src/storage/store.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const LIFETIME = 20_000;

describe('refresher: lifetime shown by a token that expires sooner than the listed one', () => {
  it('after the start-up pass, renews each token before it expires and once per lifetime', async () => {
    const clock = { t: T0 };
    const now = (): number => clock.t;
    // Stored tokens last 40 s; every refresh issues a 20 s token (the soak's start).
    const expiry = new Map<string, number>(
      Array.from({ length: 5 }, (_, i) => [`A1LIFE${i}`, T0 + 2 * LIFETIME] as const),
    );
    const calls: { at: number; id: string; left: number }[] = [];
    const store = {
      async listRefreshDue(q: { before: number; after?: RefreshDueEntry | null; limit?: number }) {
        const rows = [...expiry]
          .filter(([, e]) => e < q.before)
          .map(([id, e]): RefreshDueEntry => ({
            sellingPartnerId: id,
            region: 'na',
            accessTokenExpiresAt: e,
          }))
          .sort(
            (a, b) =>
              a.accessTokenExpiresAt - b.accessTokenExpiresAt ||
              (a.sellingPartnerId < b.sellingPartnerId ? -1 : 1),
          );
        const a = q.after;
        const from =
          a == null
            ? rows
            : rows.filter(
                (r) =>
                  r.accessTokenExpiresAt > a.accessTokenExpiresAt ||
                  (r.accessTokenExpiresAt === a.accessTokenExpiresAt &&
                    r.sellingPartnerId > a.sellingPartnerId),
              );
        return from.slice(0, q.limit ?? 100);
      },
    };
    const refresh = async (key: SellerTokenKey, minExpiresAt: number) => {
      const e = expiry.get(key.sellingPartnerId)!;
      if (e >= minExpiresAt) return { accessToken: 'kept', expiresAt: e };
      calls.push({ at: now(), id: key.sellingPartnerId, left: e - now() });
      const token = { accessToken: `t${calls.length}`, expiresAt: now() + LIFETIME };
      expiry.set(key.sellingPartnerId, token.expiresAt);
      return token;
    };
    const refresher = createRefresher({
      store,
      refresh,
      ratePerSecond: 10,
      log: createLogger({ sink: () => undefined, now }),
      now,
      random: () => 0.5,
    });
    while (clock.t < T0 + 90_000) {
      const delay = await refresher.runOnce();
      await refresher.settle();
      clock.t += delay;
    }

    // Start-up: on the one-hour default the refresher renews every listed token at once; the new
    // tokens expire sooner than the stored ones and show the lifetime, which plans everything after
    // that pass: each token renewed before it expires, close to its own deadline, once per
    // lifetime. (Left on the default, with every seller in a 30 s backoff, the tokens expired
    // unrenewed, and the end of the backoffs renewed them all at once.)
    const startUp = calls.filter((c) => c.left > LIFETIME);
    assert.deepEqual(
      startUp.map((c) => c.id).sort(),
      [...expiry.keys()].sort(),
      'the start-up pass renewed each seller once',
    );
    const later = calls.slice(startUp.length);
    assert.ok(
      later.length >= 2 * expiry.size,
      `the fleet was renewed in the steady state (${later.length} renewals)`,
    );
    assert.deepEqual(
      later.filter((c) => c.left <= 0 || c.left > LIFETIME / 2),
      [],
      'sellers renewed after expiry or more than half a lifetime before it',
    );
    for (const id of expiry.keys()) {
      const at = later.filter((c) => c.id === id).map((c) => c.at);
      for (let i = 1; i < at.length; i++) {
        assert.ok(
          at[i]! - at[i - 1]! >= LIFETIME / 2,
          `${id} renewed twice within ${at[i]! - at[i - 1]!} ms`,
        );
      }
    }
    for (const [id, e] of expiry) assert.ok(e > clock.t, `${id}'s token expired`);
  });
});
