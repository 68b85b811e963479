// The emulator's memory: registered apps and sellers, issued codes and tokens, counters, faults,
// notifications and the clock. Everything resets to the construction options on `reset()`.
// Every field but the configuration (CONFIGURATION below) is state: `snapshot()` keeps it and
// `options.state` restores it (snapshot.ts), so a field added here is kept across restarts as long
// as it holds plain data.
import { randomBytes } from 'node:crypto';
import type { Region } from '../core/marketplaces.js';
import { ACCESS_TOKEN_LIFETIME_MS } from '../core/lifetimes.js';
import { DEV_APPLICATION, TEST_SELLERS } from './dev-app.js';
import type { Fault, FaultTarget } from './faults.js';
import { bump, opaqueToken, safeEqual } from './http.js';
import { restoreSnapshot, takeSnapshot, type EmulatorSeed, type EmulatorSnapshot } from './snapshot.js';
import { DEFAULT_NOTIFICATION_QUEUE, SQS_OPERATIONS, sendToQueue, wakeQueues, type Queues } from './sqs.js';
import type {
  AppstoreCallbackHost,
  BucketRate,
  ConsentMode,
  EmulatorApplication,
  EmulatorOptions,
  EmulatorSeller,
  SpapiOperation,
} from './types.js';

export const CODE_TTL_MS = 300_000; // "An LWA authorization code expires after five minutes"
export const OLD_SECRET_GRACE_MS = 7 * 86_400_000; // old credentials expire seven days after new ones
export const NEW_SECRET_LIFE_MS = 180 * 86_400_000; // client secrets must be rotated every 180 days
export const EXPIRY_NOTICE_MS = 90 * 86_400_000; // "a notification 90 days before your LWA credentials rotation deadline"
export const PENDING_TTL_MS = 600_000; // consent pages and amazon_state: 10 minutes (UNCONFIRMED)
export const RDT_TTL_S = 3600; // "An RDT remains valid for one hour"
const MAX_ISSUED = 200_000; // bound on remembered tokens so long load runs cannot exhaust memory
const MAX_SHORT_LIVED = 10_000; // codes, consent pages, amazon_states: pruned past this size

/**
 * Default usage plans (Amazon's published rate tables and the Tokens and Application Management models).
 *
 * @example
 * ```ts
 * createEmulator({ rates: { getOrders: { ...DEFAULT_RATES.getOrders, burst: 1000 } } });
 * ```
 */
export const DEFAULT_RATES: Readonly<Record<SpapiOperation, BucketRate>> = Object.freeze({
  getMarketplaceParticipations: { rate: 0.016, burst: 15 },
  createRestrictedDataToken: { rate: 1, burst: 10 },
  getOrders: { rate: 0.0167, burst: 20 },
  rotateApplicationClientSecret: { rate: 0.0167, burst: 1 },
});

/** One client secret of an app; rotation shortens `expiresAt` of the old ones in place. */
export interface AppSecret {
  readonly secret: string;
  /** Epoch ms; null = no expiry. */
  expiresAt: number | null;
  /** Whether Amazon's 90-day `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` notice for it went out. */
  expiryNoticeSent: boolean;
}

export interface AppState {
  readonly id: string;
  name: string;
  readonly clientId: string;
  /** Valid secrets. */
  secrets: AppSecret[];
  redirectUris: string[];
  loginUri: string | undefined;
  draft: boolean;
  /**
   * The SQS queue registered for the app's notifications (Developer Console → Notification
   * Preferences), by name in the emulator's account; null: none, so rotation is refused.
   */
  notificationQueue: string | null;
}

export interface CodeRecord {
  readonly clientId: string;
  readonly sellingPartnerId: string;
  readonly region: Region;
  /** The redirect URI the code was sent to: an exchange that names one must name this one. */
  readonly redirectUri: string;
  readonly expiresAt: number;
  readonly codeChallenge: string | undefined;
  readonly codeChallengeMethod: 'S256' | 'plain' | undefined;
  used: boolean;
}

export interface RefreshRecord {
  readonly clientId: string;
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly authorizedAt: number;
  revoked: boolean;
}

export interface AccessRecord {
  readonly kind: 'seller' | 'grantless' | 'rdt';
  readonly clientId: string;
  /**
   * The client secret the token was issued with (an RDT: its access token's). Once it expires,
   * SP-API refuses the token: "The LWA secret token you provided has expired."
   */
  readonly secret: AppSecret;
  readonly sellingPartnerId: string | undefined;
  readonly region: Region | undefined;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  /** The refresh token it came from (revocation kills it too). */
  readonly refreshToken: string | undefined;
  /** RDT only: the restricted resources it covers. */
  readonly resources?: readonly { method: string; path: string; dataElements: readonly string[] }[];
}

/** A consent page or Appstore hop waiting for the seller. */
export interface PendingConsent {
  readonly appId: string;
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly region: Region;
  /** Fixed seller (the Appstore flow names it); otherwise chosen on the page. */
  readonly sellingPartnerId: string | undefined;
  readonly codeChallenge: string | undefined;
  readonly codeChallengeMethod: 'S256' | 'plain' | undefined;
  readonly expiresAt: number;
}

export interface AmazonStateRecord {
  readonly appId: string;
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly beta: boolean;
  readonly expiresAt: number;
  used: boolean;
}

/** The counters `GET /__emulator/stats` returns. */
export interface EmulatorStats {
  /** Token calls by grant type, then outcome (`ok`, an LWA error code, or `fault:<status|reset|hang>`). */
  token: Record<string, Record<string, number>>;
  /** SP-API calls by path, then HTTP status (or `reset` / `hang`). */
  spapi: Record<string, Record<string, number>>;
  /** SQS calls on the notification queues by operation (`ReceiveMessage`, …), then HTTP status. */
  sqs: Record<string, Record<string, number>>;
  /** Consent traffic by outcome (`page`, `auto`, `confirm`, `cancel`, `appstore_hop`, an MD error code, …). */
  consent: Record<string, number>;
  /** Successful refreshes per selling partner id. */
  refresh_by_seller: Record<string, number>;
  /** Successful refreshes per refresh token, keyed by the first 16 hex digits of its SHA-256 (never the token). */
  refresh_by_token: Record<string, number>;
  /** Authorization codes issued per selling partner id. */
  consent_by_seller: Record<string, number>;
  /** Every request except the control API's. */
  requests: number;
}

/** Amazon's notification envelope (the notifications schemas). */
export interface EmulatorNotification {
  readonly notificationVersion: string;
  readonly notificationType: string;
  readonly payloadVersion: string;
  readonly eventTime: string;
  readonly payload: Record<string, unknown>;
  readonly notificationMetadata: {
    readonly applicationId: string;
    readonly subscriptionId: string;
    readonly publishTime: string;
    readonly notificationId: string;
  };
}

function emptyStats(): EmulatorStats {
  return {
    token: {},
    spapi: {},
    sqs: {},
    consent: {},
    refresh_by_seller: {},
    refresh_by_token: {},
    consent_by_seller: {},
    requests: 0,
  };
}

function toAppState(app: EmulatorApplication): AppState {
  const secrets = [
    ...(app.clientSecret === undefined ? [] : [app.clientSecret]),
    ...(app.clientSecrets ?? []),
  ];
  return {
    id: app.id,
    name: app.name,
    clientId: app.clientId,
    secrets: secrets.map((secret) => ({
      secret,
      expiresAt: app.clientSecretExpiresAt === undefined ? null : Date.parse(app.clientSecretExpiresAt),
      expiryNoticeSent: false,
    })),
    redirectUris: [...app.redirectUris],
    loginUri: app.loginUri,
    draft: app.draft ?? false,
    notificationQueue:
      app.notificationQueue === undefined ? DEFAULT_NOTIFICATION_QUEUE : app.notificationQueue,
  };
}

/**
 * What an issued token is to the emulator now: `active` (a live refresh token; an access token or
 * RDT not expired, whose client secret is still valid), `revoked` (a refresh token revoked),
 * `expired`, or `unknown` (never issued here, or forgotten: a revoked grant's access tokens are dropped).
 */
export type EmulatorTokenStatus = 'active' | 'revoked' | 'expired' | 'unknown';

export class EmulatorState {
  /** The fields set from the options: configuration, never saved in or restored from a snapshot. */
  static readonly CONFIGURATION: ReadonlySet<string> = new Set([
    'latencyMs',
    'tokenTtlS',
    'rotateRefreshTokens',
    'maxBodyBytes',
    'rates',
    'baseNow',
    'seedApps',
    'seedSellers',
    'seedConsentMode',
    'seedAppstoreCallbackHost',
  ]);

  readonly latencyMs: number;
  readonly tokenTtlS: number;
  readonly rotateRefreshTokens: boolean;
  readonly maxBodyBytes: number;
  readonly rates: Readonly<Record<SpapiOperation, BucketRate>>;
  private readonly baseNow: () => number;
  private readonly seedApps: readonly EmulatorApplication[];
  private readonly seedSellers: readonly EmulatorSeller[];
  private readonly seedConsentMode: ConsentMode;

  offsetMs = 0;
  apps = new Map<string, AppState>();
  sellers = new Map<string, EmulatorSeller>();
  codes = new Map<string, CodeRecord>();
  refreshTokens = new Map<string, RefreshRecord>();
  accessTokens = new Map<string, AccessRecord>();
  pending = new Map<string, PendingConsent>();
  amazonStates = new Map<string, AmazonStateRecord>();
  buckets = new Map<string, { tokens: number; at: number }>();
  faults: Fault[] = [];
  notifications: EmulatorNotification[] = [];
  /** The SQS queues Amazon delivers the apps' notifications to: name → messages (plain data). */
  queues: Queues = {};
  stats: EmulatorStats = emptyStats();
  consentMode: ConsentMode = 'page';
  consentSeller: string | undefined;
  appstoreCallbackHost: AppstoreCallbackHost;
  private readonly seedAppstoreCallbackHost: AppstoreCallbackHost;
  private nextFaultId = 1;

  constructor(options: EmulatorOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.tokenTtlS = options.tokenTtlS ?? ACCESS_TOKEN_LIFETIME_MS / 1000;
    this.rotateRefreshTokens = options.rotateRefreshTokens ?? false;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.rates = { ...DEFAULT_RATES, ...options.rates };
    this.baseNow = options.now ?? Date.now;
    this.seedApps = options.applications ?? [DEV_APPLICATION];
    this.seedSellers = options.sellers ?? TEST_SELLERS;
    this.seedConsentMode = options.consentMode ?? 'page';
    this.seedAppstoreCallbackHost = options.appstoreCallbackHost;
    this.reset();
    if (options.state !== undefined)
      restoreSnapshot(this, options.state, EmulatorState.CONFIGURATION, this.seed());
  }

  private seed(): EmulatorSeed {
    return {
      applications: this.seedApps,
      sellers: this.seedSellers,
      consentMode: this.seedConsentMode,
      appstoreCallbackHost: this.seedAppstoreCallbackHost,
    };
  }

  /** The whole mutable state (every field but the configuration), JSON-safe. */
  snapshot(): EmulatorSnapshot {
    return takeSnapshot(this, EmulatorState.CONFIGURATION, this.seed(), Date.now());
  }

  tokenStatus(token: string): EmulatorTokenStatus {
    const refresh = this.refreshTokens.get(token);
    if (refresh !== undefined) return refresh.revoked ? 'revoked' : 'active';
    const access = this.accessTokens.get(token);
    if (access === undefined) return 'unknown';
    const now = this.now();
    const secretEnded = access.secret.expiresAt !== null && now >= access.secret.expiresAt;
    return now >= access.expiresAt || secretEnded ? 'expired' : 'active';
  }

  /** The emulator's clock: the injected one plus the control API's offset. */
  now(): number {
    return this.baseNow() + this.offsetMs;
  }

  reset(): void {
    this.offsetMs = 0;
    this.queues = {};
    this.apps = new Map();
    for (const app of this.seedApps) this.upsertApp(app);
    this.sellers = new Map(this.seedSellers.map((s) => [s.sellingPartnerId, s]));
    this.codes.clear();
    this.refreshTokens.clear();
    this.accessTokens.clear();
    this.pending.clear();
    this.amazonStates.clear();
    this.buckets.clear();
    this.faults = [];
    this.notifications = [];
    this.stats = emptyStats();
    this.consentMode = this.seedConsentMode;
    this.consentSeller = undefined;
    this.appstoreCallbackHost = this.seedAppstoreCallbackHost;
    wakeQueues(this);
  }

  /** Moves the clock offset; long polls look again (a message's visibility may have ended). */
  setOffset(ms: number): void {
    this.offsetMs = ms;
    this.deliverDueNotices();
    wakeQueues(this);
  }

  upsertApp(app: EmulatorApplication): AppState {
    const state = toAppState(app);
    for (const [id, other] of this.apps) {
      if (other.clientId === state.clientId && id !== state.id) this.apps.delete(id);
    }
    this.apps.set(state.id, state);
    if (state.notificationQueue !== null) this.queues[state.notificationQueue] ??= [];
    return state;
  }

  appByClientId(clientId: string): AppState | undefined {
    for (const app of this.apps.values()) if (app.clientId === clientId) return app;
    return undefined;
  }

  /** The app's unexpired secret equal to `secret`, if any. Checks all, so timing says nothing. */
  matchingSecret(app: AppState, secret: string): AppSecret | undefined {
    const now = this.now();
    let found: AppSecret | undefined;
    for (const s of app.secrets) {
      if (safeEqual(s.secret, secret) && (s.expiresAt === null || now < s.expiresAt)) found = s;
    }
    return found;
  }

  /** The default test seller for a region and kind (first seeded match), if any. */
  defaultSeller(region: Region, kind: 'seller' | 'vendor'): EmulatorSeller | undefined {
    const all = [...this.sellers.values()];
    return (
      all.find((s) => s.kind === kind && s.regions.includes(region)) ??
      all.find((s) => s.regions.includes(region)) ??
      all[0]
    );
  }

  /** Drops expired codes, pages and amazon_states once a table grows large (long load runs). */
  pruneShortLived(): void {
    const now = this.now();
    for (const table of [this.codes, this.pending, this.amazonStates] as Map<
      string,
      { expiresAt: number }
    >[]) {
      if (table.size < MAX_SHORT_LIVED) continue;
      for (const [k, v] of table) if (v.expiresAt <= now) table.delete(k);
    }
  }

  randomId(bytes = 24): string {
    return randomBytes(bytes).toString('base64url');
  }

  /** Remembers an issued token, dropping expired ones when the table grows large. */
  rememberAccess(token: string, record: AccessRecord): void {
    if (this.accessTokens.size >= MAX_ISSUED) {
      const now = this.now();
      for (const [k, v] of this.accessTokens) if (v.expiresAt <= now) this.accessTokens.delete(k);
      if (this.accessTokens.size >= MAX_ISSUED) {
        const oldest = this.accessTokens.keys().next();
        if (!oldest.done) this.accessTokens.delete(oldest.value);
      }
    }
    this.accessTokens.set(token, record);
  }

  issueAccessToken(
    record: Omit<AccessRecord, 'expiresAt'>,
    prefix: string,
  ): { token: string; expiresIn: number } {
    const token = opaqueToken(prefix);
    this.rememberAccess(token, { ...record, expiresAt: this.now() + this.tokenTtlS * 1000 });
    return { token, expiresIn: this.tokenTtlS };
  }

  issueRefreshToken(record: RefreshRecord): string {
    const token = opaqueToken('Atzr|');
    this.refreshTokens.set(token, record);
    return token;
  }

  /** Marks every refresh token (and the access tokens made from it) of a partner as revoked. */
  revoke(sellingPartnerId: string, clientId?: string): number {
    let n = 0;
    for (const [token, r] of this.refreshTokens) {
      if (r.sellingPartnerId !== sellingPartnerId || r.revoked) continue;
      if (clientId !== undefined && r.clientId !== clientId) continue;
      r.revoked = true;
      n++;
      for (const [at, a] of this.accessTokens) if (a.refreshToken === token) this.accessTokens.delete(at);
    }
    return n;
  }

  addFault(make: (id: number) => Fault): Fault {
    const fault = make(this.nextFaultId++);
    this.faults.push(fault);
    return fault;
  }

  /** Takes the first queued fault matching the request, consuming one of its uses. */
  takeFault(target: FaultTarget, match: { grantType?: string; path: string }): Fault | undefined {
    const index = this.faults.findIndex(
      (f) =>
        f.target === target &&
        (f.grant_type === undefined || f.grant_type === match.grantType) &&
        (f.path === undefined || match.path.startsWith(f.path)),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  /** Takes one token from the bucket of (operation, caller); false when it is empty. */
  takeBucket(operation: SpapiOperation, caller: string, plan: BucketRate = this.rates[operation]): boolean {
    const { rate, burst } = plan;
    const key = `${operation} ${caller}`;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  countToken(grantType: string, outcome: string): void {
    bump(this.stats.token, grantType, outcome);
  }

  countSpapi(path: string, status: string): void {
    bump(this.stats.spapi, path, status);
  }

  countSqs(operation: string, status: string): void {
    bump(this.stats.sqs, SQS_OPERATIONS.has(operation) ? operation : '<other>', status);
  }

  countConsent(outcome: string): void {
    this.stats.consent[outcome] = (this.stats.consent[outcome] ?? 0) + 1;
  }

  /** Queues `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` for the app (the rotation page's payload). */
  queueExpiryNotice(app: AppState, expiresAt: number, reason = 'PERIODIC_ROTATION'): EmulatorNotification {
    return this.queueNotification('APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY', app.id, {
      applicationOAuthClientSecretExpiry: {
        clientId: app.clientId,
        clientSecretExpiryTime: new Date(expiresAt).toISOString(),
        clientSecretExpiryReason: reason,
      },
    });
  }

  /**
   * Sends the 90-day expiry notice of each app's current (newest) secret once the clock reaches it,
   * as Amazon does. Older secrets retire with a rotation and get none.
   */
  deliverDueNotices(): void {
    const now = this.now();
    for (const app of this.apps.values()) {
      const current = app.secrets[app.secrets.length - 1];
      if (!current || current.expiresAt === null || current.expiryNoticeSent) continue;
      if (now < current.expiresAt - EXPIRY_NOTICE_MS) continue;
      current.expiryNoticeSent = true;
      this.queueExpiryNotice(app, current.expiresAt);
    }
  }

  queueNotification(
    type: string,
    applicationId: string,
    payload: Record<string, unknown>,
  ): EmulatorNotification {
    const time = new Date(this.now()).toISOString();
    const notification: EmulatorNotification = {
      notificationVersion: '1.0',
      notificationType: type,
      payloadVersion: '1.0',
      eventTime: time,
      payload,
      notificationMetadata: {
        applicationId,
        subscriptionId: `emulator-subscription-${type.toLowerCase()}`,
        publishTime: time,
        notificationId: crypto.randomUUID(),
      },
    };
    this.notifications.push(notification);
    // Amazon delivers it to the queue registered for the app, if there is one.
    const queue = this.apps.get(applicationId)?.notificationQueue;
    if (queue !== null && queue !== undefined) sendToQueue(this, queue, JSON.stringify(notification));
    return notification;
  }
}
