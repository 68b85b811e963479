// The refresher's concern over SQL: last use, claims, cluster deadlines (migration 005).
import type { Region } from '../../core/index.js';
import { assertSellerKey, assertTime, boundedLimit } from '../shared.js';
import type { RefreshDueEntry, RefreshStore } from '../store.js';
import type { SqlContext, SqlValue } from './driver.js';
import { num } from './values.js';

/** Sellers per statement of {@link RefreshStore.recordSellerUse}. */
const USE_BATCH = 500;
const NAME = /^[a-z0-9_.:-]{1,64}$/;

/**
 * The hot set's condition on the sellers table, shared by the listing and the claim: a seller used
 * since `usedSince` was handed a token valid at its use, so its expiry is after `usedSince` too —
 * the index range starts there and skips the idle fleet whose tokens expired long ago.
 */
export function hotSetCondition(usedSince: number | null): { sql: string; params: SqlValue[] } {
  if (usedSince === null) return { sql: '', params: [] };
  return {
    sql: 'AND access_token_expires_at > ? AND last_used_at >= ?',
    params: [usedSince, usedSince],
  };
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The RefreshStore methods over the SQL driver. */
export function refreshMethods(ctx: SqlContext): RefreshStore {
  const { db, now } = ctx;

  return {
    async recordSellerUse(keys, at) {
      assertTime(at, 'at');
      const byRegion = new Map<Region, string[]>();
      for (const key of keys) {
        assertSellerKey(key);
        const ids = byRegion.get(key.region) ?? [];
        ids.push(key.sellingPartnerId);
        byRegion.set(key.region, ids);
      }
      for (const [region, ids] of byRegion) {
        for (let i = 0; i < ids.length; i += USE_BATCH) {
          const slice = ids.slice(i, i + USE_BATCH);
          await db.run(
            `UPDATE sellers SET last_used_at = ?
             WHERE region = ? AND selling_partner_id IN (${slice.map(() => '?').join(', ')})
               AND (last_used_at IS NULL OR last_used_at < ?)`,
            [at, region, ...slice, at],
          );
        }
      }
    },

    async claimRefreshDue(query) {
      assertTime(query?.before, 'before');
      const limit = boundedLimit(query.limit, 100, 1000);
      if (!(query.claimForMs > 0) || !Number.isSafeInteger(Math.ceil(query.claimForMs)))
        throw new TypeError('claimForMs must be a positive number of ms');
      const usedSince = query.usedSince ?? null;
      if (usedSince !== null) assertTime(usedSince, 'usedSince');
      const t = now();
      const hot = hotSetCondition(usedSince);
      // PostgreSQL: rows another instance is claiming right now are skipped, not waited for; a
      // claim already taken is seen in refresh_claim_until. (SQLite has one writer at a time.)
      const rows = await db.all(
        `UPDATE sellers SET refresh_claim_until = ?
         WHERE (selling_partner_id, region) IN (
           SELECT selling_partner_id, region FROM sellers
           WHERE status = 'active' AND access_token_expires_at < ? ${hot.sql}
             AND (refresh_claim_until IS NULL OR refresh_claim_until <= ?)
           ORDER BY access_token_expires_at, selling_partner_id, region LIMIT ?${db.forUpdate}${db.skipLocked})
         RETURNING selling_partner_id, region, access_token_expires_at`,
        [t + Math.ceil(query.claimForMs), query.before, ...hot.params, t, limit],
      );
      return (
        rows
          .map((row): RefreshDueEntry => ({
            sellingPartnerId: String(row.selling_partner_id),
            region: row.region as Region,
            accessTokenExpiresAt: num(row.access_token_expires_at),
          }))
          // UPDATE … RETURNING has no order: the listing's (expiry, then id and region in byte order).
          .sort(
            (a, b) =>
              a.accessTokenExpiresAt - b.accessTokenExpiresAt ||
              byteOrder(a.sellingPartnerId, b.sellingPartnerId) ||
              byteOrder(a.region, b.region),
          )
      );
    },

    async raiseClusterDeadline(name, until) {
      if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError('invalid cluster state name');
      assertTime(until, 'until');
      await db.run(
        `INSERT INTO cluster_state (name, until_at, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET until_at = excluded.until_at, updated_at = excluded.updated_at
         WHERE cluster_state.until_at < excluded.until_at`,
        [name, until, now()],
      );
    },

    async readClusterDeadline(name) {
      if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError('invalid cluster state name');
      const [row] = await db.all('SELECT until_at FROM cluster_state WHERE name = ?', [name]);
      return row === undefined ? 0 : num(row.until_at);
    },
  };
}
