// What every adapter shares: sealing with the right additional data, cursors, argument checks.
// Internal to src/storage (not exported from the package).
import { SELLER_TOKEN_STATUSES } from '../core/token-vault.js';
import { isRegion } from '../core/index.js';
import type { PartnerKind, Region, SellerTokenKey } from '../core/index.js';
import { fingerprintCandidates, fingerprintValue, openValue, sealValue } from './crypto.js';
import type { KeyRing } from './crypto.js';
import { KeyRingError, SellerExistsError, SellerOwnershipError } from './errors.js';
import type {
  AuditInput,
  AuthorizationInput,
  EncryptedTable,
  ListSellersQuery,
  RefreshDueEntry,
  RefreshDueQuery,
  SellerProfile,
  SellerRecord,
  SellerStatus,
  SessionType,
  StoreOptions,
  WebhookEventInput,
} from './store.js';

export const SELLER_STATUSES: readonly SellerStatus[] = SELLER_TOKEN_STATUSES;
const PARTNER_KINDS: readonly PartnerKind[] = ['seller', 'vendor'];
const SESSION_TYPES: readonly SessionType[] = ['connect', 'appstore'];
export const DEFAULT_PURGE_GRACE_MS = 60 * 60 * 1000;
/** Delivered webhook events are kept this long for inspection, then purged. */
export const DELIVERED_EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** The encrypted columns, by table, in rewrap order; `column` is the logical name used in the AAD. */
export const ENCRYPTED_COLUMNS: Readonly<Record<EncryptedTable, readonly string[]>> = {
  sellers: ['refresh_token', 'access_token'],
  oauth_transactions: ['pkce_verifier'],
  connect_sessions: ['payload'],
  app_secrets: ['secret'],
  notifications_aside: ['body'],
};
export const ENCRYPTED_TABLES = Object.keys(ENCRYPTED_COLUMNS) as EncryptedTable[];

/** The AAD row key of a seller: the region first, so that the split is unambiguous. */
export function sellerRowKey(key: SellerTokenKey): string {
  return `${key.region}|${key.sellingPartnerId}`;
}

/** Inverse of {@link sellerRowKey}. */
export function parseSellerRowKey(rowKey: string): SellerTokenKey {
  const bar = rowKey.indexOf('|');
  const region = rowKey.slice(0, bar);
  if (bar < 0 || !isRegion(region)) throw new TypeError('invalid seller row key');
  return { region, sellingPartnerId: rowKey.slice(bar + 1) };
}

/** Seals and opens values with the store's key ring, if it has one. */
export interface Sealer {
  seal(table: EncryptedTable, column: string, rowKey: string, plaintext: string): string;
  open(table: EncryptedTable, column: string, rowKey: string, sealed: string): string;
  /** The keyed fingerprint of a secret under the active key (see `fingerprintValue`). */
  fingerprint(purpose: string, plaintext: string): string;
  /** Its fingerprints under every key of the ring (what a stored one may be). */
  fingerprints(purpose: string, plaintext: string): string[];
  /** The active key's id (a fingerprint not starting with it is to be recomputed). */
  activeKid(): string;
  /** The fingerprint under the ring's key `kid`, or undefined when the ring has no such key. */
  fingerprintWith(purpose: string, plaintext: string, kid: string): string | undefined;
}

export function createSealer(keyRing: KeyRing | null | undefined): Sealer {
  const ring = (): KeyRing => {
    if (!keyRing)
      throw new KeyRingError('No encryption key ring is configured (SPAPI_AUTH_ENCRYPTION_KEYS).');
    return keyRing;
  };
  return {
    seal: (table, column, rowKey, plaintext) => sealValue(ring(), { table, column, rowKey }, plaintext),
    open: (table, column, rowKey, sealed) => openValue(ring(), { table, column, rowKey }, sealed),
    fingerprint: (purpose, plaintext) => fingerprintValue(ring(), purpose, plaintext),
    fingerprints: (purpose, plaintext) => fingerprintCandidates(ring(), purpose, plaintext),
    activeKid: () => ring().activeKid,
    fingerprintWith: (purpose, plaintext, kid) =>
      ring().kids.includes(kid) ? fingerprintValue(ring(), purpose, plaintext, kid) : undefined,
  };
}

export function clockOf(options: StoreOptions): () => number {
  return options.now ?? Date.now;
}

export function assertSellerKey(key: SellerTokenKey): void {
  // PostgreSQL text cannot hold NUL; refuse it on every engine alike.
  if (
    typeof key?.sellingPartnerId !== 'string' ||
    key.sellingPartnerId === '' ||
    key.sellingPartnerId.includes('\0')
  ) {
    throw new TypeError('sellingPartnerId must be a non-empty string without NUL');
  }
  assertRegion(key.region);
}

export function assertRegion(region: unknown): asserts region is Region {
  if (!isRegion(region)) throw new TypeError('region must be one of na, eu, fe');
}

export function assertStatus(status: unknown): asserts status is SellerStatus {
  if (!SELLER_STATUSES.includes(status as SellerStatus)) {
    throw new TypeError(`status must be one of ${SELLER_STATUSES.join(', ')}`);
  }
}

export function boundedLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new TypeError(`limit must be 1-${max}`);
  return limit;
}

/** The normalized seller listing query: `after` is the cursor position, `search` a prefix range. */
export interface SellerListPlan {
  readonly status: SellerStatus | null;
  readonly search: string | null;
  /** Every string starting with `search` is ≥ search and < searchEnd in byte (and code point) order. */
  readonly searchEnd: string | null;
  readonly after: SellerTokenKey | null;
  readonly limit: number;
}

export function planSellerList(query: ListSellersQuery = {}): SellerListPlan {
  if (query.status !== undefined) assertStatus(query.status);
  const search = query.search ? String(query.search) : null;
  return {
    status: query.status ?? null,
    search,
    searchEnd: search === null ? null : `${search}\u{10FFFF}`,
    after: query.cursor ? decodeCursor(query.cursor) : null,
    limit: boundedLimit(query.limit, 50, 500),
  };
}

export function encodeCursor(seller: Pick<SellerRecord, 'sellingPartnerId' | 'region'>): string {
  return Buffer.from(JSON.stringify([seller.sellingPartnerId, seller.region])).toString('base64url');
}

function decodeCursor(cursor: string): SellerTokenKey {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && isRegion(value[1])) {
      return { sellingPartnerId: value[0], region: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new TypeError('invalid cursor');
}

/** An opaque cursor over (table index, primary key values), for the rewrap listing. */
export function encodeTableCursor(table: number, key: readonly string[] | null): string {
  return Buffer.from(JSON.stringify([table, key])).toString('base64url');
}

export function decodeTableCursor(cursor: string | null | undefined): {
  table: number;
  key: string[] | null;
} {
  if (!cursor) return { table: 0, key: null };
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      Number.isInteger(value[0]) &&
      (value[1] === null ||
        (Array.isArray(value[1]) && value[1].every((v: unknown) => typeof v === 'string')))
    ) {
      return { table: value[0] as number, key: value[1] as string[] | null };
    }
  } catch {
    // fall through
  }
  throw new TypeError('invalid cursor');
}

// Audit records are for people; a token in one would defeat the vault. Refuse anything token-shaped.
/**
 * What an LWA access or refresh token or a client secret looks like: such values never go in an
 * audit record (nor, for the same reason, in a `user_ref`).
 */
export const TOKEN_SHAPED = /Atz[ar]\||amzn1\.oa2-cs\./;

export function assertAuditSafe(records: readonly AuditInput[]): void {
  for (const record of records) {
    if (typeof record.action !== 'string' || record.action === '')
      throw new TypeError('audit action is required');
    const strings = [record.action, record.actor, record.outcome, record.sellingPartnerId];
    for (const value of Object.values(record.details ?? {}))
      strings.push(typeof value === 'string' ? value : null);
    if (strings.some((s) => typeof s === 'string' && TOKEN_SHAPED.test(s))) {
      throw new TypeError('audit records must not contain tokens or secrets');
    }
  }
}

/** Milliseconds must be finite integers (they become BIGINT / INTEGER columns). */
export function assertTime(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new TypeError(`${name} must be epoch ms`);
}

/** A webhook event needs an id, a type and a creation time. */
export function assertWebhookEvent(e: WebhookEventInput): void {
  if (typeof e.id !== 'string' || e.id === '' || typeof e.type !== 'string' || e.type === '') {
    throw new TypeError('a webhook event needs an id and a type');
  }
  assertTime(e.createdAt, 'event createdAt');
}

/** An authorization to save: a valid seller key and kind, a refresh token, a well-formed access token. */
export function assertAuthorizationInput(input: AuthorizationInput): void {
  assertSellerKey(input);
  if (!PARTNER_KINDS.includes(input.kind)) throw new TypeError('kind must be seller or vendor');
  assertRefreshToken(input.refreshToken, 'refreshToken');
  // PostgreSQL's BIGINT refuses a fractional expiry that SQLite would store: refuse it on both.
  if (input.accessToken) assertTime(input.accessToken.expiresAt, 'accessToken expiresAt');
  if (
    input.authorizedAt !== undefined &&
    !(Number.isSafeInteger(input.authorizedAt) && input.authorizedAt > 0)
  )
    throw new TypeError('authorizedAt must be a positive integer (epoch ms)');
  if (input.profile !== undefined && input.profile !== null) assertSellerProfile(input.profile);
}

/** A seller profile to store: a name or null, a list of marketplaces, a time. */
export function assertSellerProfile(profile: SellerProfile): void {
  if (profile === null || typeof profile !== 'object') throw new TypeError('profile must be an object');
  if (profile.storeName !== null && (typeof profile.storeName !== 'string' || profile.storeName.length > 512))
    throw new TypeError('profile.storeName must be a string of at most 512 characters or null');
  if (!Array.isArray(profile.marketplaces) || profile.marketplaces.length > 100)
    throw new TypeError('profile.marketplaces must be an array of at most 100 marketplaces');
  for (const m of profile.marketplaces) {
    if (typeof m?.id !== 'string' || typeof m.country !== 'string' || typeof m.name !== 'string')
      throw new TypeError('each marketplace needs an id, a country and a name');
  }
  assertPositiveInteger(profile.fetchedAt, 'profile.fetchedAt');
}

/** A session type `createSession` knows. */
export function assertSessionType(type: unknown): asserts type is SessionType {
  if (!SESSION_TYPES.includes(type as SessionType)) throw new TypeError('type must be connect or appstore');
}

/**
 * What a save may replace: the one reading of `AuthorizationInput.replaces` and `allowRelink`.
 * The ownership policy (`server/domain/ownership.ts`) decides them; the store only holds the write
 * to that decision, in the check before it ({@link assertMayReplace}) and in the SQL guard inside
 * it (a concurrent save cannot slip between the two), both read from here. A row of the same
 * owner (both none included) is always replaceable unless `replaces` is `none`; besides it, an
 * unowned row when the policy allows it and the save names an owner, and any row when relinking
 * to a named owner.
 *
 * @example
 * replaceRule({ ...input, replaces: 'same_owner_or_unowned' }).unowned; // true when input names an owner
 */
export interface ReplaceRule {
  /** `replaces: 'none'`: the row must not exist yet. */
  readonly nothing: boolean;
  /** An unowned row may be claimed by the save's owner. */
  readonly unowned: boolean;
  /** Any owner's row may be replaced (relinking to the save's owner). */
  readonly anyOwner: boolean;
}

/** The {@link ReplaceRule} of a save. */
export function replaceRule(input: AuthorizationInput): ReplaceRule {
  const policy = input.replaces ?? 'same_owner';
  return {
    nothing: policy === 'none',
    unowned: policy === 'same_owner_or_unowned' && input.userRef !== null,
    anyOwner: input.allowRelink === true && input.userRef !== null,
  };
}

/**
 * Whether `input` may replace a row owned by `storedUserRef` (its {@link replaceRule});
 * throws {@link SellerExistsError} or {@link SellerOwnershipError} when not.
 */
export function assertMayReplace(storedUserRef: string | null, input: AuthorizationInput): void {
  const rule = replaceRule(input);
  if (rule.nothing) throw new SellerExistsError();
  if (storedUserRef === input.userRef || rule.anyOwner || (rule.unowned && storedUserRef === null)) return;
  throw new SellerOwnershipError();
}

/** A refresh token LWA rotated on a refresh, if any (`commitRefresh`'s optional argument). */
export function assertRotatedRefreshToken(value: unknown): void {
  if (value !== undefined) assertRefreshToken(value, 'rotatedRefreshToken');
}

function assertRefreshToken(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
}

/** The arguments of `acquireRefreshLease`. */
export function assertLeaseRequest(key: SellerTokenKey, owner: unknown, ttlMs: unknown): void {
  assertSellerKey(key);
  if (typeof owner !== 'string' || owner === '') throw new TypeError('owner must be a non-empty string');
  assertPositiveInteger(ttlMs, 'ttlMs');
}

/** A duration or count that must be a positive integer. */
export function assertPositiveInteger(value: unknown, name: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0)
    throw new TypeError(`${name} must be a positive integer`);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value ?? {});
}

/** The checked {@link RefreshDueQuery}: `before` and `after` are validated, `limit` bounded. */
export interface RefreshDuePlan {
  readonly before: number;
  readonly after: RefreshDueEntry | null;
  readonly limit: number;
  readonly usedSince: number | null;
  readonly unclaimed: boolean;
}

export function planRefreshDue(query: RefreshDueQuery): RefreshDuePlan {
  assertTime(query?.before, 'before');
  const after = query.after ?? null;
  if (after !== null) {
    assertSellerKey(after);
    assertTime(after.accessTokenExpiresAt, 'after.accessTokenExpiresAt');
  }
  const usedSince = query.usedSince ?? null;
  if (usedSince !== null) assertTime(usedSince, 'usedSince');
  return {
    before: query.before,
    after,
    limit: boundedLimit(query.limit, 100, 1000),
    usedSince,
    unclaimed: query.unclaimed === true,
  };
}
