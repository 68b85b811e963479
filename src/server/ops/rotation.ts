/**
 * Client-secret rotation (Application Management API 2023-11-30). Amazon requires a new LWA client secret every 180 days;
 * after `POST /applications/2023-11-30/clientSecret` it delivers the new secret in an
 * `APPLICATION_OAUTH_CLIENT_NEW_SECRET` notification (through SQS) and keeps the old one valid for
 * seven days. This module:
 *
 * - keeps the app's secrets in a {@link ClientSecretRing}: the configured ones plus those accepted
 *   from notifications (stored encrypted in `app_secrets`), newest first, each dropped at its
 *   expiry. The token source asks it for credentials on every LWA call, so a switch applies to the
 *   next call while calls in flight finish with the secret they were sent with (still valid);
 * - accepts notifications ({@link acceptNotification}, shared by `POST /v1/notifications` and the
 *   CLI's `secret accept`): a new secret is stored and switched to, the old one kept until the
 *   expiry Amazon announced; a secret-expiry warning becomes `credentials.client_secret_expiring`;
 * - raises the app-wide `credentials.invalid_client` alarm (throttled), never touching a seller;
 * - asks Amazon for a rotation ({@link requestClientSecretRotation}, the CLI's `secret rotate`).
 */
import { createHash } from 'node:crypto';
import type { LwaCredentials } from '../../core/lwa.js';
import { isSpapiAuthError } from '../../core/errors.js';
import type { Config } from '../../config.js';
import type { AppSecretRecord, Store } from '../../storage/store.js';
import type { AmazonGateway } from '../context.js';
import type { Logger } from '../http/log.js';
import { HttpError, httpError } from '../http/request.js';
import type { ServiceMetrics } from './metrics.js';
import type { ApiKeyAuthenticator, Scope } from '../tokens/api-keys.js';
import {
  clientSecretExpiringEvent,
  clientSecretInstalledEvent,
  invalidClientEvent,
} from '../domain/events.js';
import { isVisibleAscii } from '../../core/printable.js';
import { isClientSecretShape } from '../../core/lwa.js';

/** The notification types {@link acceptNotification} handles. */
export const NEW_SECRET = 'APPLICATION_OAUTH_CLIENT_NEW_SECRET';
export const SECRET_EXPIRY = 'APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY';

/** The API key scope `POST /v1/notifications` requires. */
export const NOTIFICATIONS_SCOPE: Scope = 'notifications:write';

const INVALID_CLIENT_ALARM_EVERY_MS = 15 * 60_000;
const RELOAD_EVERY_MS = 60_000;

/**
 * The codes of a refused notification (registered in `HTTP_ERRORS`; the route declares them).
 *
 * @example
 * NOTIFICATION_ERROR_CODES.includes('client_id_mismatch'); // true
 */
export const NOTIFICATION_ERROR_CODES = [
  'invalid_notification',
  'unsupported_notification',
  'client_id_mismatch',
  'application_id_mismatch',
  'client_secret_refused',
  'client_secret_unverified',
] as const;
/** One of {@link NOTIFICATION_ERROR_CODES}. */
export type NotificationErrorCode = (typeof NOTIFICATION_ERROR_CODES)[number];

/** A refused notification; `code` is stable (docs/errors.md), the message names no secret. */
export class NotificationError extends Error {
  override name = 'NotificationError';
  constructor(
    readonly code: NotificationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The store slice {@link acceptNotification} writes to. */
export type NotificationStore = Pick<
  Store,
  | 'listAppSecrets'
  | 'saveAppSecret'
  | 'setAppSecretExpiry'
  | 'enqueueWebhookEvents'
  | 'appendAudit'
  | 'openSecretRotation'
  | 'listSecretRotations'
  | 'transitionSecretRotation'
>;

/** What {@link acceptNotification} did. */
export interface AcceptResult {
  readonly notificationType: string;
  /** `accepted`, or `already_accepted` for a notification delivered twice. */
  readonly outcome: 'accepted' | 'already_accepted';
  /** NEW_SECRET: when the new secret expires; SECRET_EXPIRY: when the announced secret expires (ISO). */
  readonly expiresAt: string;
  /** NEW_SECRET: until when the previous secret is kept (ISO). */
  readonly previousExpiresAt?: string;
}

/** A secret the ring can use. */
interface RingSecret {
  readonly secret: string;
  readonly expiresAt: number | null;
  readonly stored: boolean;
}

/**
 * The app's client secrets, newest first: what the LWA client is given on every call.
 *
 * @example
 * const ring = new ClientSecretRing({ config, store, log });
 * await ring.reload();
 * const creds = ring.credentials(); // { clientId, clientSecret, clientSecretNext? }
 */
export class ClientSecretRing {
  private secrets: RingSecret[];
  private cached: LwaCredentials;
  private lastAlarm = -Infinity;
  private lastExpiredAlarm = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly opts: {
      readonly config: Pick<Config, 'lwaClientId' | 'lwaClientSecret' | 'lwaClientSecretNext'>;
      readonly store: Pick<Store, 'listAppSecrets' | 'deleteAppSecret' | 'enqueueWebhookEvents'>;
      readonly log: Logger;
      readonly now?: () => number;
    },
  ) {
    this.now = opts.now ?? Date.now;
    this.secrets = this.configSecrets();
    this.cached = this.build();
  }

  /** The client id every secret belongs to. */
  get clientId(): string {
    return this.opts.config.lwaClientId;
  }

  /** The credentials to use now: the newest valid secret first, the one before it as the fallback. */
  credentials(): LwaCredentials {
    const first = this.secrets[0];
    // Drop an expired head without waiting for the next reload.
    if (first?.expiresAt != null && first.expiresAt <= this.now()) {
      const live = this.secrets.filter((s) => s.expiresAt === null || s.expiresAt > this.now());
      // Every secret held has passed the expiry Amazon announced: LWA would refuse each of them, so
      // none is sent and the caller gets a 503 that names the cause (never a crash, never a 500).
      if (live.length === 0) throw this.everySecretExpired();
      this.secrets = live;
      this.cached = this.build();
    }
    return this.cached;
  }

  /** How many secrets are usable, and until when each is kept (for the dashboard; never the values). */
  describe(): { count: number; expiries: (number | null)[] } {
    return { count: this.secrets.length, expiries: this.secrets.map((s) => s.expiresAt) };
  }

  /** Re-reads the stored secrets (other instances accept notifications too) and deletes expired ones. */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /** Reloads every minute until {@link stop}. */
  start(intervalMs = RELOAD_EVERY_MS): void {
    if (this.timer !== undefined) return;
    const tick = (): void => {
      void this.reload()
        .catch((err: unknown) =>
          this.opts.log.warn('client secret reload failed', { error_name: (err as Error)?.name }),
        )
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, intervalMs).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * LWA refused our credentials (with every secret we have): reload at once (another instance may
   * have accepted a new secret) and raise `credentials.invalid_client`, at most every 15 minutes
   * per process. Sellers are never marked for this.
   */
  onInvalidClient(): void {
    void this.reload().catch(() => {});
    const at = this.now();
    if (at - this.lastAlarm < INVALID_CLIENT_ALARM_EVERY_MS) return;
    this.lastAlarm = at;
    this.opts.log.error(
      'LWA refused the client credentials: check LWA_CLIENT_SECRET or accept the new secret',
      {
        code: 'invalid_client',
      },
    );
    this.opts.store
      .enqueueWebhookEvents([invalidClientEvent(this.clientId, this.secrets.length, at)])
      .catch((err: unknown) =>
        this.opts.log.error('invalid_client alarm not recorded', { error_name: (err as Error)?.name }),
      );
  }

  /** The 503 for a ring whose every secret has expired, with its alarm (log and webhook, throttled). */
  private everySecretExpired(): HttpError<'client_secret_expired'> {
    const at = this.now();
    if (at - this.lastExpiredAlarm >= INVALID_CLIENT_ALARM_EVERY_MS) {
      this.lastExpiredAlarm = at;
      this.opts.log.error(
        'every client secret of the app has expired: accept the new one (spapi-auth secret accept) or set LWA_CLIENT_SECRET',
        { code: 'client_secret_expired' },
      );
      this.opts.store.enqueueWebhookEvents([invalidClientEvent(this.clientId, 0, at)]).catch((err: unknown) =>
        this.opts.log.error('client_secret_expired alarm not recorded', {
          error_name: (err as Error)?.name,
        }),
      );
    }
    return httpError('client_secret_expired');
  }

  private configSecrets(): RingSecret[] {
    const { lwaClientSecret, lwaClientSecretNext } = this.opts.config;
    const out: RingSecret[] = [{ secret: lwaClientSecret, expiresAt: null, stored: false }];
    if (lwaClientSecretNext !== undefined && lwaClientSecretNext !== lwaClientSecret) {
      out.push({ secret: lwaClientSecretNext, expiresAt: null, stored: false });
    }
    return out;
  }

  private async load(): Promise<void> {
    const at = this.now();
    const stored = await this.opts.store.listAppSecrets(this.clientId);
    const live: AppSecretRecord[] = [];
    for (const s of stored) {
      if (s.expiresAt !== null && s.expiresAt <= at) {
        await this.opts.store.deleteAppSecret(s.id).catch(() => false);
      } else {
        live.push(s);
      }
    }
    // Newest (longest-lived) first: after a rotation the new secret expires in 180 days, the old one in 7.
    live.sort((a, b) => (b.expiresAt ?? 0) - (a.expiresAt ?? 0) || b.createdAt - a.createdAt);
    const expiredValues = new Set(stored.filter((s) => !live.includes(s)).map((s) => s.secret));
    const secrets: RingSecret[] = live.map((s) => ({
      secret: s.secret,
      expiresAt: s.expiresAt,
      stored: true,
    }));
    for (const c of this.configSecrets()) {
      if (!secrets.some((s) => s.secret === c.secret) && !expiredValues.has(c.secret)) secrets.push(c);
    }
    // Should every secret be known expired, keep them (with their expiry, for the dashboard and
    // the metric): credentials() then answers 503 client_secret_expired rather than sending a
    // secret LWA is known to refuse.
    if (secrets.length === 0) {
      this.secrets = stored
        .filter((s) => s.expiresAt !== null)
        .sort((a, b) => b.expiresAt! - a.expiresAt!)
        .map((s) => ({ secret: s.secret, expiresAt: s.expiresAt, stored: true }));
      if (this.secrets.length === 0) this.secrets = this.configSecrets();
    } else {
      this.secrets = secrets;
    }
    this.cached = this.build();
  }

  private build(): LwaCredentials {
    const [first, second] = this.secrets;
    return second === undefined
      ? { clientId: this.clientId, clientSecret: first!.secret }
      : { clientId: this.clientId, clientSecret: first!.secret, clientSecretNext: second.secret };
  }

  /** Internal to {@link acceptNotification}: the secrets in use, for recording the old ones' expiry. */
  inUse(): readonly RingSecret[] {
    return this.secrets;
  }
}

/** A stable, non-secret id for a stored secret (a digest prefix; the secret itself is sealed). */
function secretId(secret: string): string {
  return `sec_${createHash('sha256').update(secret).digest('hex').slice(0, 24)}`;
}

function object(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function time(v: unknown, field: string): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t))
    throw new NotificationError('invalid_notification', `${field} must be an ISO date.`);
  return t;
}

/**
 * The notification inside what an SQS consumer may forward: the notification itself, an SQS
 * message (`Body` as a JSON string) or an SNS envelope (`Message` as a JSON string).
 */
function unwrap(input: unknown): Record<string, unknown> {
  let value: unknown = input;
  if (typeof value === 'string') value = parseJson(value);
  for (let i = 0; i < 2; i++) {
    const o = object(value);
    if (o === undefined) break;
    const inner = typeof o.Body === 'string' ? o.Body : typeof o.Message === 'string' ? o.Message : undefined;
    if (inner === undefined || 'notificationType' in o) break;
    value = parseJson(inner);
  }
  const n = object(value);
  if (n === undefined)
    throw new NotificationError('invalid_notification', 'The notification must be a JSON object.');
  return n;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new NotificationError('invalid_notification', 'The notification is not valid JSON.');
  }
}

/** Runs the LWA check of a new secret; nothing is stored or switched unless LWA accepts it. */
async function verifyNewSecret(verify: (secret: string) => Promise<void>, secret: string): Promise<void> {
  try {
    await verify(secret);
  } catch (err) {
    if (isSpapiAuthError(err, 'invalid_client')) {
      throw new NotificationError(
        'client_secret_refused',
        'Login with Amazon refused the new client secret; the current secret stays in use.',
      );
    }
    throw new NotificationError(
      'client_secret_unverified',
      'Login with Amazon could not be asked about the new client secret; it was not installed. Deliver the notification again.',
    );
  }
}

/**
 * Accepts an Amazon notification (Notifications API, delivered through SQS): `APPLICATION_OAUTH_CLIENT_NEW_SECRET` stores the
 * new secret encrypted, records the old secrets' expiry and switches to the new one;
 * `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` enqueues `credentials.client_secret_expiring`. Both are
 * idempotent (a notification delivered twice changes nothing). Throws {@link NotificationError}.
 *
 * @example
 * const result = await acceptNotification({ store, ring, actor: 'cli' }, JSON.parse(readFileSync(file, 'utf8')));
 */
export async function acceptNotification(
  deps: {
    readonly store: NotificationStore;
    readonly ring: ClientSecretRing;
    readonly actor: string;
    /** The app's SP-API application id: a notification naming another one is refused. */
    readonly applicationId?: string;
    /**
     * Checks a new secret with LWA before anything is stored (one call; `verifyClientSecret`):
     * whoever holds a `notifications:write` key could otherwise install a secret Amazon never issued.
     */
    readonly verifySecret: (secret: string) => Promise<void>;
    readonly metrics?: Pick<ServiceMetrics, 'secretRotations'>;
    readonly now?: () => number;
  },
  input: unknown,
): Promise<AcceptResult> {
  const { store, ring, actor } = deps;
  const now = (deps.now ?? Date.now)();
  const n = unwrap(input);
  const type = n.notificationType;
  const payload = object(n.payload);
  const metadata = object(n.notificationMetadata);
  const notificationId = metadata?.notificationId;
  if (typeof type !== 'string' || payload === undefined) {
    throw new NotificationError('invalid_notification', 'notificationType and payload are required.');
  }
  if (
    deps.applicationId !== undefined &&
    typeof metadata?.applicationId === 'string' &&
    metadata.applicationId !== deps.applicationId
  ) {
    throw new NotificationError(
      'application_id_mismatch',
      'The notification is for another SP-API application.',
    );
  }
  const checkClient = (clientId: unknown): void => {
    if (typeof clientId !== 'string' || clientId === '') {
      throw new NotificationError('invalid_notification', 'payload clientId is required.');
    }
    if (clientId !== ring.clientId) {
      throw new NotificationError('client_id_mismatch', 'The notification is for another LWA client id.');
    }
  };
  const notif =
    typeof notificationId === 'string' && isVisibleAscii(notificationId, 200) ? notificationId : null;

  if (type === NEW_SECRET) {
    const p = object(payload.applicationOAuthClientNewSecret);
    if (p === undefined) {
      throw new NotificationError(
        'invalid_notification',
        'payload.applicationOAuthClientNewSecret is required.',
      );
    }
    checkClient(p.clientId);
    const secret = p.newClientSecret;
    if (!isClientSecretShape(secret)) {
      throw new NotificationError('invalid_notification', 'newClientSecret must be printable ASCII.');
    }
    const newExpiry = time(p.newClientSecretExpiryTime, 'newClientSecretExpiryTime');
    const oldExpiry = time(p.oldClientSecretExpiryTime, 'oldClientSecretExpiryTime');
    const result: AcceptResult = {
      notificationType: type,
      outcome: 'accepted',
      expiresAt: new Date(newExpiry).toISOString(),
      previousExpiresAt: new Date(oldExpiry).toISOString(),
    };
    const stored = await store.listAppSecrets(ring.clientId);
    if (stored.some((s) => s.secret === secret)) {
      // Redelivered, perhaps after a crash between storing the secret and closing its rotation.
      await closeOpenRotations(store, ring.clientId, { oldExpiry, newExpiry }, now);
      return { ...result, outcome: 'already_accepted' };
    }
    await verifyNewSecret(deps.verifySecret, secret);
    // The secrets in use until now stay valid until oldExpiry: record that, so every instance drops
    // them then (a configured secret is stored, sealed, for the purpose).
    for (const old of ring.inUse()) {
      if (old.secret === secret) continue;
      const row = stored.find((s) => s.secret === old.secret);
      if (row === undefined) {
        await store.saveAppSecret({
          id: secretId(old.secret),
          clientId: ring.clientId,
          secret: old.secret,
          expiresAt: oldExpiry,
        });
      } else if (row.expiresAt === null || row.expiresAt > oldExpiry) {
        await store.setAppSecretExpiry(row.id, oldExpiry);
      }
    }
    await store.saveAppSecret({
      id: secretId(secret),
      clientId: ring.clientId,
      secret,
      expiresAt: newExpiry,
      audit: [
        {
          action: 'client_secret.accepted',
          actor,
          outcome: 'ok',
          at: now,
          details: { notification_id: notif, previous_expires_at: result.previousExpiresAt! },
        },
      ],
      events: [
        clientSecretInstalledEvent(
          ring.clientId,
          { expiresAt: newExpiry, previousExpiresAt: oldExpiry, secretId: secretId(secret) },
          now,
        ),
      ],
    });
    await closeOpenRotations(store, ring.clientId, { oldExpiry, newExpiry }, now);
    deps.metrics?.secretRotations.inc({ type: 'new_secret' });
    await ring.reload();
    return result;
  }

  if (type === SECRET_EXPIRY) {
    const p = object(payload.applicationOAuthClientSecretExpiry);
    if (p === undefined) {
      throw new NotificationError(
        'invalid_notification',
        'payload.applicationOAuthClientSecretExpiry is required.',
      );
    }
    checkClient(p.clientId);
    const expiry = time(p.clientSecretExpiryTime, 'clientSecretExpiryTime');
    const reason =
      typeof p.clientSecretExpiryReason === 'string' && /^[A-Z0-9_]{1,64}$/.test(p.clientSecretExpiryReason)
        ? p.clientSecretExpiryReason
        : null;
    // The id comes from the notification's, so a redelivered notification enqueues nothing new.
    const key = notif ?? `${ring.clientId}|${expiry}|${reason ?? ''}`;
    await store.enqueueWebhookEvents([clientSecretExpiringEvent(ring.clientId, expiry, reason, now, key)], {
      skipExisting: true,
    });
    await store.appendAudit([
      {
        action: 'client_secret.expiring',
        actor,
        outcome: 'ok',
        at: now,
        details: { notification_id: notif, reason },
      },
    ]);
    // The deadline the unattended rotation works towards (one row per deadline: a redelivery adds none).
    await store.openSecretRotation({ clientId: ring.clientId, deadlineAt: expiry, source: 'notice' });
    deps.metrics?.secretRotations.inc({ type: 'secret_expiry' });
    return { notificationType: type, outcome: 'accepted', expiresAt: new Date(expiry).toISOString() };
  }

  throw new NotificationError(
    'unsupported_notification',
    `Only ${NEW_SECRET} and ${SECRET_EXPIRY} notifications are accepted here.`,
  );
}

/**
 * A new secret is installed: every rotation of the client still open (due, requested, failed) is
 * done, the replaced secret kept until `oldExpiry`, the next deadline `newExpiry`. Idempotent (compare-and-set on the state).
 */
async function closeOpenRotations(
  store: Pick<Store, 'listSecretRotations' | 'transitionSecretRotation'>,
  clientId: string,
  { oldExpiry, newExpiry }: { readonly oldExpiry: number; readonly newExpiry: number },
  now: number,
): Promise<void> {
  for (const r of await store.listSecretRotations(clientId, 20)) {
    if (r.state !== 'due' && r.state !== 'requested' && r.state !== 'failed') continue;
    await store.transitionSecretRotation(
      r.id,
      [r.state],
      {
        state: 'installed',
        installedAt: now,
        oldExpiresAt: oldExpiry,
        newExpiresAt: newExpiry,
        retryAt: null,
      },
      {
        audit: [
          {
            action: 'client_secret.rotation_installed',
            actor: 'system',
            outcome: 'ok',
            at: now,
            details: { rotation_id: r.id, old_expires_at: new Date(oldExpiry).toISOString() },
          },
        ],
      },
    );
  }
}

/**
 * Asks Amazon for a new client secret (Application Management API, grantless with the
 * `client_credential:rotation` scope). Amazon answers 204 and delivers the secret later in an
 * `APPLICATION_OAUTH_CLIENT_NEW_SECRET` notification. Throws an `Error` with a stable `code`
 * (`rotation_not_enrolled` for Amazon's `400 InvalidInput` — no queue registered for the
 * application's client-secret notifications —, `rotation_refused`, `rotation_failed`) on anything else.
 *
 * @example
 * await requestClientSecretRotation({ amazon, fetch });
 */
export async function requestClientSecretRotation(deps: {
  readonly amazon: Pick<AmazonGateway, 'getGrantlessToken' | 'endpoint'>;
  readonly fetch?: (req: Request) => Promise<Response>;
}): Promise<void> {
  const token = await deps.amazon.getGrantlessToken('sellingpartnerapi::client_credential:rotation');
  let res: Response;
  try {
    res = await (deps.fetch ?? ((r: Request) => fetch(r)))(
      new Request(`${deps.amazon.endpoint('na')}/applications/2023-11-30/clientSecret`, {
        method: 'POST',
        headers: { 'x-amz-access-token': token.accessToken, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      }),
    );
  } catch {
    throw Object.assign(new Error('the Application Management API could not be reached'), {
      code: 'rotation_failed',
    });
  }
  if (res.status === 204 || res.status === 200) {
    await res.body?.cancel().catch(() => {});
    return;
  }
  const amazonCode =
    res.status === 400 ? await errorCodeOf(res) : (await res.body?.cancel().catch(() => {}), null);
  if (amazonCode === 'InvalidInput') {
    throw Object.assign(
      new Error(
        'Amazon refused the rotation: the application is not enrolled for rotation notifications (HTTP 400 InvalidInput)',
      ),
      { code: 'rotation_not_enrolled', status: 400 },
    );
  }
  throw Object.assign(new Error(`Amazon refused the rotation (HTTP ${res.status})`), {
    code: res.status >= 500 || res.status === 429 ? 'rotation_failed' : 'rotation_refused',
    status: res.status,
  });
}

/** The first `errors[].code` of an SP-API error body (read up to 16 KB), or null. */
async function errorCodeOf(res: Response): Promise<string | null> {
  try {
    const text = (await res.text()).slice(0, 16_384);
    const code = (JSON.parse(text) as { errors?: { code?: unknown }[] }).errors?.[0]?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}
