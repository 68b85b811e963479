import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  KeyRingError,
  StorageIntegrityError,
  createKeyRing,
  generateKey,
  parseKeyRing,
  rewrap,
  sealedKeyId,
} from '../../../src/storage/index.js';
import type { Store } from '../../../src/storage/index.js';
import { RING, RING_KEY, authorization, oauthTransaction, rotationRings, KEY } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: encryption at rest. */
export function encryptionContract({ harness, withStore, sharedDatabase }: ContractKit): void {
  describe('encryption at rest', () => {
    it('fails with an integrity error when a ciphertext is copied to another seller, leaving the source intact', () =>
      withStore(async (store) => {
        const b = { sellingPartnerId: 'BSELLER', region: 'na' as const };
        await store.saveAuthorization(authorization({ refreshToken: 'Atzr|A' }));
        await store.saveAuthorization(authorization({ ...b, refreshToken: 'Atzr|B' }));
        const { items } = await store.listEncryptedValues({ limit: 100 });
        const fromA = items.find((r) => r.rowKey === 'na|A3FHEXAMPLEYWS' && r.column === 'refresh_token');
        const ofB = items.find((r) => r.rowKey === 'na|BSELLER' && r.column === 'refresh_token');
        assert.ok(fromA && ofB);
        assert.equal(await store.replaceEncryptedValue(ofB, fromA.ciphertext), true);
        await assert.rejects(
          store.loadTokens(b),
          (err: unknown) => err instanceof StorageIntegrityError && err.code === 'credential_integrity_error',
        );
        assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|A');
        // Listing sellers never decrypts, so one bad row does not break the admin page.
        assert.equal((await store.listSellers()).items.length, 2);
      }));

    it('fails with an integrity error on a flipped bit and on an unknown key id', () =>
      withStore(async (store) => {
        await store.saveAuthorization(authorization({ refreshToken: 'Atzr|A' }));
        const [ref] = (await store.listEncryptedValues({ limit: 100 })).items;
        assert.ok(ref);
        const parts = ref.ciphertext.split('.');
        const flipped = [...parts];
        flipped[3] = (flipped[3]![0] === 'A' ? 'B' : 'A') + flipped[3]!.slice(1);
        assert.equal(await store.replaceEncryptedValue(ref, flipped.join('.')), true);
        await assert.rejects(store.loadTokens(KEY), StorageIntegrityError);
        const relabelled = { ...ref, ciphertext: flipped.join('.') };
        const otherKid = [...parts];
        otherKid[1] = 'k9';
        assert.equal(await store.replaceEncryptedValue(relabelled, otherKid.join('.')), true);
        await assert.rejects(store.loadTokens(KEY), StorageIntegrityError);
      }));

    it('needs a key ring to write or read a secret', async () => {
      const db = await harness.fresh();
      const store = await db.open({ keyRing: null });
      try {
        await assert.rejects(store.saveAuthorization(authorization()), KeyRingError);
        assert.equal(await store.getSeller(KEY), null);
      } finally {
        await store.close();
      }
    });

    it('rewraps every value to the active key, resumably, while a second instance keeps reading', async (t) => {
      const db = await sharedDatabase(t);
      if (!db) return;
      const { ring1, ring2, ring2only } = rotationRings();
      const old = await db.open({ keyRing: ring1 });
      const next = await db.open({ keyRing: ring2 });
      try {
        for (let i = 0; i < 12; i++) {
          await old.saveAuthorization(
            authorization({
              sellingPartnerId: `R${i}`,
              refreshToken: `Atzr|r${i}`,
              accessToken: { accessToken: `Atza|a${i}`, expiresAt: 1 },
            }),
          );
        }
        await old.saveAppSecret({ id: 's1', clientId: 'c', secret: 'client-secret', expiresAt: null });
        await old.createSession({
          tokenHash: 't1',
          type: 'connect',
          expiresAt: Date.now() + 60_000,
          payload: { a: 1 },
        });
        await old.createOAuthTransaction(
          oauthTransaction({
            stateHash: 'st',
            bindingHash: 'b',
            userRef: null,
            returnTo: null,
            pkceVerifier: 'v',
            expiresAt: Date.now() + 60_000,
          }),
        );
        // A write through the new ring meanwhile is already on the active key.
        await next.saveAuthorization(authorization({ sellingPartnerId: 'R0', refreshToken: 'Atzr|r0-new' }));
        const progress: number[] = [];
        const result = await rewrap(next, ring2, {
          batchSize: 5,
          onProgress: (p) => progress.push(p.scanned),
        });
        assert.equal(result.scanned, 12 * 2 - 1 + 3);
        assert.equal(result.current, 1);
        assert.equal(result.rewrapped, 12 * 2 - 2 + 3);
        assert.ok(progress.length > 3, 'progress is reported per batch');
        const again = await rewrap(next, ring2);
        assert.equal(again.rewrapped, 0);
        assert.equal(again.current, result.scanned);
        const { items } = await next.listEncryptedValues({ limit: 1000 });
        assert.ok(items.length > 0);
        // listEncryptedValues pages by table; walk all pages for the kid check.
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<Store['listEncryptedValues']>> = await next.listEncryptedValues({
            cursor,
            limit: 1000,
          });
          for (const ref of page.items) assert.equal(sealedKeyId(ref.ciphertext), 'k2');
          cursor = page.nextCursor;
        } while (cursor);
        const onlyNew = await db.open({ keyRing: ring2only });
        try {
          assert.equal(
            (await onlyNew.loadTokens({ sellingPartnerId: 'R5', region: 'na' }))?.refreshToken,
            'Atzr|r5',
          );
          assert.equal(
            (await onlyNew.loadTokens({ sellingPartnerId: 'R0', region: 'na' }))?.refreshToken,
            'Atzr|r0-new',
          );
          assert.equal((await onlyNew.listAppSecrets('c'))[0]?.secret, 'client-secret');
          const s = await onlyNew.consumeSession('t1', 'connect');
          assert.ok(s.ok && s.value.payload.a === 1);
          const tx = await onlyNew.consumeOAuthTransaction('st', 'b');
          assert.ok(tx.ok && tx.value.pkceVerifier === 'v');
        } finally {
          await onlyNew.close();
        }
        await assert.rejects(old.loadTokens({ sellingPartnerId: 'R5', region: 'na' }), StorageIntegrityError);
      } finally {
        await old.close();
        await next.close();
      }
    });

    it('rewraps while refreshes commit concurrently, losing no newer token', async (t) => {
      const db = await sharedDatabase(t);
      if (!db) return;
      const k2 = generateKey();
      const ring2 = parseKeyRing(`k2:${k2},k1:${RING_KEY}`);
      const old = await db.open({ keyRing: RING });
      const service = await db.open({ keyRing: ring2 });
      const admin = await db.open({ keyRing: ring2 });
      try {
        const keys = Array.from({ length: 10 }, (_, i) => ({
          sellingPartnerId: `W${i}`,
          region: 'na' as const,
        }));
        for (const key of keys) {
          await old.saveAuthorization(
            authorization({
              ...key,
              accessToken: { accessToken: `Atza|${key.sellingPartnerId}-0`, expiresAt: 1 },
            }),
          );
        }
        const latest = new Map<string, string>();
        const refreshes = (async () => {
          for (let round = 1; round <= 4; round++) {
            for (const key of keys) {
              const lease = await service.acquireRefreshLease(key, 'svc', 60_000);
              assert.ok(lease);
              const token = `Atza|${key.sellingPartnerId}-${round}`;
              assert.ok(await service.commitRefresh(key, lease, { accessToken: token, expiresAt: 2 }));
              latest.set(key.sellingPartnerId, token);
            }
          }
        })();
        const result = await rewrap(admin, ring2, { batchSize: 3 });
        await refreshes;
        await rewrap(admin, ring2);
        const onlyK2 = await db.open({ keyRing: parseKeyRing(`k2:${k2}`) });
        try {
          for (const key of keys) {
            const state = await onlyK2.loadTokens(key);
            assert.equal(state?.accessToken?.accessToken, latest.get(key.sellingPartnerId));
            assert.equal(state?.version, 5, 'rewrap bumps no version');
          }
        } finally {
          await onlyK2.close();
        }
        assert.equal(result.scanned, 20);
      } finally {
        await Promise.all([old.close(), service.close(), admin.close()]);
      }
    });

    it('refuses to rewrap a value that does not authenticate', () =>
      withStore(async (store) => {
        await store.saveAuthorization(authorization());
        const [ref] = (await store.listEncryptedValues({ limit: 10 })).items;
        assert.ok(ref);
        const bad = ref.ciphertext.slice(0, -4) + (ref.ciphertext.endsWith('AAAA') ? 'BBBB' : 'AAAA');
        await store.replaceEncryptedValue(ref, bad);
        // The new ring still holds k1: only the tampering can make this fail.
        const ring = createKeyRing([
          ['k-new', Buffer.alloc(32, 7)],
          ['k1', Buffer.from(RING_KEY, 'base64')],
        ]);
        await assert.rejects(rewrap(store, ring), StorageIntegrityError);
      }));
  });
}
