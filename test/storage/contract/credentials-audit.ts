import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractKit } from './kit.js';

/** The store contract: API keys, client secrets, audit. */
export function credentialsAuditContract({ withStore }: ContractKit): void {
  describe('API keys, client secrets, audit', () => {
    it('creates, finds, touches, lists and revokes API keys', () =>
      withStore(async (store, clock) => {
        const created = await store.createApiKey(
          { id: 'key1', name: 'orders', hash: 'a'.repeat(64), scopes: ['tokens:read', 'sellers:read'] },
          { audit: [{ action: 'api_key.created', actor: 'cli' }] },
        );
        assert.deepEqual(created, {
          id: 'key1',
          name: 'orders',
          hash: 'a'.repeat(64),
          scopes: ['tokens:read', 'sellers:read'],
          createdAt: clock.now(),
          lastUsedAt: null,
          revokedAt: null,
        });
        assert.deepEqual(await store.findApiKeyByHash('a'.repeat(64)), created);
        assert.equal(await store.findApiKeyByHash('b'.repeat(64)), null);
        await assert.rejects(
          store.createApiKey({ id: 'key2', name: null, hash: 'a'.repeat(64), scopes: [] }),
        );
        clock.advance(5);
        await store.touchApiKey('key1');
        assert.equal((await store.findApiKeyByHash('a'.repeat(64)))?.lastUsedAt, clock.now());
        assert.equal(await store.revokeApiKey('key1'), true);
        assert.equal(await store.revokeApiKey('key1'), false);
        assert.equal((await store.listApiKeys())[0]?.revokedAt, clock.now());
        assert.equal((await store.listAudit())[0]?.action, 'api_key.created');
      }));

    it('keeps client secrets encrypted, newest first, with expiry', () =>
      withStore(async (store, clock) => {
        await store.saveAppSecret({
          id: 's1',
          clientId: 'amzn1.application-oa2-client.x',
          secret: 'old-secret',
          expiresAt: null,
        });
        clock.advance(1);
        await store.saveAppSecret({
          id: 's2',
          clientId: 'amzn1.application-oa2-client.x',
          secret: 'new-secret',
          expiresAt: clock.now() + 1000,
          audit: [{ action: 'client_secret.accepted' }],
        });
        const list = await store.listAppSecrets('amzn1.application-oa2-client.x');
        assert.deepEqual(
          list.map((s) => s.secret),
          ['new-secret', 'old-secret'],
        );
        assert.equal(await store.setAppSecretExpiry('s1', clock.now() + 5), true);
        assert.equal(
          (await store.listAppSecrets('amzn1.application-oa2-client.x'))[1]?.expiresAt,
          clock.now() + 5,
        );
        assert.equal(await store.deleteAppSecret('s1'), true);
        assert.equal(await store.deleteAppSecret('s1'), false);
        assert.equal((await store.listAppSecrets('other')).length, 0);
      }));

    it('appends audit records and lists them by seller, newest first, paged', () =>
      withStore(async (store, clock) => {
        for (let i = 0; i < 5; i++) {
          await store.appendAudit([
            {
              action: 'token.released',
              actor: 'key1',
              sellingPartnerId: 'S1',
              region: 'na',
              outcome: 'cache_hit',
              details: { i },
            },
            {
              action: 'token.released',
              actor: 'key1',
              sellingPartnerId: 'S2',
              region: 'eu',
              outcome: 'ok',
            },
          ]);
        }
        const s1 = await store.listAudit({ sellingPartnerId: 'S1' });
        assert.equal(s1.length, 5);
        assert.deepEqual(
          s1.map((r) => r.details.i),
          [4, 3, 2, 1, 0],
        );
        assert.equal(s1[0]?.at, clock.now());
        const page = await store.listAudit({ limit: 3 });
        assert.equal(page.length, 3);
        const next = await store.listAudit({ before: page[2]!.id, limit: 100 });
        assert.equal(next.length, 7);
        assert.equal((await store.listAudit({ region: 'eu' })).length, 5);
        await assert.rejects(store.appendAudit([{ action: 'oops', actor: 'Atza|leaked' }]), TypeError);
        assert.equal((await store.listAudit({ limit: 1000 })).length, 10);
      }));
  });
}
