/**
 * `POST /v1/notifications`: Amazon's client-secret notifications handed to the service over HTTP
 * (the use-case itself, shared with `spapi-auth secret accept`, is `acceptNotification`).
 */
import type { Store } from '../../storage/store.js';
import { HttpError, httpError, json, readJsonObject } from '../http/request.js';
import type { Logger } from '../http/log.js';
import type { Router } from '../http/router.js';
import type { ApiKeyAuthenticator } from '../tokens/api-keys.js';
import type { ServiceMetrics } from './metrics.js';
import {
  NOTIFICATIONS_SCOPE,
  NotificationError,
  acceptNotification,
  type ClientSecretRing,
} from './rotation.js';

/**
 * Registers `POST /v1/notifications` (API key with the `notifications:write` scope): the JSON of an
 * Amazon notification as delivered through SQS.
 *
 * @example
 * registerNotificationRoutes(router, { store, keys, ring, metrics, now });
 */
export function registerNotificationRoutes(
  router: Router,
  deps: {
    readonly store: Store;
    readonly keys: ApiKeyAuthenticator;
    readonly ring: ClientSecretRing;
    readonly applicationId?: string;
    readonly verifySecret: (secret: string) => Promise<void>;
    readonly log: Logger;
    readonly metrics?: Pick<ServiceMetrics, 'secretRotations'>;
    readonly now: () => number;
  },
): void {
  router.add('POST', '/v1/notifications', async (req) => {
    const key = await deps.keys.authenticate(req.header('authorization'), NOTIFICATIONS_SCOPE);
    const body = await readJsonObject(req);
    try {
      const result = await acceptNotification({ ...deps, actor: key.id }, body);
      deps.log.info('notification accepted', {
        key_id: key.id,
        kind: result.notificationType,
        code: result.outcome,
      });
      return json(200, {
        notification_type: result.notificationType,
        outcome: result.outcome,
        expires_at: result.expiresAt,
        ...(result.previousExpiresAt ? { previous_expires_at: result.previousExpiresAt } : {}),
      });
    } catch (err) {
      if (err instanceof NotificationError) throw httpError(err.code, err.message);
      throw err;
    }
  });
}
