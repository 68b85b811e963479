// Sellers over SQL: one row per (selling partner, region), listed by keyset pages.
import type { Region, SellerTokenKey } from '../../core/index.js';
import { RefreshTokenInUseError, SellerOwnershipError, StorageIntegrityError } from '../errors.js';
import {
  assertAuthorizationInput,
  assertMayReplace,
  replaceRule,
  assertPositiveInteger,
  assertSellerKey,
  assertSellerProfile,
  encodeCursor,
  planRefreshDue,
  planSellerList,
  SELLER_STATUSES,
  sellerRowKey,
} from '../shared.js';
import type { AuthorizationInput, SellerProfile, SellerRecord, SellerStatus, SellerStore } from '../store.js';
import type { Row, SqlContext, SqlExecutor, SqlValue } from './driver.js';
import { keysetAfter, num, numOrNull, strOrNull, TABLE_KEYS } from './values.js';
import { writeEffects } from './effects.js';
import { revokeSellerTokens } from './revocations.js';
import { hotSetCondition } from './refresh.js';

/** The fingerprint purpose of a seller's refresh token (part of its derived key). */
export const REFRESH_TOKEN_FINGERPRINT = 'sellers.refresh_token';

/** The seller columns every read returns (never the sealed tokens). */
export const SELLER_COLUMNS = `selling_partner_id, region, kind, user_ref, status, marketplace, access_token_expires_at,
  version, lease_owner, lease_expires_at, authorized_at, last_refresh_at, last_error_code, last_error_message,
  last_error_at, created_at, updated_at`;

/** A seller row as a {@link SellerRecord}. */
export function toSeller(row: Row): SellerRecord {
  return {
    sellingPartnerId: String(row.selling_partner_id),
    region: row.region as SellerRecord['region'],
    kind: row.kind as SellerRecord['kind'],
    userRef: strOrNull(row.user_ref),
    status: row.status as SellerStatus,
    marketplace: strOrNull(row.marketplace),
    authorizedAt: num(row.authorized_at),
    lastRefreshAt: numOrNull(row.last_refresh_at),
    lastError:
      row.last_error_code === null || row.last_error_code === undefined
        ? null
        : {
            code: String(row.last_error_code),
            message: strOrNull(row.last_error_message),
            at: num(row.last_error_at),
          },
    accessTokenExpiresAt: numOrNull(row.access_token_expires_at),
    version: num(row.version),
    leaseOwner: strOrNull(row.lease_owner),
    leaseExpiresAt: numOrNull(row.lease_expires_at),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** One seller row with its sealed tokens, optionally locked (`forUpdate`). */
export async function selectSeller(
  tx: SqlExecutor,
  key: SellerTokenKey,
  lock = '',
): Promise<Row | undefined> {
  const rows = await tx.all(
    `SELECT ${SELLER_COLUMNS}, refresh_token_enc, access_token_enc FROM sellers
     WHERE selling_partner_id = ? AND region = ?${lock}`,
    [key.sellingPartnerId, key.region],
  );
  return rows[0];
}

/**
 * The SellerStore methods over the SQL driver, in three groups that share nothing but the
 * context: reads of the sellers table, the writes that change a seller's row (and record their
 * effects in the same transaction), and the seller profiles table.
 */
export function sellerMethods(ctx: SqlContext): SellerStore {
  return { ...sellerReads(ctx), ...sellerWrites(ctx), ...profileMethods(ctx), ...fingerprintMethods(ctx) };
}

/** Reads: one seller, the sellers of one id, keyset pages, counts and the refresher's due list. */
function sellerReads(
  ctx: SqlContext,
): Pick<
  SellerStore,
  'getSeller' | 'findSellers' | 'listSellers' | 'countSellersByStatus' | 'listRefreshDue'
> {
  const { db, now } = ctx;
  return {
    async getSeller(key) {
      assertSellerKey(key);
      const [row] = await db.all(
        `SELECT ${SELLER_COLUMNS} FROM sellers WHERE selling_partner_id = ? AND region = ?`,
        [key.sellingPartnerId, key.region],
      );
      return row ? toSeller(row) : null;
    },

    async findSellers(sellingPartnerId) {
      const rows = await db.all(
        `SELECT ${SELLER_COLUMNS} FROM sellers WHERE selling_partner_id = ? ORDER BY region`,
        [sellingPartnerId],
      );
      return rows.map(toSeller);
    },

    async listSellers(query) {
      const plan = planSellerList(query);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (plan.status) {
        where.push('status = ?');
        params.push(plan.status);
      }
      if (plan.after) {
        const cond = keysetAfter(TABLE_KEYS.sellers, [plan.after.sellingPartnerId, plan.after.region]);
        where.push(cond.sql);
        params.push(...cond.params);
      }
      const page = (conds: readonly string[]): string =>
        `SELECT ${SELLER_COLUMNS} FROM sellers ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
         ORDER BY selling_partner_id, region LIMIT ?`;
      let rows: Row[];
      if (plan.search === null) {
        rows = await db.all(page(where), [...params, plan.limit + 1]);
      } else {
        // "id prefix OR user_ref prefix" in one WHERE defeats both indexes (a full scan on
        // PostgreSQL): each prefix is a range query on its own index, the second leaving out rows
        // the first already has, and the two ordered pages are merged.
        const byId = 'selling_partner_id >= ? AND selling_partner_id < ?';
        const idRange = [plan.search, plan.searchEnd!];
        rows = await db.all(
          `SELECT * FROM (${page([byId, ...where])}) AS by_id
           UNION ALL
           SELECT * FROM (${page(['user_ref >= ? AND user_ref < ?', `NOT (${byId})`, ...where])}) AS by_ref
           ORDER BY selling_partner_id, region LIMIT ?`,
          [
            ...idRange,
            ...params,
            plan.limit + 1,
            ...idRange,
            ...idRange,
            ...params,
            plan.limit + 1,
            plan.limit + 1,
          ],
        );
      }
      const items = rows.slice(0, plan.limit).map(toSeller);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > plan.limit && last ? encodeCursor(last) : null };
    },

    async countSellersByStatus() {
      const counts = Object.fromEntries(SELLER_STATUSES.map((s) => [s, 0])) as Record<SellerStatus, number>;
      const rows = await db.all('SELECT status, COUNT(*) AS n FROM sellers GROUP BY status');
      for (const row of rows) counts[row.status as SellerStatus] = num(row.n);
      return counts;
    },

    async listRefreshDue(query) {
      const plan = planRefreshDue(query);
      const params: SqlValue[] = [plan.before];
      let after = '';
      if (plan.after !== null) {
        const a = plan.after;
        after = `AND (access_token_expires_at > ? OR (access_token_expires_at = ? AND
          (selling_partner_id > ? OR (selling_partner_id = ? AND region > ?))))`;
        params.push(
          a.accessTokenExpiresAt,
          a.accessTokenExpiresAt,
          a.sellingPartnerId,
          a.sellingPartnerId,
          a.region,
        );
      }
      const hot = hotSetCondition(plan.usedSince);
      const unclaimed = plan.unclaimed ? 'AND (refresh_claim_until IS NULL OR refresh_claim_until <= ?)' : '';
      if (plan.unclaimed) hot.params.push(now());
      // Served by the sellers_refresh_due index (status, expiry, id, region, last use).
      const rows = await db.all(
        `SELECT selling_partner_id, region, access_token_expires_at FROM sellers
         WHERE status = 'active' AND access_token_expires_at < ? ${after} ${hot.sql} ${unclaimed}
         ORDER BY access_token_expires_at, selling_partner_id, region LIMIT ?`,
        [...params, ...hot.params, plan.limit],
      );
      return rows.map((row) => ({
        sellingPartnerId: String(row.selling_partner_id),
        region: row.region as Region,
        accessTokenExpiresAt: num(row.access_token_expires_at),
      }));
    },
  };
}

/** Writes of a seller's row: each in one transaction with the change's effects (audit, events). */
function sellerWrites(ctx: SqlContext): Pick<SellerStore, 'saveAuthorization' | 'deleteSeller'> {
  const { db, now, sealer } = ctx;
  return {
    async saveAuthorization(input: AuthorizationInput) {
      assertAuthorizationInput(input);
      const at = now();
      const rowKey = sellerRowKey(input);
      const refreshEnc = sealer.seal('sellers', 'refresh_token', rowKey, input.refreshToken);
      const accessEnc = input.accessToken
        ? sealer.seal('sellers', 'access_token', rowKey, input.accessToken.accessToken)
        : null;
      const accessExpires = input.accessToken ? input.accessToken.expiresAt : null;
      const fingerprint = sealer.fingerprint(REFRESH_TOKEN_FINGERPRINT, input.refreshToken);
      return db.transaction(async (tx) => {
        if (input.exclusiveRefreshToken === true) {
          const others = await sellersWithRefreshToken(
            tx,
            sealer,
            input.refreshToken,
            input.sellingPartnerId,
          );
          if (others.length > 0) throw new RefreshTokenInUseError();
        }
        const existing = await selectSeller(tx, input, db.forUpdate);
        const previousUserRef = existing ? strOrNull(existing.user_ref) : null;
        if (existing) assertMayReplace(previousUserRef, input);
        // The guard repeats the replace rule inside the write, so a concurrent first save that the
        // SELECT could not lock still cannot replace a row it may not.
        const guard = replaceGuard(input);
        const changed = await tx.run(
          `INSERT INTO sellers (selling_partner_id, region, kind, user_ref, status, marketplace, refresh_token_enc,
             access_token_enc, access_token_expires_at, version, lease_owner, lease_expires_at, authorized_at,
             last_refresh_at, last_error_code, last_error_message, last_error_at, created_at, updated_at,
             last_used_at, refresh_token_fingerprint)
           VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, 1, NULL, NULL, ?, NULL, NULL, NULL, NULL, ?, ?, ?, ?)
           ON CONFLICT (selling_partner_id, region) DO UPDATE SET
             kind = excluded.kind,
             user_ref = COALESCE(excluded.user_ref, sellers.user_ref),
             status = 'active',
             marketplace = COALESCE(excluded.marketplace, sellers.marketplace),
             refresh_token_enc = excluded.refresh_token_enc,
             refresh_token_fingerprint = excluded.refresh_token_fingerprint,
             access_token_enc = excluded.access_token_enc,
             access_token_expires_at = excluded.access_token_expires_at,
             version = sellers.version + 1,
             lease_owner = NULL, lease_expires_at = NULL,
             authorized_at = excluded.authorized_at,
             last_error_code = NULL, last_error_message = NULL, last_error_at = NULL,
             updated_at = excluded.updated_at,
             last_used_at = excluded.last_used_at
           WHERE ${guard}`,
          [
            input.sellingPartnerId,
            input.region,
            input.kind,
            input.userRef,
            input.marketplace,
            refreshEnc,
            accessEnc,
            accessExpires,
            input.authorizedAt ?? at,
            at,
            at,
            // A seller just connected is about to be used: it starts in the refresher's hot set.
            at,
            fingerprint,
          ],
        );
        if (changed === 0) {
          const current = await selectSeller(tx, input);
          assertMayReplace(current ? strOrNull(current.user_ref) : null, input);
          throw new SellerOwnershipError();
        }
        if (input.profile) await upsertProfile(tx, input, input.profile);
        // A re-authorization replaces the grant: other instances drop the previous grant's access
        // token from memory at their next revocation read, as after a deletion, instead of
        // serving it until it expires.
        if (existing) await revokeSellerTokens(tx, input, at);
        await writeEffects(tx, input, at);
        const seller = toSeller((await selectSeller(tx, input))!);
        const relinked =
          existing && previousUserRef !== null && input.userRef !== null && previousUserRef !== input.userRef;
        return { seller, created: !existing, relinkedFrom: relinked ? previousUserRef : null };
      });
    },

    async deleteSeller(key, effects) {
      assertSellerKey(key);
      const at = now();
      return db.transaction(async (tx) => {
        const changed = await tx.run('DELETE FROM sellers WHERE selling_partner_id = ? AND region = ?', [
          key.sellingPartnerId,
          key.region,
        ]);
        if (changed === 0) return false;
        await tx.run('DELETE FROM seller_profiles WHERE selling_partner_id = ? AND region = ?', [
          key.sellingPartnerId,
          key.region,
        ]);
        // Other instances drop the seller's access token from memory when they read this row.
        await revokeSellerTokens(tx, key, at);
        await writeEffects(tx, effects, at);
        return true;
      });
    },
  };
}

/** The seller_profiles table: what SP-API said about a seller, fetched after it connected. */
function profileMethods(
  ctx: SqlContext,
): Pick<SellerStore, 'getSellerProfile' | 'saveSellerProfile' | 'listSellersWithoutProfile'> {
  const { db } = ctx;
  return {
    async getSellerProfile(key) {
      assertSellerKey(key);
      const rows = await db.all(
        `SELECT store_name, marketplaces, fetched_at FROM seller_profiles
         WHERE selling_partner_id = ? AND region = ?`,
        [key.sellingPartnerId, key.region],
      );
      const row = rows[0];
      if (row === undefined) return null;
      return {
        storeName: strOrNull(row.store_name),
        marketplaces: JSON.parse(String(row.marketplaces)) as SellerProfile['marketplaces'],
        fetchedAt: num(row.fetched_at),
      };
    },

    async saveSellerProfile(key, profile) {
      assertSellerKey(key);
      assertSellerProfile(profile);
      return db.transaction(async (tx) => {
        if ((await selectSeller(tx, key)) === undefined) return false;
        await upsertProfile(tx, key, profile);
        return true;
      });
    },

    async listSellersWithoutProfile(limit) {
      assertPositiveInteger(limit, 'limit');
      const rows = await db.all(
        `SELECT s.selling_partner_id, s.region FROM sellers s
         LEFT JOIN seller_profiles p ON p.selling_partner_id = s.selling_partner_id AND p.region = s.region
         WHERE s.status = 'active' AND p.selling_partner_id IS NULL
         ORDER BY s.authorized_at, s.selling_partner_id, s.region LIMIT ?`,
        [Math.min(limit, 1000)],
      );
      return rows.map((row) => ({
        sellingPartnerId: String(row.selling_partner_id),
        region: row.region as Region,
      }));
    },
  };
}

/**
 * The sellers whose refresh token is `refreshToken` (its fingerprint under any key of the ring),
 * other than `exceptId` when given.
 */
async function sellersWithRefreshToken(
  tx: SqlExecutor,
  sealer: SqlContext['sealer'],
  refreshToken: string,
  exceptId?: string,
): Promise<SellerTokenKey[]> {
  const candidates = sealer.fingerprints(REFRESH_TOKEN_FINGERPRINT, refreshToken);
  const rows = await tx.all(
    `SELECT selling_partner_id, region FROM sellers
     WHERE refresh_token_fingerprint IN (${candidates.map(() => '?').join(', ')})
     ${exceptId === undefined ? '' : 'AND selling_partner_id <> ?'}
     ORDER BY selling_partner_id, region`,
    exceptId === undefined ? candidates : [...candidates, exceptId],
  );
  return rows.map((row) => ({
    sellingPartnerId: String(row.selling_partner_id),
    region: row.region as Region,
  }));
}

/** Finding a refresh token by fingerprint, and fingerprinting the rows that have none yet. */
function fingerprintMethods(
  ctx: SqlContext,
): Pick<SellerStore, 'findSellersByRefreshToken' | 'fingerprintRefreshTokens'> {
  const { db, sealer } = ctx;
  return {
    async findSellersByRefreshToken(refreshToken) {
      if (typeof refreshToken !== 'string' || refreshToken === '')
        throw new TypeError('refreshToken must be a non-empty string');
      return sellersWithRefreshToken(db, sealer, refreshToken);
    },

    async fingerprintRefreshTokens() {
      const prefix = `${sealer.activeKid()}.`;
      let updated = 0;
      let unreadable = 0;
      let after: string[] | null = null;
      for (;;) {
        const cond = after ? keysetAfter(TABLE_KEYS.sellers, after) : null;
        const rows = await db.all(
          `SELECT selling_partner_id, region, refresh_token_enc FROM sellers
           WHERE (refresh_token_fingerprint IS NULL OR substr(refresh_token_fingerprint, 1, ?) <> ?)
           ${cond ? `AND ${cond.sql}` : ''}
           ORDER BY selling_partner_id, region LIMIT 500`,
          [prefix.length, prefix, ...(cond?.params ?? [])],
        );
        for (const row of rows) {
          const key = { sellingPartnerId: String(row.selling_partner_id), region: row.region as Region };
          const sealed = String(row.refresh_token_enc);
          let token: string;
          try {
            token = sealer.open('sellers', 'refresh_token', sellerRowKey(key), sealed);
          } catch (err) {
            if (!(err instanceof StorageIntegrityError)) throw err;
            unreadable++;
            continue;
          }
          // Compare-and-set on the sealed token: a write since the read fingerprinted its own token.
          updated += await db.run(
            `UPDATE sellers SET refresh_token_fingerprint = ?
             WHERE selling_partner_id = ? AND region = ? AND refresh_token_enc = ?`,
            [sealer.fingerprint(REFRESH_TOKEN_FINGERPRINT, token), key.sellingPartnerId, key.region, sealed],
          );
        }
        const last = rows[rows.length - 1];
        if (rows.length < 500 || !last) return { updated, unreadable };
        after = [String(last.selling_partner_id), String(last.region)];
      }
    },
  };
}

/**
 * The `ON CONFLICT … DO UPDATE … WHERE` condition of the save's `replaceRule` (as {@link assertMayReplace}), for a row another
 * transaction inserted after this one's SELECT (`sellers` is the stored row, `excluded` this one).
 */
function replaceGuard(input: AuthorizationInput): string {
  const rule = replaceRule(input);
  if (rule.nothing) return '1 = 0';
  if (rule.anyOwner) return '1 = 1';
  const same =
    '(sellers.user_ref = excluded.user_ref OR (sellers.user_ref IS NULL AND excluded.user_ref IS NULL))';
  // `unowned` already requires the save to name an owner (excluded.user_ref IS NOT NULL).
  return rule.unowned ? `${same} OR sellers.user_ref IS NULL` : same;
}

/** Stores (or replaces) a seller's profile row, inside the caller's transaction. */
async function upsertProfile(tx: SqlExecutor, key: SellerTokenKey, profile: SellerProfile): Promise<void> {
  await tx.run(
    `INSERT INTO seller_profiles (selling_partner_id, region, store_name, marketplaces, fetched_at)
     VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (selling_partner_id, region) DO UPDATE SET
       store_name = excluded.store_name, marketplaces = excluded.marketplaces,
       fetched_at = excluded.fetched_at`,
    [
      key.sellingPartnerId,
      key.region,
      profile.storeName,
      JSON.stringify(profile.marketplaces),
      profile.fetchedAt,
    ],
  );
}
