// docs/security.md T-B17 / T-C8 in the core: an LWA that rotates the refresh token on every refresh and
// rejects a spent one. The rotated token must reach the vault in the refresh's compare-and-set, so
// the next refresh presents it and the seller is never locked out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processRefreshTokenResponse } from '../../src/core/lwa.js';
import { createMemoryTokenVault } from '../../src/core/memory-vault.js';
import { createTokenManager } from '../../src/core/token-manager.js';
import type { SellerTokenKey, TokenVault } from '../../src/core/token-vault.js';

const KEY: SellerTokenKey = { sellingPartnerId: 'A1ROTATING', region: 'na' };
const FIRST = 'Atzr|rotation-0';
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A fake LWA in rotation mode: each refresh spends the presented token and issues the next one. */
function rotatingLwa(options: { rotate?: boolean } = {}) {
  let live = FIRST;
  let n = 0;
  const presented: string[] = [];
  let reused = 0;
  const fetch = async (r: Request): Promise<Response> => {
    const token = new URLSearchParams(await r.text()).get('refresh_token')!;
    presented.push(token);
    if (token !== live) {
      reused++;
      return json({ error: 'invalid_grant', error_description: 'The request has an invalid grant' }, 400);
    }
    n++;
    if (options.rotate !== false) live = `Atzr|rotation-${n}`;
    return json({
      access_token: `Atza|access-${n}`,
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: live,
    });
  };
  return { fetch, presented, reused: () => reused, live: () => live };
}

function manager(vault: TokenVault, fetch: (r: Request) => Promise<Response>, clock: { t: number }) {
  return createTokenManager({
    credentials: { clientId: 'cid', clientSecret: 'SECRET-ROT' },
    vault,
    fetch,
    now: () => clock.t,
    sleep: async () => {},
    random: () => 0,
  });
}

test('processRefreshTokenResponse returns a rotated refresh token, validated like the code grant', async () => {
  const ok = (refresh: unknown) =>
    json({ access_token: 'Atza|a', token_type: 'bearer', expires_in: 3600, refresh_token: refresh });
  assert.equal((await processRefreshTokenResponse(ok('Atzr|next'))).refreshToken, 'Atzr|next');
  for (const bad of [null, '', 'Atzr|a b', 'Atzr|\u0000', 'Atzr|' + 'r'.repeat(3000), 42]) {
    await assert.rejects(processRefreshTokenResponse(ok(bad)), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, 'invalid_token_response');
      assert.ok(typeof bad !== 'string' || bad === '' || !err.message!.includes(bad));
      return true;
    });
  }
});

test('a rotated refresh token is persisted by the commit: the second refresh presents it (T-B17)', async () => {
  const clock = { t: 1_000_000_000 };
  const vault = createMemoryTokenVault({ now: () => clock.t });
  vault.put(KEY, FIRST);
  const lwa = rotatingLwa();
  const tokens = manager(vault, lwa.fetch, clock);
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|access-1');
  assert.equal((await vault.load(KEY))!.refreshToken, 'Atzr|rotation-1');
  clock.t += 3_600_000; // expired: the next call must refresh
  assert.equal((await tokens.getAccessToken(KEY)).accessToken, 'Atza|access-2');
  assert.deepEqual(lwa.presented, [FIRST, 'Atzr|rotation-1']);
  assert.equal(lwa.reused(), 0);
  assert.equal((await vault.load(KEY))!.refreshToken, 'Atzr|rotation-2');
  assert.equal(vault.inspect(KEY)?.status, 'active');
});

test('three managers on one vault, 60 concurrent callers, three generations: no spent token is ever presented (T-C8)', async () => {
  const clock = { t: 1_000_000_000 };
  const vault = createMemoryTokenVault({ now: () => clock.t });
  vault.put(KEY, FIRST);
  const lwa = rotatingLwa();
  const managers = [0, 1, 2].map(() => manager(vault, lwa.fetch, clock));
  for (let generation = 1; generation <= 3; generation++) {
    const got = await Promise.all(Array.from({ length: 60 }, (_, i) => managers[i % 3]!.getAccessToken(KEY)));
    assert.deepEqual(new Set(got.map((t) => t.accessToken)), new Set([`Atza|access-${generation}`]));
    clock.t += 3_600_000;
  }
  assert.equal(lwa.presented.length, 3);
  assert.equal(lwa.reused(), 0);
  assert.equal((await vault.load(KEY))!.refreshToken, lwa.live());
});

test('an echoed refresh token is not passed as rotated; a rotated one is passed exactly', async () => {
  for (const rotate of [false, true]) {
    const clock = { t: 1_000_000_000 };
    const inner = createMemoryTokenVault({ now: () => clock.t });
    inner.put(KEY, FIRST);
    const seen: Array<string | undefined> = [];
    const spy: TokenVault = {
      ...inner,
      commitRefresh: (k, lease, token, rotated) => {
        seen.push(rotated);
        return inner.commitRefresh(k, lease, token, rotated);
      },
    };
    await manager(spy, rotatingLwa({ rotate }).fetch, clock).getAccessToken(KEY);
    assert.deepEqual(seen, [rotate ? 'Atzr|rotation-1' : undefined]);
  }
});

test('memory vault: a commit on a lost lease stores neither the access nor the rotated refresh token', async () => {
  const clock = { t: 1_000_000_000 };
  const vault = createMemoryTokenVault({ now: () => clock.t });
  vault.put(KEY, FIRST);
  const paused = (await vault.acquireLease(KEY, 1000))!;
  clock.t += 1001; // the paused holder's lease expired and was taken over
  const fresh = (await vault.acquireLease(KEY, 1000))!;
  const stale = { accessToken: 'Atza|stale', expiresAt: clock.t + 1 };
  assert.equal(await vault.commitRefresh(KEY, paused, stale, 'Atzr|stale'), false);
  const before = await vault.load(KEY);
  assert.equal(before!.refreshToken, FIRST);
  assert.equal(before!.accessToken, null);
  const token = { accessToken: 'Atza|new', expiresAt: clock.t + 3_600_000 };
  assert.equal(await vault.commitRefresh(KEY, fresh, token, 'Atzr|new'), true);
  const after = await vault.load(KEY);
  assert.equal(after!.refreshToken, 'Atzr|new');
  assert.deepEqual(after!.accessToken, token);
  assert.equal(after!.version, before!.version + 1);
});
