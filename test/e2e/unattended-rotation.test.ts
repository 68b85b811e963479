// The client secret rotates itself across a cluster: two `serve` processes on one PostgreSQL
// database consume the emulator's SQS notification queue (through @aws-sdk/client-sqs, dummy AWS
// credentials). Amazon's expiry notice arrives; exactly one rotation is asked for (counted at the
// emulator); the new secret is installed on both instances; after the emulator's clock passes the
// old secret's seven days, tokens keep coming with the new one — and no token request failed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queueUrl, type RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication } from '../../src/emulator/types.js';
import type { Store } from '../../src/storage/store.js';
import {
  createKey,
  freePort,
  freshDatabase,
  instanceMetric,
  markerSecrets,
  openTestStore,
  postgresSuiteRuns,
  seedSellers,
  serveEnv,
  startServe,
  startTestEmulator,
  testSellers,
  type ServeProcess,
} from '../helpers/e2e.js';

/** Waits for `condition` (checked on each event of the loop, at most `limitMs`), else fails with `what`. */
async function until(what: string, condition: () => Promise<boolean>, limitMs = 120_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

if (
  await postgresSuiteRuns(
    'unattended rotation over 2 serve processes',
    'unattended rotation',
    'unattended rotation on PostgreSQL',
  )
) {
  describe('unattended rotation over 2 serve processes', () => {
    const secrets = markerSecrets('AutoRotation');
    const seller = testSellers(1, 'AUTOROT')[0]!;
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let amazon: RunningEmulator;
    let app: EmulatorApplication;
    let store: Store;
    let apiKey: string;
    let instances: ServeProcess[] = [];
    const failures: string[] = [];
    let requests = 0;
    let stop = false;
    let traffic: Promise<void> | undefined;

    before(async () => {
      db = await freshDatabase('autorot');
      const ports = await Promise.all([freePort(), freePort()]);
      const publicUrl = `http://127.0.0.1:${ports[0]}`;
      ({ amazon, app } = await startTestEmulator(publicUrl, secrets.clientSecret, {
        sellers: [seller],
        tokenTtlS: 20,
      }));
      store = await openTestStore(db.url, secrets.encryptionKeys);
      await seedSellers(amazon, app, secrets.clientSecret, store, [seller.sellingPartnerId]);
      apiKey = await createKey(store);
      const extra = {
        SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL: queueUrl(amazon.url, 'spapi-auth-notifications'),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIAEMULATOR000000',
        AWS_SECRET_ACCESS_KEY: 'emulator-dummy-secret',
      };
      instances = await Promise.all(
        ports.map((port) =>
          startServe(serveEnv({ app, secrets, amazon, databaseUrl: db.url, publicUrl, port, extra }), 40_000),
        ),
      );
      // Token requests to both instances all along.
      traffic = (async () => {
        while (!stop) {
          await Promise.all(
            instances.map(async (i) => {
              requests++;
              const res = await fetch(`${i.url}/v1/sellers/${seller.sellingPartnerId}/access-token`, {
                headers: { authorization: `Bearer ${apiKey}` },
              });
              if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
              else await res.body?.cancel();
            }),
          );
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
    });

    after(async () => {
      stop = true;
      await traffic;
      await Promise.all(instances.map((i) => i.stop()));
      await store?.close();
      await amazon?.close();
      await db?.drop();
    });

    it('expiry notice → one rotation → new secret on both instances → old one retired, no token request failed', async () => {
      const rotations = async (): Promise<number> => {
        const stats = await amazon.emulator.control.stats();
        return stats.spapi['/applications/2023-11-30/clientSecret']?.['204'] ?? 0;
      };
      const before = await Promise.all(
        instances.map((i) => instanceMetric(i, 'spapi_auth_client_secret_expiry_timestamp_seconds')),
      );
      assert.deepEqual(before, [0, 0], 'the configured secret has no known expiry');
      await amazon.emulator.control.secretExpiry({
        expiryTime: new Date(Date.now() + 5 * 86_400_000).toISOString(),
      });
      await until('the new secret installed', async () => {
        const [latest] = await store.listSecretRotations(app.clientId, 1);
        return latest?.state === 'installed';
      });
      assert.equal(await rotations(), 1, 'one rotation asked of Amazon');
      const consumers = await Promise.all(
        instances.map((i) => instanceMetric(i, 'spapi_auth_notification_queue_consumer')),
      );
      assert.equal(
        consumers.reduce((a, b) => a + b, 0),
        1,
        'one instance consumes the queue',
      );
      // Every instance switches (the other one within its minute's reload).
      await until('both instances use the new secret', async () => {
        const expiries = await Promise.all(
          instances.map((i) => instanceMetric(i, 'spapi_auth_client_secret_expiry_timestamp_seconds')),
        );
        return expiries.every((e) => e > Date.now() / 1000 + 170 * 86_400);
      });
      // Seven days later the old secret is gone at Amazon: refreshes go on with the new one.
      await amazon.emulator.control.advance(7 * 86_400 + 60);
      const refreshes = async (): Promise<number> =>
        ((await amazon.emulator.control.stats()).token.refresh_token?.ok as number | undefined) ?? 0;
      const atRetirement = await refreshes();
      await until(
        'a refresh with the new secret after the old one retired',
        async () => (await refreshes()) > atRetirement,
        60_000,
      );
      assert.equal(await rotations(), 1, 'still one rotation');
      assert.ok(requests > 20, `token requests made: ${requests}`);
      assert.deepEqual(failures, [], 'no token request failed');
      const invalidClient = (await amazon.emulator.control.stats()).token.refresh_token?.invalid_client ?? 0;
      assert.equal(invalidClient, 0, 'the retired secret was never sent');
    });
  });
}
