// The fleet of the unattended-rotation e2e tests: the emulator (its SQS notification queue
// included), one seller, two `serve` processes on one PostgreSQL database consuming that queue
// through @aws-sdk/client-sqs (dummy AWS credentials), and token requests to both all along.
import assert from 'node:assert/strict';
import { queueUrl, type RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication } from '../../src/emulator/types.js';
import type { Store } from '../../src/storage/store.js';
import { testSellers, type ServeProcess } from './e2e.js';
import { startFleet } from './fleet.js';
import type { AfterHooks } from './service.js';

/** A token request that did not get its token: which instance, and what came back. */
export interface FailedRequest {
  readonly instance: number;
  readonly what: string;
}

export interface RotationFleet {
  readonly amazon: RunningEmulator;
  readonly app: EmulatorApplication;
  readonly store: Store;
  readonly sellerId: string;
  readonly instances: readonly ServeProcess[];
  /** The environment every instance was started with (for `spapi-auth` commands on the same set-up). */
  readonly env: Record<string, string>;
  readonly failures: FailedRequest[];
  /** Token requests made so far. */
  requests(): number;
  /** Rotation requests Amazon answered, by status (`204`, `400`, …). */
  rotations(status?: string): Promise<number>;
  /** Ends the token traffic and waits for the requests in flight. */
  stopTraffic(): Promise<void>;
}

/** Waits for `condition` (checked every quarter second, at most `limitMs`), else fails with `what`. */
export async function until(
  what: string,
  condition: () => Promise<boolean>,
  limitMs = 120_000,
): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts the fleet. `beforeServe` runs once the seller is seeded and before any instance starts
 * (to queue a notification or change the application at Amazon); `extra` is added to every
 * instance's environment. Stopped with `t` (the traffic first, then the fleet).
 *
 * @example
 * const fleet = await startRotationFleet(suite, 'autorot');
 */
export async function startRotationFleet(
  t: AfterHooks,
  label: string,
  opts: {
    readonly beforeServe?: (f: { amazon: RunningEmulator; app: EmulatorApplication }) => Promise<void>;
    readonly extra?: Record<string, string>;
  } = {},
): Promise<RotationFleet> {
  let stop = false;
  let traffic: Promise<void> | undefined;
  // Registered first, so it runs first: no request is sent to an instance being stopped.
  t.after(async () => {
    stop = true;
    await traffic;
  });
  const seller = testSellers(1, label.toUpperCase())[0]!;
  const fleet = await startFleet(t, 2, {
    label,
    sellers: [seller],
    emulator: { tokenTtlS: 20 },
    ...(opts.beforeServe ? { beforeServe: opts.beforeServe } : {}),
    extra: (amazon) => ({
      SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL: queueUrl(amazon.url, 'spapi-auth-notifications'),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIAEMULATOR000000',
      AWS_SECRET_ACCESS_KEY: 'emulator-dummy-secret',
      ...opts.extra,
    }),
  });
  const { amazon, app, store, apiKey, instances } = fleet;
  const failures: FailedRequest[] = [];
  let requests = 0;
  const gone = instances.map(() => false);
  instances.forEach((i, n) => void i.exited.then(() => (gone[n] = true)));
  traffic = (async () => {
    while (!stop) {
      await Promise.all(
        instances.map(async (i, n) => {
          if (gone[n]) return;
          requests++;
          try {
            const res = await fetch(`${i.url}/v1/sellers/${seller.sellingPartnerId}/access-token`, {
              headers: { authorization: `Bearer ${apiKey}` },
            });
            if (res.status !== 200) failures.push({ instance: n, what: `${res.status} ${await res.text()}` });
            else await res.body?.cancel();
          } catch (err) {
            failures.push({ instance: n, what: String((err as Error).cause ?? err) });
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    amazon,
    app,
    store,
    sellerId: seller.sellingPartnerId,
    instances,
    env: fleet.env(fleet.ports[0]!),
    failures,
    requests: () => requests,
    async rotations(status = '204') {
      const stats = await amazon.emulator.control.stats();
      return stats.spapi['/applications/2023-11-30/clientSecret']?.[status] ?? 0;
    },
    async stopTraffic() {
      stop = true;
      await traffic;
    },
  };
}
