// Option and data types of the emulator, shared by its modules.
import type { PartnerKind, Region } from '../core/marketplaces.js';
import type { EmulatorSnapshot } from './snapshot.js';

/** An SP-API application registered with the emulator (what Amazon's Developer Console holds). */
export interface EmulatorApplication {
  /** SP-API application id (`amzn1.sp.solution.…` / `amzn1.sellerapps.app.…`), used in consent URLs. */
  readonly id: string;
  /** Shown on the consent page. */
  readonly name: string;
  /** LWA client id (`amzn1.application-oa2-client.…`), used at the token endpoint. */
  readonly clientId: string;
  /** The current client secret. */
  readonly clientSecret?: string;
  /** Several valid secrets (e.g. mid-rotation); merged with `clientSecret`. */
  readonly clientSecrets?: readonly string[];
  /** Registered OAuth redirect URIs; the first is the default. */
  readonly redirectUris: readonly string[];
  /** The OAuth Login URI, needed by the Appstore workflow. */
  readonly loginUri?: string;
  /** A Draft app: consent requires `version=beta` (MD1000 otherwise). */
  readonly draft?: boolean;
  /**
   * The SQS queue registered for the app's notifications in the Developer Console (Notification
   * Preferences), by name: Amazon sends `APPLICATION_OAUTH_CLIENT_NEW_SECRET` and
   * `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` there, and refuses to rotate the secret of an app
   * without one (`400 InvalidInput`). Default `spapi-auth-notifications`; `null`: not enrolled.
   */
  readonly notificationQueue?: string | null;
  /**
   * When the configured secret(s) expire (ISO 8601; default never). Amazon sends
   * `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` 90 days before, on the emulator's clock, and refuses the
   * secret after. A rotated secret always gets Amazon's 180 days.
   */
  readonly clientSecretExpiresAt?: string;
}

/** A test seller or vendor that can authorize applications. */
export interface EmulatorSeller {
  /** Uppercase alphanumeric merchant id, e.g. `A1EMUSELLERNA01`. */
  readonly sellingPartnerId: string;
  readonly name: string;
  readonly kind: PartnerKind;
  /** Regions the partner sells in; it authorizes (and gets a refresh token) per region. */
  readonly regions: readonly Region[];
  /** Country codes of the marketplaces it participates in (`US`, `DE`, …). */
  readonly marketplaces: readonly string[];
}

/** A token-bucket rate: `rate` tokens per second refilled, at most `burst` in the bucket. */
export interface BucketRate {
  readonly rate: number;
  readonly burst: number;
}

/** The SP-API operations the emulator serves (keys of {@link EmulatorOptions.rates}). */
export type SpapiOperation =
  | 'getMarketplaceParticipations'
  | 'createRestrictedDataToken'
  | 'getOrders'
  | 'rotateApplicationClientSecret';

/** Options of {@link createEmulator}. Every field is optional. */
export interface EmulatorOptions {
  /** Registered applications; default: the built-in dev application only. */
  readonly applications?: readonly EmulatorApplication[];
  /** Test sellers; default: the built-in NA, EU, FE and NA+EU sellers and the NA, EU and FE vendors. */
  readonly sellers?: readonly EmulatorSeller[];
  /** Added before every LWA token response (milliseconds); default 0. */
  readonly latencyMs?: number;
  /** `expires_in` of access tokens (seconds); default 3600. */
  readonly tokenTtlS?: number;
  /** The clock (milliseconds since the epoch); default `Date.now`. `POST /__emulator/clock` offsets it. */
  readonly now?: () => number;
  /** Per-operation token-bucket rates; default Amazon's published usage plans. */
  readonly rates?: Partial<Record<SpapiOperation, BucketRate>>;
  /** Consent mode at start: `auto` answers consent with a redirect at once; default `page`. */
  readonly consentMode?: ConsentMode;
  /**
   * Rotate the refresh token on every refresh and reject the old one (Amazon does not; this exists to
   * test a client's compare-and-set of rotated tokens, docs/security.md T-B17). Default false.
   */
  readonly rotateRefreshTokens?: boolean;
  /** Cap on request bodies (bytes) of the Amazon endpoints; default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** The Appstore's `amazon_callback_uri` host at start (see {@link AppstoreCallbackHost}). */
  readonly appstoreCallbackHost?: AppstoreCallbackHost;
  /**
   * Start from this state (an `emulator.snapshot()`, e.g. read back from a file) instead of a fresh
   * one: the tokens, codes, grants, clock offset, secrets, notifications and counters it holds.
   * Options that changed since it was taken apply (an application whose options differ is
   * registered afresh). Throws `SnapshotError` when it cannot be restored.
   */
  readonly state?: EmulatorSnapshot;
  /** Called after every request the emulator answered (control API included): its state may have changed. */
  readonly onChange?: () => void;
}

/**
 * Where the Appstore hop's `amazon_callback_uri` points: one of Amazon's consent hosts (its own
 * example uses `amazon.com`; integrators report Seller Central hosts), `'relative'` for a bare
 * `/apps/authorize/confirm/<app id>` path, or undefined for the emulator's own origin (default).
 */
export type AppstoreCallbackHost = string | 'relative' | undefined;

/** How the consent page answers. */
export type ConsentMode = 'auto' | 'page';
