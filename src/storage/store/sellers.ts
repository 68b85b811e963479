// The sellers concern: one authorization per (selling partner, region), listed and paged.
import type {
  AccessToken,
  PartnerKind,
  Region,
  SellerTokenKey,
  SellerTokenStatus,
} from '../../core/index.js';
import type { ChangeEffects } from './effects.js';
// Named in the TSDoc links below.
import type { RefreshTokenInUseError, SellerOwnershipError } from '../errors.js';
import type { RefreshStore } from './refresh.js';
import { isVisibleAscii, VISIBLE_ASCII_CLASS } from '../../core/printable.js';

export type { SellerTokenKey as SellerKey } from '../../core/index.js';

/** `active` | `reauthorization_required` (see `SELLER_TOKEN_STATUSES` in the core for why there is no `revoked`). */
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
   * When the refresh token was granted (the 365-day clock), for an import of a seller authorized
   * elsewhere; default: now.
   */
  readonly authorizedAt?: number;
  /**
   * Which existing row (same seller and region) this authorization may replace:
   * - `'none'`: none, a first authorization only; an existing row throws {@link SellerExistsError}.
   *   For a transaction that named no seller or carries no owner (the selling partner id in a
   *   callback is browser-supplied: such an authorization cannot prove it is that seller's).
   * - `'same_owner'` (default): a row whose `userRef` equals this one's (both may be null).
   * - `'same_owner_or_unowned'`: also a row without an owner, which this authorization claims. For
   *   a transaction that named this seller and carries an owner.
   *
   * A row of another owner throws {@link SellerOwnershipError}, unless `allowRelink`.
   */
  readonly replaces?: ReplacePolicy;
  /**
   * Re-link a seller stored with a different `userRef` (`SPAPI_AUTH_ALLOW_RELINK`) when
   * `replaces` allows replacing at all.
   */
  readonly allowRelink?: boolean;
  /**
   * The seller's profile read with the new tokens, stored in the same transaction (replacing the one
   * stored before); absent or null: the stored profile, if any, is kept.
   */
  readonly profile?: SellerProfile | null;
  /**
   * Refuse a refresh token already stored for another selling partner id (checked by fingerprint in
   * the write's transaction): throws {@link RefreshTokenInUseError}, nothing written. For tokens
   * that did not come from this seller's own code exchange (an import); the same seller in another
   * region is not another seller.
   */
  readonly exclusiveRefreshToken?: boolean;
}

/** The result of {@link SellerStore.fingerprintRefreshTokens}. */
export interface FingerprintProgress {
  /** Rows given a fingerprint under the active key. */
  readonly updated: number;
  /** Rows whose refresh token did not open (left as they are; `credential_integrity_error` when read). */
  readonly unreadable: number;
}

/** See {@link AuthorizationInput.replaces}. */
export type ReplacePolicy = 'none' | 'same_owner' | 'same_owner_or_unowned';

/** The result of {@link SellerStore.saveAuthorization}. */
export interface SaveAuthorizationResult {
  readonly seller: SellerRecord;
  /** False when an existing authorization was replaced (re-authorization). */
  readonly created: boolean;
  /** The `userRef` stored before, when the save re-linked the seller to another user. */
  readonly relinkedFrom: string | null;
}

/**
 * Options of {@link SellerStore.listSellers}.
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

/**
 * The longest page cursor a caller may pass back. The store's cursors are base64url of the last
 * row's key (well under 200 characters); anything longer, or outside visible ASCII, is not one of
 * them and is refused before the store decodes it (the API, the dashboard and the OpenAPI
 * document use this bound).
 */
export const PAGE_CURSOR_MAX_LENGTH = 512;

/**
 * Whether `value` may be a page cursor: 1 to {@link PAGE_CURSOR_MAX_LENGTH} visible ASCII
 * characters (the store still refuses one it did not make).
 *
 * @example
 * isPageCursorShape(page.nextCursor); // true
 */
export function isPageCursorShape(value: unknown): value is string {
  return isVisibleAscii(value, PAGE_CURSOR_MAX_LENGTH);
}

/** {@link isPageCursorShape} as JSON Schema string keywords, for the API's query declaration. */
export const PAGE_CURSOR_SHAPE = Object.freeze({
  minLength: 1,
  maxLength: PAGE_CURSOR_MAX_LENGTH,
  pattern: `^[${VISIBLE_ASCII_CLASS}]*$`,
});

/** One page of sellers, ordered by selling partner id then region. */
export interface SellerPage {
  readonly items: readonly SellerRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * Options of {@link SellerStore.listRefreshDue}.
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
  /**
   * The hot set: only sellers whose access token was asked for at or after this time (epoch ms,
   * `last_used_at`, see {@link RefreshStore.recordSellerUse}); absent: every active seller.
   */
  readonly usedSince?: number;
  /** Leave out sellers under a live refresh claim ({@link RefreshStore.claimRefreshDue}). */
  readonly unclaimed?: boolean;
}

/** An active seller whose stored access token expires soon (see {@link SellerStore.listRefreshDue}). */
export interface RefreshDueEntry {
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly accessTokenExpiresAt: number;
}

/** One marketplace of a seller's profile (from SP-API's marketplaceParticipations). */
export interface SellerMarketplace {
  /** Amazon's marketplace id, e.g. `ATVPDKIKX0DER`. */
  readonly id: string;
  /** ISO country code as Amazon reports it (`US`, `GB`, …). */
  readonly country: string;
  /** e.g. `Amazon.com`. */
  readonly name: string;
  /** Whether the seller participates in the marketplace. */
  readonly participating: boolean;
  readonly suspendedListings: boolean;
}

/** What SP-API says about the seller: its store name and marketplaces, and when it was read. */
export interface SellerProfile {
  readonly storeName: string | null;
  readonly marketplaces: readonly SellerMarketplace[];
  readonly fetchedAt: number;
}

/** Sellers: what one authorization is, listed and changed with its events and audit. */
export interface SellerStore {
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
  /**
   * The sellers (every region) this refresh token is stored for, found by its keyed fingerprint
   * (no stored token is opened). Rows without a current fingerprint are found only after
   * {@link SellerStore.fingerprintRefreshTokens}.
   */
  findSellersByRefreshToken(refreshToken: string): Promise<SellerTokenKey[]>;
  /**
   * Gives every seller row a fingerprint of its refresh token under the active key: rows stored
   * before fingerprints existed, or fingerprinted under a key rotated since. Opens each such row's
   * token once; a row changed meanwhile is left to the write that changed it (it fingerprinted it).
   */
  fingerprintRefreshTokens(): Promise<FingerprintProgress>;
  /** Forgets the seller and wipes its tokens (and its profile); false when no such seller. */
  deleteSeller(key: SellerTokenKey, effects?: ChangeEffects): Promise<boolean>;
  /** The seller's profile, or null when it was never fetched. */
  getSellerProfile(key: SellerTokenKey): Promise<SellerProfile | null>;
  /** Stores (replaces) the seller's profile; false when no such seller. */
  saveSellerProfile(key: SellerTokenKey, profile: SellerProfile): Promise<boolean>;
  /** Active sellers with no profile yet (its fetch failed or is pending), oldest authorization first. */
  listSellersWithoutProfile(limit: number): Promise<SellerTokenKey[]>;
}
