// What the store contract's concerns share: the engine harness, fixtures, a fake clock and the key ring.
import { randomUUID } from 'node:crypto';
import type { SellerTokenKey } from '../../../src/core/index.js';
import { generateKey, parseKeyRing } from '../../../src/storage/index.js';
import type {
  AuthorizationInput,
  KeyRing,
  OAuthTransactionInput,
  Store,
  StoreOptions,
} from '../../../src/storage/index.js';

/** A fresh, empty database; `open` connects a store (several for "other instances"). */
export interface TestDatabase {
  open(options?: StoreOptions): Promise<Store>;
  /** Whether a second `open` shares the data (false for `:memory:`: each open is a new database). */
  readonly shared: boolean;
}

export interface ContractHarness {
  readonly name: string;
  fresh(): Promise<TestDatabase>;
}

/** A clock the tests move by hand. */
export function fakeClock(start = 1_800_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export const SQL_INJECTION_IDS = [
  "A1'; DROP TABLE sellers; --",
  'A2" OR "1"="1',
  "A3\\'); DELETE FROM api_keys; --",
  'A4%_*?[]',
  'A5 UNION SELECT refresh_token_enc FROM sellers',
  'A7 ☃ émoji 🚀',
  '$1 $2 ? ?',
];

export const RING_KEY = generateKey();
export const RING = parseKeyRing(`k1:${RING_KEY}`);

export function authorization(over: Partial<AuthorizationInput> = {}): AuthorizationInput {
  return {
    sellingPartnerId: 'A3FHEXAMPLEYWS',
    region: 'na',
    kind: 'seller',
    userRef: 'user-1',
    marketplace: 'US',
    refreshToken: `Atzr|refresh-${randomUUID()}`,
    ...over,
  };
}

/** An OAuth transaction in flight (website flow, with PKCE), with `over` applied. */
export function oauthTransaction(over: Partial<OAuthTransactionInput> = {}): OAuthTransactionInput {
  return {
    stateHash: `state-${randomUUID()}`,
    bindingHash: 'binding',
    flow: 'website',
    kind: 'seller',
    marketplace: 'US',
    region: 'na',
    userRef: 'user-1',
    returnTo: 'https://app.example/done',
    expectedSellingPartnerId: null,
    pkceVerifier: 'verifier-secret-0123456789',
    expiresAt: 1_800_000_600_000,
    ...over,
  };
}

export function event(type = 'seller.authorized', at = 1) {
  return { id: randomUUID(), type, createdAt: at, data: { selling_partner_id: 'A3FHEXAMPLEYWS' } };
}

/** The rings of a key rotation: k1 alone, then k2 active with k1, then k2 alone. */
export function rotationRings(): { ring1: KeyRing; ring2: KeyRing; ring2only: KeyRing } {
  const k1 = generateKey();
  const k2 = generateKey();
  return {
    ring1: parseKeyRing(`k1:${k1}`),
    ring2: parseKeyRing(`k2:${k2},k1:${k1}`),
    ring2only: parseKeyRing(`k2:${k2}`),
  };
}

export const KEY: SellerTokenKey = { sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' };

/** What every concern of the contract is given: the engine, a fresh store per case, a shared database. */
export interface ContractKit {
  readonly harness: ContractHarness;
  withStore(
    fn: (store: Store, clock: ReturnType<typeof fakeClock>, db: TestDatabase) => Promise<void>,
    options?: StoreOptions,
  ): Promise<void>;
  /** A fresh database two stores can share, or undefined (the test skipped) where they cannot. */
  sharedDatabase(t: { skip(message: string): void }): Promise<TestDatabase | undefined>;
}

export function contractKit(harness: ContractHarness): ContractKit {
  return {
    harness,
    async withStore(fn, options = {}) {
      const clock = fakeClock();
      const db = await harness.fresh();
      const store = await db.open({ keyRing: RING, now: clock.now, ...options });
      try {
        await fn(store, clock, db);
      } finally {
        await store.close();
      }
    },
    async sharedDatabase(t) {
      const db = await harness.fresh();
      if (db.shared) return db;
      t.skip('needs two instances on one database');
      return undefined;
    },
  };
}
