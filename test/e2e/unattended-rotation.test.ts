// The client secret rotates itself across a cluster: two `serve` processes on one PostgreSQL
// database consume the emulator's SQS notification queue (through @aws-sdk/client-sqs, dummy AWS
// credentials). Amazon's expiry notice arrives; exactly one rotation is asked for (counted at the
// emulator); the new secret is installed on both instances; after the emulator's clock passes the
// old secret's seven days, tokens keep coming with the new one — and no token request failed.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { instanceMetric, postgresSuiteRuns } from '../helpers/e2e.js';
import { afterSuite } from '../helpers/fleet.js';
import { startRotationFleet, until, type RotationFleet } from '../helpers/rotation-fleet.js';

if (
  await postgresSuiteRuns(
    'unattended rotation over 2 serve processes',
    'unattended rotation',
    'unattended rotation on PostgreSQL',
  )
) {
  describe('unattended rotation over 2 serve processes', () => {
    const suite = afterSuite();
    let fleet: RotationFleet;
    before(async () => {
      fleet = await startRotationFleet(suite, 'autorot');
    });

    it('expiry notice → one rotation → new secret on both instances → old one retired, no token request failed', async () => {
      const { amazon, app, store, instances, failures } = fleet;
      const rotations = () => fleet.rotations();
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
      assert.ok(fleet.requests() > 20, `token requests made: ${fleet.requests()}`);
      assert.deepEqual(failures, [], 'no token request failed');
      const invalidClient = (await amazon.emulator.control.stats()).token.refresh_token?.invalid_client ?? 0;
      assert.equal(invalidClient, 0, 'the retired secret was never sent');
    });
  });
}
