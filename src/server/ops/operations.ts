/**
 * The service's operations side in one place: metrics, the client-secret ring, the webhook worker
 * and the re-authorization sweep (their lifecycle), and the routes `GET /metrics`,
 * `POST /v1/notifications` and `/admin/**`. `service.ts` builds one per process and hands its
 * pieces to the token source, the gateway and the app.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config.js';
import type { FetchLike } from '../../core/http.js';
import type { Store } from '../../storage/store.js';
import { registerAdminRoutes } from '../admin/routes.js';
import type { ServiceContext } from '../context.js';
import type { Logger } from '../http/log.js';
import { errorResponse } from '../http/request.js';
import { ServiceMetrics, instrumentLwaFetch } from './metrics.js';
import { ClientSecretRing } from './rotation.js';
import { registerNotificationRoutes } from './notification-routes.js';
import type { Router } from '../http/router.js';
import { WebhookWorker, startReauthorizationSweep } from './webhooks.js';

/** What {@link createOperations} returns. */
export interface Operations {
  readonly metrics: ServiceMetrics;
  readonly ring: ClientSecretRing;
  readonly webhooks: WebhookWorker;
  /** Wraps a `fetch` so LWA calls are counted by grant and outcome. */
  instrument(fetch: FetchLike | undefined): FetchLike;
  /** Loads the stored secrets, starts the worker, the sweep and the secret reload timer. */
  start(): Promise<void>;
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
}): Operations {
  const { config, store, log } = opts;
  const now = opts.now ?? Date.now;
  const metrics = new ServiceMetrics(now, { runtime: config.metricsRuntime });
  const ring = new ClientSecretRing({ config, store, log, now });
  metrics.onInvalidClient = () => ring.onInvalidClient();
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
  return {
    metrics,
    ring,
    webhooks,
    instrument: (fetch) => instrumentLwaFetch(fetch ?? ((r: Request) => globalThis.fetch(r)), metrics),
    async start() {
      await ring
        .reload()
        .catch((err: unknown) =>
          log.warn('stored client secrets not loaded', { error_name: (err as Error)?.name }),
        );
      ring.start();
      webhooks.start();
      stopSweep ??= startReauthorizationSweep(store, log, { now });
      if (config.webhookUrl === undefined) log.info('webhooks off: SPAPI_AUTH_WEBHOOK_URL is not set');
    },
    async close() {
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
 * Registers `GET /metrics`, `POST /v1/notifications` and the admin dashboard.
 *
 * @example
 * registerOperationsRoutes(router, context, ops);
 */
export function registerOperationsRoutes(router: Router, ctx: ServiceContext, ops: Operations): void {
  const allowed = metricsAccess(ctx.config.metricsToken);
  router.add('GET', '/metrics', async (req) => {
    if (!allowed(req.header('authorization'))) {
      return errorResponse(401, 'unauthorized', 'The metrics token is required: Authorization: Bearer …', {
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
  registerAdminRoutes(router, ctx, {
    metrics: ops.metrics,
    ring: ops.ring,
    ...(ctx.config.webhookUrl !== undefined ? { webhookUrl: ctx.config.webhookUrl } : {}),
  });
}
