// Engine-level cases shared by sqlite.test.ts and postgres.test.ts: secrets at rest, processes
// racing on one database, migrations.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { generateKey, parseKeyRing } from '../../src/storage/index.js';
import type { SellerRecord, Store, StoreOptions } from '../../src/storage/index.js';
import { authorization, oauthTransaction } from './contract/kit.js';
import type { RaceConfig } from './fixtures/race-child.js';
import { runChild } from './helpers.js';

export const KEYS = `k1:${generateKey()}`;
export const KEY_RING = parseKeyRing(KEYS);
const CHILD = fileURLToPath(new URL('./fixtures/race-child.ts', import.meta.url));

/** Markers that must never appear in clear in the database. */
export const MARKERS = {
  refresh: 'Atzr|IwEBIMARKER-REFRESH-7f3a',
  access: 'Atza|IwEBIMARKER-ACCESS-9c1d',
  clientSecret: 'amzn1.oa2-cs.v1.MARKERCLIENTSECRET42',
  verifier: 'MARKER-PKCE-VERIFIER-5e6f',
  sessionData: 'MARKER-SESSION-RETURN-8a9b',
};

/** Stores one of every secret-bearing record, as a full flow would. */
export async function storeEverySecret(store: Store): Promise<void> {
  await store.saveAuthorization(
    authorization({
      refreshToken: MARKERS.refresh,
      accessToken: { accessToken: MARKERS.access, expiresAt: Date.now() + 3_600_000 },
      events: [
        {
          id: 'evt-1',
          type: 'seller.authorized',
          createdAt: Date.now(),
          data: { selling_partner_id: 'A3FHEXAMPLEYWS' },
        },
      ],
      audit: [{ action: 'seller.authorized', sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' }],
    }),
  );
  const lease = await store.acquireRefreshLease(
    { sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' },
    'o',
    10_000,
  );
  assert.ok(lease);
  assert.ok(
    await store.commitRefresh({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' }, lease, {
      accessToken: MARKERS.access,
      expiresAt: Date.now() + 3_600_000,
    }),
  );
  await store.saveAppSecret({
    id: 's1',
    clientId: 'amzn1.application-oa2-client.x',
    secret: MARKERS.clientSecret,
    expiresAt: null,
  });
  await store.createOAuthTransaction({
    stateHash: 'st-hash',
    bindingHash: 'binding',
    flow: 'website',
    kind: 'seller',
    marketplace: 'US',
    region: 'na',
    userRef: 'u',
    returnTo: null,
    expectedSellingPartnerId: null,
    pkceVerifier: MARKERS.verifier,
    expiresAt: Date.now() + 600_000,
  });
  await store.createSession({
    tokenHash: 'sess',
    type: 'appstore',
    expiresAt: Date.now() + 600_000,
    payload: { amazon_state: MARKERS.sessionData },
  });
}

/** Asserts that `dump` holds none of the markers nor any LWA token prefix. */
export function assertNoSecretsIn(dump: string, where: string): void {
  assert.ok(dump.length > 1000, `${where}: the dump is suspiciously small (${dump.length})`);
  assert.ok(dump.includes('A3FHEXAMPLEYWS'), `${where}: the dump does not even hold the seller id`);
  for (const needle of ['Atza|', 'Atzr|', ...Object.values(MARKERS)]) {
    assert.ok(!dump.includes(needle), `${where} holds ${needle.slice(0, 6)}… in clear`);
  }
}

/** Two processes race `attempts` times each on one lease / one transaction; resolves to total wins. */
export async function raceProcesses(
  base: Pick<RaceConfig, 'engine' | 'path' | 'url' | 'schema'>,
  mode: RaceConfig['mode'],
  target: { sellingPartnerId?: string; stateHash?: string },
  processes = 2,
  attempts = 10,
  ttlMs?: number,
): Promise<number> {
  // Child start-up (tsx) takes a while on a loaded machine; start together well after that.
  const startAt = processes === 1 ? 0 : Date.now() + 4000;
  const results = await Promise.all(
    Array.from({ length: processes }, (_, i) =>
      runChild<{ wins: number }>(CHILD, [
        JSON.stringify({
          ...base,
          ...target,
          keys: KEYS,
          id: `p${i}`,
          startAt,
          mode,
          attempts,
        } satisfies RaceConfig),
      ]),
    ),
  );
  return results.reduce((sum, r) => sum + r.wins, 0);
}

/** Opens a store for the migration tests. */
export type Opener = (options: StoreOptions) => Promise<Store>;

/** A child takes the lease and exits without releasing it (a crash, as the database sees it). */
export async function assertCrashedHolderLeaseExpires(
  store: Store,
  base: Pick<RaceConfig, 'engine' | 'path' | 'url' | 'schema'>,
  sellingPartnerId: string,
): Promise<void> {
  const key = { sellingPartnerId, region: 'na' as const };
  const ttlMs = 1500;
  assert.equal(await raceProcesses(base, 'lease', { sellingPartnerId }, 1, 1, ttlMs), 1);
  const held = await store.getSeller(key);
  assert.equal(held?.leaseOwner, 'p0-0');
  const expiresAt = held?.leaseExpiresAt ?? 0;
  if (Date.now() < expiresAt) assert.equal(await store.acquireRefreshLease(key, 'survivor', 60_000), null);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20));
  const lease = await store.acquireRefreshLease(key, 'survivor', 60_000);
  assert.equal(lease?.owner, 'survivor', "the dead holder's lease expired");
}

/**
 * Two processes race for one seller's refresh lease and for one OAuth transaction: exactly one
 * wins each, and the winner holds the lease. Then a child that dies holding another seller's lease
 * loses it at expiry. Resolves to the raced seller as stored right after the race.
 */
export async function assertOneProcessWinsEachRace(
  store: Store,
  base: Pick<RaceConfig, 'engine' | 'path' | 'url' | 'schema'>,
): Promise<SellerRecord | null> {
  await store.saveAuthorization(authorization({ sellingPartnerId: 'RACE' }));
  await store.createOAuthTransaction(
    oauthTransaction({
      stateHash: 'race-state',
      userRef: null,
      returnTo: null,
      pkceVerifier: null,
      expiresAt: Date.now() + 600_000,
    }),
  );
  assert.equal(await raceProcesses(base, 'lease', { sellingPartnerId: 'RACE' }), 1);
  assert.equal(await raceProcesses(base, 'consume', { stateHash: 'race-state' }), 1);
  const seller = await store.getSeller({ sellingPartnerId: 'RACE', region: 'na' });
  assert.match(seller?.leaseOwner ?? '', /^p[01]-\d+$/, 'the winner holds the lease');
  await store.saveAuthorization(authorization({ sellingPartnerId: 'CRASH' }));
  await assertCrashedHolderLeaseExpires(store, base, 'CRASH');
  return seller;
}
