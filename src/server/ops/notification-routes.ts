/**
 * `POST /v1/notifications`: Amazon's client-secret notifications handed to the service over HTTP
 * (the use-case itself, shared with `spapi-auth secret accept`, is `acceptNotification`).
 */
import type { Store } from '../../storage/store.js';
import { HttpError, httpError, json } from '../http/request.js';
import type { Logger } from '../http/log.js';
import type { Router } from '../http/router.js';
import { defineRoute } from '../http/route.js';
import { instant, nullable, object, oneOf, str } from '../http/schemas.js';
import { Type } from '@sinclair/typebox';
import type { ApiKeyAuthenticator } from '../tokens/api-keys.js';
import type { ServiceMetrics } from './metrics.js';
import {
  NOTIFICATIONS_SCOPE,
  NOTIFICATION_ERROR_CODES,
  NotificationError,
  acceptNotification,
  type ClientSecretRing,
} from './rotation.js';

/** `POST /v1/notifications`. */
export const POST_NOTIFICATION = defineRoute({
  method: 'POST',
  path: '/v1/notifications',
  scope: NOTIFICATIONS_SCOPE,
  audience: 'api',
  summary: 'Hand over a client-secret notification',
  description:
    "Amazon's `APPLICATION_OAUTH_CLIENT_NEW_SECRET` or `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` notification (the " +
    'message body, an SQS message or an SNS envelope holding it): the new secret is stored encrypted and used by ' +
    'every instance.',
  body: Type.Object({}, { description: 'The notification as Amazon delivers it.' }),
  responses: {
    200: {
      description: 'The notification was applied (or had been already).',
      schema: object({
        notification_type: str('The notification type.'),
        outcome: oneOf(['accepted', 'already_accepted']),
        expires_at: nullable(instant('When the secret in question expires.')),
        previous_expires_at: Type.Optional(instant('When the previous secret expires.')),
      }),
    },
  },
  errors: NOTIFICATION_ERROR_CODES,
});

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
  router.route(POST_NOTIFICATION, async (req) => {
    const key = await deps.keys.authenticate(req.header('authorization'), POST_NOTIFICATION.scope);
    const body = await POST_NOTIFICATION.readBody(req);
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
