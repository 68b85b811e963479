/**
 * Every webhook event the service emits, built here: one builder per type, one id scheme (`evt_` +
 * 32 hex, see `common/event-id.ts`), and the `data` each type documents in docs/webhooks.md. No
 * builder takes a token, a code or a secret.
 */
import type { PartnerKind, Region } from '../../core/marketplaces.js';
import { derivedEventId, newEventId } from '../../common/event-id.js';
import type {
  SellerMarketplace,
  SellerProfile,
  SellerRecord,
  WebhookEventInput,
} from '../../storage/store.js';
import { reauthorizationRequiredEvent } from '../../storage/token-vault.js';
import { SELLER_CENTRAL_REAUTHORIZE, reauthorizationTarget } from './reauthorization.js';

/** The event types the service emits. */
export const WEBHOOK_EVENT_TYPES = Object.freeze([
  'seller.authorized',
  'seller.reauthorization_required',
  'seller.reauthorization_due',
  'seller.deleted',
  'credentials.invalid_client',
  'credentials.client_secret_expiring',
  'credentials.client_secret_rotation_requested',
  'credentials.client_secret_installed',
  'credentials.client_secret_retired',
  'credentials.client_secret_rotation_failed',
  'notification.set_aside',
  'webhook.test',
] as const);
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * An event of any type with a fresh id (for tests and tools; the service uses the builders below).
 *
 * @example
 * await store.enqueueWebhookEvents([webhookEvent('seller.deleted', { selling_partner_id: 'A1' }, Date.now())]);
 */
export function webhookEvent(
  type: WebhookEventType,
  data: Readonly<Record<string, unknown>>,
  at: number,
  id = newEventId(),
): WebhookEventInput {
  return { id, type, createdAt: at, data };
}

/** The seller fields every `seller.*` event starts with. */
export type SellerRef = Pick<SellerRecord, 'sellingPartnerId' | 'region' | 'kind' | 'userRef'>;

/**
 * `{ selling_partner_id, region, kind, user_ref }` of a seller.
 *
 * @example
 * sellerEventData(seller); // { selling_partner_id: 'A1B2', region: 'na', kind: 'seller', user_ref: 'u1' }
 */
export function sellerEventData(s: SellerRef): {
  selling_partner_id: string;
  region: Region;
  kind: PartnerKind;
  user_ref: string | null;
} {
  return {
    selling_partner_id: s.sellingPartnerId,
    region: s.region,
    kind: s.kind,
    user_ref: s.userRef,
  };
}

/** How an authorization reached the service. */
export type AuthorizationOrigin =
  { readonly source: 'consent'; readonly flow: 'website' | 'appstore' } | { readonly source: 'import' };

/**
 * `seller.authorized`: a seller or vendor completed consent (`source: "consent"`, with its `flow`)
 * or was imported with a working refresh token (`source: "import"`).
 *
 * @example
 * sellerAuthorizedEvent(seller, { source: 'consent', flow: 'website' }, Date.now());
 */
export function sellerAuthorizedEvent(
  seller: SellerRef,
  origin: AuthorizationOrigin,
  at: number,
  extra: Readonly<Record<string, unknown>> = {},
): WebhookEventInput {
  const how = origin.source === 'consent' ? { source: 'consent', flow: origin.flow } : { source: 'import' };
  return webhookEvent('seller.authorized', { ...sellerEventData(seller), ...how, ...extra }, at);
}

/**
 * The profile members of `seller.authorized`: `store_name` and `marketplaces` (`[{ id, country,
 * name, participating }]`), nulls when the profile could not be read yet.
 *
 * @example
 * sellerAuthorizedEvent(seller, origin, Date.now(), profileEventData(profile));
 */
export function profileEventData(profile: SellerProfile | null): {
  store_name: string | null;
  marketplaces: { id: string; country: string; name: string; participating: boolean }[] | null;
} {
  return {
    store_name: profile?.storeName ?? null,
    marketplaces: profile === null ? null : profile.marketplaces.map(marketplaceJson),
  };
}

/**
 * One marketplace of a seller's profile as JSON: the one mapping, used by the webhook payloads
 * and by the API's profile fields (which add `suspended_listings`).
 *
 * @example
 * marketplaceJson({ id: 'ATVPDKIKX0DER', country: 'US', name: 'Amazon.com', participating: true, suspendedListings: false });
 */
export function marketplaceJson(m: SellerMarketplace): {
  id: string;
  country: string;
  name: string;
  participating: boolean;
} {
  return { id: m.id, country: m.country, name: m.name, participating: m.participating };
}

/**
 * `seller.reauthorization_required`: LWA answered `invalid_grant` for the seller's refresh token.
 *
 * @example
 * sellerReauthorizationRequiredEvent(seller, { code: 'invalid_grant' }, Date.now());
 */
export const sellerReauthorizationRequiredEvent = reauthorizationRequiredEvent;

/**
 * `seller.reauthorization_due`: 30 days before the 365-day mark, with the two ways to send the
 * seller back (`reauthorize`): the service's API call that makes a re-authorization link, and the
 * Seller Central path. The id is derived from (seller, region, authorized_at), so every sweep of
 * every instance enqueues it once per authorization.
 *
 * @example
 * sellerReauthorizationDueEvent(seller, seller.authorizedAt + 365 * 86_400_000, Date.now());
 */
export function sellerReauthorizationDueEvent(
  seller: SellerRef & Pick<SellerRecord, 'authorizedAt' | 'marketplace'>,
  reauthorizeBy: number,
  at: number,
): WebhookEventInput {
  const target = reauthorizationTarget(seller);
  return webhookEvent(
    'seller.reauthorization_due',
    {
      ...sellerEventData(seller),
      reauthorize_by: new Date(reauthorizeBy).toISOString(),
      reauthorize: {
        api: {
          method: 'POST',
          path: '/v1/connect-sessions',
          body: {
            selling_partner_id: target.sellingPartnerId,
            user_ref: target.userRef,
            marketplace: target.marketplace.countryCode,
            kind: target.kind,
          },
        },
        seller_central: target.kind === 'seller' ? SELLER_CENTRAL_REAUTHORIZE : null,
      },
    },
    at,
    derivedEventId('seller.reauthorization_due', seller.sellingPartnerId, seller.region, seller.authorizedAt),
  );
}

/**
 * `seller.deleted`: the authorization was deleted and its tokens wiped.
 *
 * @example
 * sellerDeletedEvent({ sellingPartnerId: 'A1B2', region: 'na', userRef: null }, Date.now());
 */
export function sellerDeletedEvent(
  seller: Pick<SellerRecord, 'sellingPartnerId' | 'region' | 'userRef'>,
  at: number,
): WebhookEventInput {
  return webhookEvent(
    'seller.deleted',
    { selling_partner_id: seller.sellingPartnerId, region: seller.region, user_ref: seller.userRef },
    at,
  );
}

/**
 * `credentials.invalid_client`: LWA refused every configured client secret.
 *
 * @example
 * invalidClientEvent('amzn1.application-oa2-client.x', 2, Date.now());
 */
export function invalidClientEvent(clientId: string, secretsTried: number, at: number): WebhookEventInput {
  return webhookEvent('credentials.invalid_client', { client_id: clientId, secrets_tried: secretsTried }, at);
}

/**
 * `credentials.client_secret_expiring`: Amazon's advance warning arrived. `dedupeKey` (the
 * notification's id, or what identifies the warning) makes a redelivery enqueue nothing new.
 *
 * @example
 * clientSecretExpiringEvent(clientId, expiry, 'PERIODIC_ROTATION', Date.now(), notificationId);
 */
export function clientSecretExpiringEvent(
  clientId: string,
  expiresAt: number,
  reason: string | null,
  at: number,
  dedupeKey: string,
): WebhookEventInput {
  return webhookEvent(
    'credentials.client_secret_expiring',
    { client_id: clientId, expires_at: new Date(expiresAt).toISOString(), reason },
    at,
    derivedEventId('credentials.client_secret_expiring', dedupeKey),
  );
}

/**
 * `credentials.client_secret_rotation_requested`: the unattended rotation asked Amazon for a new
 * secret (one event per attempt).
 *
 * @example
 * clientSecretRotationRequestedEvent(clientId, rotation, Date.now());
 */
export function clientSecretRotationRequestedEvent(
  clientId: string,
  rotation: { readonly id: string; readonly deadlineAt: number; readonly attempts: number },
  at: number,
): WebhookEventInput {
  return webhookEvent(
    'credentials.client_secret_rotation_requested',
    {
      client_id: clientId,
      deadline: new Date(rotation.deadlineAt).toISOString(),
      attempt: rotation.attempts,
    },
    at,
    derivedEventId('credentials.client_secret_rotation_requested', rotation.id, String(rotation.attempts)),
  );
}

/**
 * `credentials.client_secret_installed`: a new client secret is stored and used from now on; the
 * previous one is kept until `previous_expires_at`.
 *
 * @example
 * clientSecretInstalledEvent(clientId, { expiresAt, previousExpiresAt, notificationId }, Date.now());
 */
export function clientSecretInstalledEvent(
  clientId: string,
  secret: { readonly expiresAt: number; readonly previousExpiresAt: number; readonly secretId: string },
  at: number,
): WebhookEventInput {
  return webhookEvent(
    'credentials.client_secret_installed',
    {
      client_id: clientId,
      expires_at: new Date(secret.expiresAt).toISOString(),
      previous_expires_at: new Date(secret.previousExpiresAt).toISOString(),
    },
    at,
    derivedEventId('credentials.client_secret_installed', secret.secretId),
  );
}

/**
 * `credentials.client_secret_retired`: the secret a rotation replaced reached its expiry and is no
 * longer kept.
 *
 * @example
 * clientSecretRetiredEvent(clientId, rotation, Date.now());
 */
export function clientSecretRetiredEvent(
  clientId: string,
  rotation: { readonly id: string; readonly oldExpiresAt: number | null },
  at: number,
): WebhookEventInput {
  return webhookEvent(
    'credentials.client_secret_retired',
    {
      client_id: clientId,
      retired_at: new Date(rotation.oldExpiresAt ?? at).toISOString(),
    },
    at,
    derivedEventId('credentials.client_secret_retired', rotation.id),
  );
}

/**
 * `credentials.client_secret_rotation_failed`: the unattended rotation could not go on; the
 * secret in use stays in use. `code` is stable (docs/webhooks.md); `retry_at` is when it is tried
 * again (null: not by itself).
 *
 * @example
 * clientSecretRotationFailedEvent(clientId, { code: 'rotation_not_enrolled', deadlineAt, retryAt }, Date.now(), key);
 */
export function clientSecretRotationFailedEvent(
  clientId: string,
  failure: { readonly code: string; readonly deadlineAt: number | null; readonly retryAt: number | null },
  at: number,
  dedupeKey: string,
): WebhookEventInput {
  return webhookEvent(
    'credentials.client_secret_rotation_failed',
    {
      client_id: clientId,
      code: failure.code,
      deadline: failure.deadlineAt === null ? null : new Date(failure.deadlineAt).toISOString(),
      retry_at: failure.retryAt === null ? null : new Date(failure.retryAt).toISOString(),
    },
    at,
    derivedEventId('credentials.client_secret_rotation_failed', dedupeKey),
  );
}

/**
 * `notification.set_aside`: a message of the notification queue could not be applied and was kept
 * aside (never its body: it may hold a secret).
 *
 * @example
 * notificationSetAsideEvent({ messageId, notificationType, notificationId, code }, Date.now());
 */
export function notificationSetAsideEvent(
  aside: {
    readonly messageId: string;
    readonly notificationType: string | null;
    readonly notificationId: string | null;
    readonly code: string;
  },
  at: number,
): WebhookEventInput {
  return webhookEvent(
    'notification.set_aside',
    {
      message_id: aside.messageId,
      notification_type: aside.notificationType,
      notification_id: aside.notificationId,
      code: aside.code,
    },
    at,
    derivedEventId('notification.set_aside', aside.messageId),
  );
}

/**
 * `webhook.test`: sent on demand from the dashboard to check the receiver end to end (delivered
 * and signed like every event; it names no seller).
 *
 * @example
 * await store.enqueueWebhookEvents([webhookTestEvent('admin', Date.now())]);
 */
export function webhookTestEvent(requestedBy: string, at: number): WebhookEventInput {
  return webhookEvent(
    'webhook.test',
    { message: 'A test event from spapi-auth.', requested_by: requestedBy },
    at,
  );
}
