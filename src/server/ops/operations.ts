/**
 * The service's operations side in one place: metrics, the client-secret ring, the webhook worker
 * and the re-authorization sweep (their lifecycle), and the routes `GET /metrics` and
 * `POST /v1/notifications`. `service.ts` builds one per process and hands its pieces to the token
 * source, the gateway, the app and the admin dashboard (which registers its own routes).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../../config.js';
import type { FetchLike } from '../../core/http.js';
import type { Store } from '../../storage/store.js';
import type { AmazonGateway, ServiceContext } from '../context.js';
import type { Logger } from '../http/log.js';
import { errorResponse } from '../http/request.js';
import { ServiceMetrics, instrumentLwaFetch } from './metrics.js';
import {
  NotificationQueueConsumer,
  openSqsQueue,
  type ConsumerTimings,
  type NotificationQueue,
} from './notification-queue.js';
import { ClientSecretRing, acceptNotification, requestClientSecretRotation } from './rotation.js';
import { SecretRotationAgent } from './secret-rotation.js';
import { registerNotificationRoutes } from './notification-routes.js';
import type { Router } from '../http/router.js';
import { defineRoute } from '../http/route.js';
import { WebhookWorker, startReauthorizationSweep } from './webhooks.js';

/** What {@link createOperations} returns. */
export interface Operations {
  readonly metrics: ServiceMetrics;
  readonly ring: ClientSecretRing;
  readonly webhooks: WebhookWorker;
  /** Wraps a `fetch` so LWA calls are counted by grant and outcome. */
  instrument(fetch: FetchLike | undefined): FetchLike;
  /** The consumer of `SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL`, once started (undefined without a queue). */
  readonly queue: NotificationQueueConsumer | undefined;
  /**
   * Loads the stored secrets, starts the worker, the sweep and the secret reload timer, and — with
   * a notification queue configured — its consumer and the unattended rotation, which call Amazon
   * through `amazon`.
   */
  start(amazon?: Pick<AmazonGateway, 'getGrantlessToken' | 'endpoint' | 'verifyClientSecret'>): Promise<void>;
  /** Stops them; waits for deliveries in progress. */
  close(): Promise<void>;
}

/**
 * Builds the operations side (nothing runs until `start()`).
 *
 * @example
 * const ops = createOperations({ config, store, log });
 * await ops.start();
 */
export function createOperations(opts: {
  readonly config: Config;
  readonly store: Store;
  readonly log: Logger;
  readonly now?: () => number;
  /** The fetch webhooks are delivered with (default: global fetch). */
  readonly webhookFetch?: FetchLike;
  readonly webhookIntervalMs?: number;
  /** The notification queue (default: SQS at `config.notificationsQueueUrl`); for tests. */
  readonly openQueue?: () => Promise<NotificationQueue>;
  /** The consumer's timings; for tests. */
  readonly queueTimings?: Partial<ConsumerTimings>;
}): Operations {
  const { config, store, log } = opts;
  const now = opts.now ?? Date.now;
  const metrics = new ServiceMetrics(now, { runtime: config.metricsRuntime });
  const ring = new ClientSecretRing({ config, store, log, now });
  metrics.onInvalidClient = () => ring.onInvalidClient();
  metrics.clientSecretExpiresAt = () => ring.describe().expiries[0] ?? null;
  let queue: NotificationQueueConsumer | undefined;
  const webhooks = new WebhookWorker({
    store,
    url: config.webhookUrl,
    secret: config.webhookSecret,
    previousSecret: config.webhookSecretPrevious,
    log,
    metrics,
    now,
    ...(opts.webhookFetch ? { fetch: opts.webhookFetch } : {}),
    ...(opts.webhookIntervalMs !== undefined ? { intervalMs: opts.webhookIntervalMs } : {}),
  });
  let stopSweep: (() => void) | undefined;
  const startQueue = (
    amazon: Pick<AmazonGateway, 'getGrantlessToken' | 'endpoint' | 'verifyClientSecret'>,
  ): NotificationQueueConsumer | undefined => {
    const url = config.notificationsQueueUrl;
    if (url === undefined || queue !== undefined) return queue;
    const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const rotation = new SecretRotationAgent({
      store,
      ring,
      requestRotation: () => requestClientSecretRotation({ amazon }),
      owner,
      rotateBeforeMs: config.rotateBeforeDays * 86_400_000,
      waitMs: config.rotationWaitMinutes * 60_000,
      log,
      metrics,
      now,
    });
    const consumer = new NotificationQueueConsumer({
      store,
      openQueue: opts.openQueue ?? (() => openSqsQueue(url)),
      // The one apply function, as POST /v1/notifications and `secret accept` use it.
      apply: (body) =>
        acceptNotification(
          {
            store,
            ring,
            actor: 'queue',
            applicationId: config.applicationId,
            verifySecret: (secret) => amazon.verifyClientSecret(secret),
            metrics,
            now,
          },
          body,
        ),
      rotation,
      owner,
      log,
      metrics,
      now,
      ...(opts.queueTimings ? { timings: opts.queueTimings } : {}),
    });
    metrics.queueConsumerHeld = () => consumer.holdsLease;
    consumer.start();
    return (queue = consumer);
  };
  return {
    metrics,
    ring,
    webhooks,
    get queue() {
      return queue;
    },
    instrument: (fetch) => instrumentLwaFetch(fetch ?? ((r: Request) => globalThis.fetch(r)), metrics),
    async start(amazon) {
      await ring
        .reload()
        .catch((err: unknown) =>
          log.warn('stored client secrets not loaded', { error_name: (err as Error)?.name }),
        );
      ring.start();
      webhooks.start();
      stopSweep ??= startReauthorizationSweep(store, log, { now });
      if (config.webhookUrl === undefined) log.info('webhooks off: SPAPI_AUTH_WEBHOOK_URL is not set');
      if (amazon !== undefined) startQueue(amazon);
    },
    async close() {
      await queue?.stop();
      stopSweep?.();
      ring.stop();
      await webhooks.stop();
    },
  };
}

/**
 * Whether an `Authorization` header may read `/metrics`: anyone without a configured token, else
 * exactly `Bearer <token>` (compared as SHA-256 digests, in constant time).
 */
function metricsAccess(token: string | undefined): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(`Bearer ${token}`).digest();
  return (authorization) =>
    authorization !== undefined &&
    timingSafeEqual(createHash('sha256').update(authorization).digest(), expected);
}

/**
 * Registers `GET /metrics` and `POST /v1/notifications`.
 *
 * @example
 * registerOperationsRoutes(router, context, ops);
 */
/** `GET /metrics`: Prometheus' text format, behind `SPAPI_AUTH_METRICS_TOKEN` when set. */
export const METRICS = defineRoute({
  method: 'GET',
  path: '/metrics',
  scope: null,
  audience: 'internal',
  summary: 'Metrics',
  description: "The service's metrics in Prometheus' text format.",
  responses: { 200: { description: 'The metrics.' } },
  errors: ['unauthorized'],
});

export function registerOperationsRoutes(router: Router, ctx: ServiceContext, ops: Operations): void {
  const allowed = metricsAccess(ctx.config.metricsToken);
  router.route(METRICS, async (req) => {
    if (!allowed(req.header('authorization'))) {
      return errorResponse('unauthorized', 'The metrics token is required: Authorization: Bearer …', {
        'www-authenticate': 'Bearer realm="metrics"',
      });
    }
    return {
      status: 200,
      headers: {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
      body: await ops.metrics.render(ctx.store),
    };
  });
  registerNotificationRoutes(router, {
    store: ctx.store,
    keys: ctx.keys,
    ring: ops.ring,
    applicationId: ctx.config.applicationId,
    verifySecret: (secret) => ctx.amazon.verifyClientSecret(secret),
    log: ctx.log,
    metrics: ops.metrics,
    now: ctx.now,
  });
}
