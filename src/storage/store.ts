/**
 * The one storage interface of the service: everything spapi-auth keeps, behind a small set of
 * atomic operations. Three adapters implement it (memory, SQLite, PostgreSQL) and pass one
 * contract suite (`test/storage/contract.ts`).
 *
 * Conventions:
 * - Plain objects in and out; timestamps are epoch milliseconds (`number`); absent values are `null`.
 * - Secrets go in and come out as plaintext: the adapter seals them with the key ring it was opened
 *   with (AES-256-GCM, additional data = table, column and row key — see `crypto.ts`) and never
 *   writes them in clear. A value that fails authentication throws {@link StorageIntegrityError}
 *   (code `credential_integrity_error`) and is never returned.
 * - Methods that report a change take `events` (webhook outbox) and `audit` records, written in the
 *   same transaction as the change, so an event is never lost nor emitted for a change that failed.
 * - Every method is one atomic step; none holds a transaction open across a call to Amazon.
 *
 * @example
 * ```ts
 * import { openStore, parseKeyRing } from 'spapi-auth/storage';
 * const store = await openStore('sqlite:./data/spapi-auth.db', { keyRing: parseKeyRing(process.env.SPAPI_AUTH_ENCRYPTION_KEYS!) });
 * const seller = await store.getSeller({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' });
 * ```
 */
import type {
  AccessToken,
  PartnerKind,
  RefreshFailure,
  RefreshLease,
  Region,
  SellerTokenKey,
} from '../core/index.js';
import type { SellerTokenState, SellerTokenStatus } from '../core/index.js';

import type { KeyRing } from './crypto.js';
// Named in the TSDoc links below.
import type { SellerOwnershipError, StorageIntegrityError, StorageUnavailableError } from './errors.js';

export type { SellerTokenKey as SellerKey } from '../core/index.js';

/** `active` | `reauthorization_required` | `revoked`. */
export type SellerStatus = SellerTokenStatus;

/** A stored refresh failure, with the time it was recorded. */
export interface SellerError {
  readonly code: string;
  readonly message: string | null;
  readonly at: number;
}

/** What the store knows of one authorization, without its secrets (safe to list and show). */
export interface SellerRecord {
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly kind: PartnerKind;
  /** The app's own user or account id, or null (Appstore flow without a sign-in step). */
  readonly userRef: string | null;
  readonly status: SellerStatus;
  /** The marketplace country code the seller connected through (`US`, `DE`, …), or null. */
  readonly marketplace: string | null;
  /** When the current refresh token was stored (the 365-day re-authorization clock starts here). */
  readonly authorizedAt: number;
  readonly lastRefreshAt: number | null;
  readonly lastError: SellerError | null;
  /** Expiry of the cached access token, or null when none is cached. */
  readonly accessTokenExpiresAt: number | null;
  /** Bumped by every write of the row's tokens or status. */
  readonly version: number;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * A webhook event to write to the outbox; `data` is the event's JSON `data` member (never a secret).
 *
 * @example
 * ```ts
 * const event = { id: randomUUID(), type: 'seller.deleted', createdAt: Date.now(), data: { selling_partner_id: id } };
 * ```
 */
export interface WebhookEventInput {
  /** Unique id, also the `id` of the delivered JSON. */
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * An audit record to append: who did what to which seller. Never a token or a secret.
 *
 * @example
 * ```ts
 * await store.appendAudit([{ action: 'token.released', actor: apiKey.id, sellingPartnerId: id, region: 'na', outcome: 'cache_hit' }]);
 * ```
 */
export interface AuditInput {
  /** e.g. `seller.authorized`, `token.released`, `seller.deleted`, `api_key.created`. */
  readonly action: string;
  /** Who acted: an API key id, `admin`, `cli`, `system`… */
  readonly actor?: string | null;
  readonly sellingPartnerId?: string | null;
  readonly region?: Region | null;
  /** e.g. `ok`, `cache_hit`, an error code. */
  readonly outcome?: string | null;
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
  /** Defaults to the store's clock. */
  readonly at?: number;
}

/** A stored audit record. */
export interface AuditRecord {
  /** Increasing; also the paging cursor of {@link Store.listAudit}. */
  readonly id: number;
  readonly at: number;
  readonly action: string;
  readonly actor: string | null;
  readonly sellingPartnerId: string | null;
  readonly region: Region | null;
  readonly outcome: string | null;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * The change-reporting side effects written in the same transaction as a change.
 *
 * @example
 * ```ts
 * await store.deleteSeller(key, { events: [deletedEvent], audit: [{ action: 'seller.deleted', actor: 'admin' }] });
 * ```
 */
export interface ChangeEffects {
  readonly events?: readonly WebhookEventInput[];
  readonly audit?: readonly AuditInput[];
}

/**
 * A new or renewed authorization, as the callback stores it.
 *
 * @example
 * ```ts
 * await store.saveAuthorization({ sellingPartnerId, region: 'eu', kind: 'seller', userRef: tx.userRef,
 *   marketplace: 'DE', refreshToken: result.refreshToken, accessToken: { accessToken, expiresAt },
 *   allowRelink: config.allowRelink, events: [authorizedEvent], audit: [{ action: 'seller.authorized' }] });
 * ```
 */
export interface AuthorizationInput extends ChangeEffects {
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly kind: PartnerKind;
  readonly userRef: string | null;
  readonly marketplace: string | null;
  readonly refreshToken: string;
  /** The access token the code exchange returned, cached for every instance; optional. */
  readonly accessToken?: AccessToken | null;
  /**
   * Re-link a seller stored with a different non-null `userRef` (`SPAPI_AUTH_ALLOW_RELINK`).
   * Without it such a save throws {@link SellerOwnershipError}. A null `userRef` never re-links:
   * the stored one is kept.
   */
  readonly allowRelink?: boolean;
}

/** The result of {@link Store.saveAuthorization}. */
export interface SaveAuthorizationResult {
  readonly seller: SellerRecord;
  /** False when an existing authorization was replaced (re-authorization). */
  readonly created: boolean;
  /** The `userRef` stored before, when the save re-linked the seller to another user. */
  readonly relinkedFrom: string | null;
}

/**
 * Options of {@link Store.listSellers}.
 *
 * @example
 * ```ts
 * const page = await store.listSellers({ status: 'active', search: 'A3F', limit: 50, cursor: previous.nextCursor });
 * ```
 */
export interface ListSellersQuery {
  readonly status?: SellerStatus;
  /** A prefix of the selling partner id or of the user_ref (case-sensitive). */
  readonly search?: string;
  /** The `nextCursor` of the previous page. */
  readonly cursor?: string | null;
  /** 1…500, default 50. */
  readonly limit?: number;
}

/** One page of sellers, ordered by selling partner id then region. */
export interface SellerPage {
  readonly items: readonly SellerRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * Options of {@link Store.listRefreshDue}.
 *
 * @example
 * ```ts
 * const due = await store.listRefreshDue({ before: Date.now() + 600_000, limit: 200 });
 * const next = await store.listRefreshDue({ before, after: due[due.length - 1], limit: 200 });
 * ```
 */
export interface RefreshDueQuery {
  /** Access tokens expiring strictly before this time (epoch ms). */
  readonly before: number;
  /** The last entry of the previous page (keyset: expiry, then seller id, then region). */
  readonly after?: RefreshDueEntry | null;
  /** 1…1000, default 100. */
  readonly limit?: number;
}

/** An active seller whose stored access token expires soon (see {@link Store.listRefreshDue}). */
export interface RefreshDueEntry {
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly accessTokenExpiresAt: number;
}

/** Which consent flow started an OAuth transaction. */
export type OAuthFlow = 'website' | 'appstore';

/**
 * A new OAuth transaction (state and binding cookie are stored only as hashes).
 *
 * @example
 * ```ts
 * await store.createOAuthTransaction({ stateHash: sha256(state), bindingHash: sha256(cookie), flow: 'website',
 *   kind: 'seller', marketplace: 'US', region: 'na', userRef: 'u1', returnTo: null,
 *   expectedSellingPartnerId: null, pkceVerifier: null, expiresAt: Date.now() + 600_000 });
 * ```
 */
export interface OAuthTransactionInput {
  /** SHA-256 (hex or base64url) of the `state` sent to Amazon; the lookup key. */
  readonly stateHash: string;
  /** SHA-256 of the binding cookie set in the browser. */
  readonly bindingHash: string;
  readonly flow: OAuthFlow;
  readonly kind: PartnerKind;
  readonly marketplace: string;
  readonly region: Region;
  readonly userRef: string | null;
  readonly returnTo: string | null;
  /** Appstore flow and re-authorization: the seller the callback must return. */
  readonly expectedSellingPartnerId: string | null;
  /** PKCE code verifier, stored encrypted; null without PKCE. */
  readonly pkceVerifier: string | null;
  readonly expiresAt: number;
}

/** A stored OAuth transaction, as returned to the one consumer that won it. */
export interface OAuthTransaction extends OAuthTransactionInput {
  readonly createdAt: number;
  readonly consumedAt: number | null;
}

/** Why a transaction or session could not be consumed. */
export type ConsumeFailure = 'not_found' | 'expired' | 'consumed' | 'binding_mismatch';

/**
 * The result of consuming a single-use record: exactly one concurrent consumer gets `ok: true`.
 *
 * @example
 * ```ts
 * const result = await store.consumeOAuthTransaction(sha256(state), sha256(cookie));
 * if (!result.ok) return errorPage(result.reason === 'consumed' ? 'state_used' : 'state_invalid');
 * ```
 */
export type ConsumeResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: ConsumeFailure };

/** `connect`: a website-flow connect link; `appstore`: a pending Appstore session awaiting the app's sign-in. */
export type SessionType = 'connect' | 'appstore';

/**
 * A new single-use session, looked up by the hash of its token.
 *
 * @example
 * ```ts
 * await store.createSession({ tokenHash: sha256(token), type: 'connect', expiresAt: Date.now() + 600_000,
 *   payload: { user_ref: 'u1', marketplace: 'US', kind: 'seller' } });
 * ```
 */
export interface SessionInput {
  readonly tokenHash: string;
  readonly type: SessionType;
  readonly expiresAt: number;
  /** JSON data carried by the session; stored encrypted. */
  readonly payload: Readonly<Record<string, unknown>>;
}

/** A stored session. */
export interface SessionRecord extends SessionInput {
  readonly createdAt: number;
  readonly consumedAt: number | null;
}

/**
 * A new API key; only the SHA-256 of the key is ever stored.
 *
 * @example
 * ```ts
 * await store.createApiKey({ id: 'key_1', name: 'orders', hash: sha256(key), scopes: ['tokens:read'] });
 * ```
 */
export interface ApiKeyInput {
  readonly id: string;
  readonly name: string | null;
  /** SHA-256 of the full key (hex); the lookup key. */
  readonly hash: string;
  readonly scopes: readonly string[];
}

/** A stored API key. */
export interface ApiKeyRecord extends ApiKeyInput {
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/**
 * An LWA client secret kept for rotation.
 *
 * @example
 * ```ts
 * await store.saveAppSecret({ id: randomUUID(), clientId, secret: newSecret, expiresAt: null });
 * ```
 */
export interface AppSecretInput extends ChangeEffects {
  readonly id: string;
  readonly clientId: string;
  /** Stored encrypted. */
  readonly secret: string;
  /** When the secret stops working at Amazon, or null when unknown. */
  readonly expiresAt: number | null;
}

/** A stored client secret, decrypted. */
export interface AppSecretRecord {
  readonly id: string;
  readonly clientId: string;
  readonly secret: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

/** A webhook event claimed for delivery. */
export interface OutboxEvent {
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
  /** Delivery attempts so far, including the current one. */
  readonly attempts: number;
  readonly lastError: string | null;
}

/** Where an outbox event stands. */
export type OutboxState = 'pending' | 'delivered' | 'dead';

/** One outbox row as the admin page lists it (the event's data included; it never holds a secret). */
export interface OutboxRecord {
  /** Insertion order; the paging cursor of {@link Store.listWebhookEvents}. */
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
  readonly state: OutboxState;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number;
  readonly deliveredAt: number | null;
  readonly deadAt: number | null;
}

/** Outbox counts for metrics. */
export interface OutboxDepth {
  /** Waiting for (another) delivery attempt. */
  readonly pending: number;
  /** Given up after too many failures. */
  readonly dead: number;
}

/** One encrypted value, as rewrap sees it (ciphertext only, never decrypted by the store here). */
export interface EncryptedValueRef {
  readonly table: EncryptedTable;
  readonly column: string;
  /** The row key that is part of the additional authenticated data. */
  readonly rowKey: string;
  /** The sealed value (format in `crypto.ts`). */
  readonly ciphertext: string;
}

/** The tables that hold encrypted columns. */
export type EncryptedTable = 'sellers' | 'oauth_transactions' | 'connect_sessions' | 'app_secrets';

/** One page of encrypted values. */
export interface EncryptedValuePage {
  readonly items: readonly EncryptedValueRef[];
  readonly nextCursor: string | null;
}

/** A migration applied by {@link Store.migrate}. */
export interface MigrationProgress {
  readonly name: string;
  readonly index: number;
  readonly total: number;
}

/**
 * Everything the service keeps. See the module comment for conventions.
 *
 * @example
 * ```ts
 * const store = createMemoryStore();
 * await store.saveAuthorization({ sellingPartnerId: 'A1', region: 'na', kind: 'seller', userRef: 'u1',
 *   marketplace: 'US', refreshToken: 'Atzr|…', events: [event], audit: [{ action: 'seller.authorized' }] });
 * ```
 */
export interface Store {
  /** `memory`, `sqlite` or `postgres`. */
  readonly engine: 'memory' | 'sqlite' | 'postgres';

  // ── lifecycle ──
  /** Applies pending migrations (also done at open unless disabled); resolves to the names applied. */
  migrate(options?: { onProgress?: (progress: MigrationProgress) => void }): Promise<string[]>;
  /** Names of migrations not yet applied (empty when ready). Throws {@link StorageUnavailableError} when unreachable. */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;

  // ── sellers ──
  getSeller(key: SellerTokenKey): Promise<SellerRecord | null>;
  /** Every region's authorization of one selling partner, ordered by region. */
  findSellers(sellingPartnerId: string): Promise<SellerRecord[]>;
  listSellers(query?: ListSellersQuery): Promise<SellerPage>;
  countSellersByStatus(): Promise<Record<SellerStatus, number>>;
  /**
   * Active sellers with a stored access token expiring before `query.before`, soonest first (then by
   * id and region), one page at a time; sellers without a stored token or not `active` are left out.
   */
  listRefreshDue(query: RefreshDueQuery): Promise<RefreshDueEntry[]>;
  /**
   * Stores a new authorization or replaces one atomically (refresh token, status `active`,
   * authorized_at, cached access token, lease cleared, version bumped), with its events and audit.
   * Throws {@link SellerOwnershipError} when the seller belongs to another user_ref and
   * `allowRelink` is not set; nothing is written then.
   */
  saveAuthorization(input: AuthorizationInput): Promise<SaveAuthorizationResult>;
  /** Sets the status (e.g. `revoked`), bumping the version; false when no such seller. */
  setSellerStatus(key: SellerTokenKey, status: SellerStatus, effects?: ChangeEffects): Promise<boolean>;
  /** Forgets the seller and wipes its tokens; false when no such seller. */
  deleteSeller(key: SellerTokenKey, effects?: ChangeEffects): Promise<boolean>;

  // ── tokens and the refresh lease (the TokenVault protocol, see core/token-vault.ts) ──
  /** The decrypted tokens; throws {@link StorageIntegrityError} when a ciphertext fails authentication. */
  loadTokens(key: SellerTokenKey): Promise<SellerTokenState | null>;
  /**
   * Takes the lease for `owner` when no unexpired lease is held — by anyone, `owner` included (then
   * null): several callers in one process sharing an owner id still get one lease between them.
   * The returned `version` is the row's current one; a caller that loaded an older version should
   * re-load instead of refreshing (someone committed in between).
   */
  acquireRefreshLease(key: SellerTokenKey, owner: string, ttlMs: number): Promise<RefreshLease | null>;
  /**
   * Compare-and-set on owner and version: stores the access token — and `rotatedRefreshToken`,
   * sealed like the refresh token of {@link Store.saveAuthorization}, when LWA rotated it — records
   * the refresh and releases the lease, in one write; false (nothing written) when the lease was lost.
   */
  commitRefresh(
    key: SellerTokenKey,
    lease: RefreshLease,
    token: AccessToken,
    rotatedRefreshToken?: string,
  ): Promise<boolean>;
  /** Releases the lease if still held by `lease.owner` at `lease.version`, recording the failure. */
  releaseRefreshLease(key: SellerTokenKey, lease: RefreshLease, failure?: RefreshFailure): Promise<void>;
  /**
   * Marks `reauthorization_required` and releases the lease if still ours at `lease.version`,
   * with its events and audit; false when the lease was lost (nothing written).
   */
  markReauthorizationRequired(
    key: SellerTokenKey,
    lease: RefreshLease,
    failure: RefreshFailure,
    effects?: ChangeEffects,
  ): Promise<boolean>;
  /** Drops the cached access token if it is still `accessToken`. */
  discardAccessToken(key: SellerTokenKey, accessToken: string): Promise<void>;

  // ── OAuth transactions and sessions ──
  createOAuthTransaction(input: OAuthTransactionInput): Promise<void>;
  /**
   * Consumes the transaction atomically when the binding hash matches, it is unexpired and not
   * consumed: exactly one of any number of concurrent callers gets `ok: true`.
   */
  consumeOAuthTransaction(stateHash: string, bindingHash: string): Promise<ConsumeResult<OAuthTransaction>>;
  createSession(input: SessionInput): Promise<void>;
  /** Consumes a session of that type atomically (one winner); `binding_mismatch` is never returned. */
  consumeSession(tokenHash: string, type: SessionType): Promise<ConsumeResult<SessionRecord>>;
  /** Deletes transactions and sessions that expired more than `graceMs` (default 1 h) ago; resolves to the count. */
  purgeExpired(graceMs?: number): Promise<number>;

  // ── API keys ──
  createApiKey(input: ApiKeyInput, effects?: ChangeEffects): Promise<ApiKeyRecord>;
  /** The key with that hash, revoked or not (the caller checks `revokedAt`). */
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Records a use (cheap; callers may throttle it). */
  touchApiKey(id: string): Promise<void>;
  /** False when no such key or already revoked. */
  revokeApiKey(id: string, effects?: ChangeEffects): Promise<boolean>;

  // ── client secrets ──
  saveAppSecret(input: AppSecretInput): Promise<AppSecretRecord>;
  /** Secrets of one client id, newest first, decrypted. */
  listAppSecrets(clientId: string): Promise<AppSecretRecord[]>;
  /** Sets or changes when a secret expires (e.g. the old one once the new is accepted). */
  setAppSecretExpiry(id: string, expiresAt: number | null): Promise<boolean>;
  deleteAppSecret(id: string): Promise<boolean>;

  // ── audit log ──
  appendAudit(records: readonly AuditInput[]): Promise<void>;
  /** Newest first; `before` is an {@link AuditRecord.id} for paging; limit 1…1000, default 100. */
  listAudit(query?: {
    sellingPartnerId?: string;
    region?: Region;
    before?: number;
    limit?: number;
  }): Promise<AuditRecord[]>;

  // ── webhook outbox ──
  /**
   * Enqueues events on their own (events of a change go through that change's `effects`). With
   * `skipExisting`, an event whose id is already in the outbox is skipped instead of refused (for
   * sweeps that derive the id from what they report, so a repeated sweep enqueues nothing new).
   */
  enqueueWebhookEvents(
    events: readonly WebhookEventInput[],
    options?: { readonly skipExisting?: boolean },
  ): Promise<void>;
  /**
   * Claims up to `limit` due events for `owner` for `leaseMs` (an event whose lease expired is
   * claimable again, so a crashed deliverer loses nothing); oldest first.
   */
  claimWebhookEvents(owner: string, options: { limit: number; leaseMs: number }): Promise<OutboxEvent[]>;
  /** Marks a claimed event delivered; false when the claim was lost. */
  markWebhookDelivered(id: string, owner: string): Promise<boolean>;
  /** Records a failed attempt: retry at `nextAttemptAt`, or give up when it is null. */
  markWebhookFailed(
    id: string,
    owner: string,
    failure: { error: string; nextAttemptAt: number | null },
  ): Promise<boolean>;
  webhookOutboxDepth(): Promise<OutboxDepth>;
  /** Outbox rows, newest first; `before` is an {@link OutboxRecord.seq} for paging; limit 1…500, default 50. */
  listWebhookEvents(query?: {
    readonly state?: OutboxState;
    readonly before?: number;
    readonly limit?: number;
  }): Promise<OutboxRecord[]>;
  /**
   * Makes an undelivered event (pending or given up) due now again, clearing its dead mark; false
   * when no such event, it was delivered, or a deliverer holds an unexpired claim on it (so a retry
   * can never cause a second delivery).
   */
  retryWebhookEvent(id: string): Promise<boolean>;

  // ── encryption maintenance (rewrap) ──
  /** Every encrypted value, paged in a stable order (ciphertext only). */
  listEncryptedValues(options: { cursor?: string | null; limit: number }): Promise<EncryptedValuePage>;
  /** Compare-and-set on the old ciphertext: replaces it only if unchanged; false otherwise. */
  replaceEncryptedValue(ref: EncryptedValueRef, ciphertext: string): Promise<boolean>;
}

/**
 * Options every adapter takes.
 *
 * @example
 * ```ts
 * const store = await createSqliteStore({ path: './data/spapi-auth.db', keyRing, now: clock.now });
 * ```
 */
export interface StoreOptions {
  /** The key ring that seals and opens secrets; without one, any secret read or write throws. */
  readonly keyRing?: KeyRing | null;
  /** The clock (epoch ms); injected by tests. */
  readonly now?: () => number;
  /** Apply pending migrations at open (default true). */
  readonly migrate?: boolean;
}
