// The client-secret ring: which LWA secret is sent first and which is the fallback, as stored
// secrets are added by a rotation and expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretRing } from '../../../src/server/ops/rotation.js';
import { silentLogger } from '../../../src/server/http/log.js';
import { HttpError } from '../../../src/server/http/request.js';
import type { AppSecretRecord } from '../../../src/storage/store.js';

const DAY = 86_400_000;
const config = { lwaClientId: 'cid', lwaClientSecret: 'CONFIG-SECRET', lwaClientSecretNext: undefined };

function ring(stored: AppSecretRecord[], over: Partial<typeof config> = {}) {
  const clock = { t: 100 * DAY };
  const deleted: string[] = [];
  const store = {
    listAppSecrets: async () => stored.filter((s) => !deleted.includes(s.id)),
    deleteAppSecret: async (id: string) => (deleted.push(id), true),
    enqueueWebhookEvents: async () => undefined,
  };
  const r = new ClientSecretRing({
    config: { ...config, ...over },
    store,
    log: silentLogger,
    now: () => clock.t,
  });
  return { r, clock, deleted };
}
const secret = (id: string, createdAt: number, expiresAt: number | null): AppSecretRecord => ({
  id,
  clientId: 'cid',
  secret: `SECRET-${id}`,
  createdAt,
  expiresAt,
});

test('with nothing stored the configured secrets are used, current first, next as the fallback', () => {
  assert.deepEqual(ring([]).r.credentials(), { clientId: 'cid', clientSecret: 'CONFIG-SECRET' });
  assert.deepEqual(ring([], { lwaClientSecretNext: 'NEXT' } as never).r.credentials(), {
    clientId: 'cid',
    clientSecret: 'CONFIG-SECRET',
    clientSecretNext: 'NEXT',
  });
});

test('after a rotation the newest stored secret goes first, the old one second; expired ones are deleted', async () => {
  const { r, deleted } = ring([
    secret('old', 1 * DAY, 107 * DAY),
    secret('new', 99 * DAY, 280 * DAY),
    secret('gone', 0, 50 * DAY),
  ]);
  await r.reload();
  assert.deepEqual(r.credentials(), {
    clientId: 'cid',
    clientSecret: 'SECRET-new',
    clientSecretNext: 'SECRET-old',
  });
  assert.deepEqual(deleted, ['gone']);
  assert.deepEqual(r.describe(), { count: 3, expiries: [280 * DAY, 107 * DAY, null] });
});

test('an expired head is dropped at once, without waiting for the next reload', async () => {
  const { r, clock } = ring([secret('a', 1 * DAY, 101 * DAY)]);
  await r.reload();
  assert.deepEqual(r.credentials(), {
    clientId: 'cid',
    clientSecret: 'SECRET-a',
    clientSecretNext: 'CONFIG-SECRET',
  });
  clock.t = 101 * DAY;
  assert.deepEqual(r.credentials(), { clientId: 'cid', clientSecret: 'CONFIG-SECRET' });
});

const expiredError = (err: unknown) =>
  err instanceof HttpError && err.status === 503 && err.code === 'client_secret_expired';

test('a configured secret known to have expired is not sent; if every one did, 503 client_secret_expired', async () => {
  const expiredConfig = { ...secret('cfg', 0, 10 * DAY), secret: 'CONFIG-SECRET' };
  const { r } = ring([expiredConfig, secret('live', 1, 200 * DAY)]);
  await r.reload();
  assert.deepEqual(r.credentials(), { clientId: 'cid', clientSecret: 'SECRET-live' });
  const only = ring([expiredConfig]).r;
  await only.reload();
  assert.throws(() => only.credentials(), expiredError);
  assert.deepEqual(only.describe(), { count: 1, expiries: [10 * DAY] });
});

test('every secret passing its expiry between reloads is a 503 client_secret_expired, never a crash', async () => {
  // The configured secret is one of the stored ones (accepted, then rotated away): nothing else is left.
  const { r, clock } = ring([
    { ...secret('cfg', 0, 104 * DAY), secret: 'CONFIG-SECRET' },
    secret('b', 1 * DAY, 105 * DAY),
  ]);
  await r.reload();
  assert.deepEqual(r.credentials(), {
    clientId: 'cid',
    clientSecret: 'SECRET-b',
    clientSecretNext: 'CONFIG-SECRET',
  });
  clock.t = 106 * DAY;
  assert.throws(() => r.credentials(), expiredError);
  assert.throws(() => r.credentials(), expiredError, 'and stays so');
});
