// Revocations over SQL (see store/revocations.ts).
import type { SellerTokenKey } from '../../core/index.js';
import type { RevocationKind, RevocationRecord, RevocationStore } from '../store.js';
import type { SqlContext, SqlExecutor } from './driver.js';
import { num } from './values.js';

/** How long a key or seller revocation row is kept: long enough for every instance to read it. */
export const REVOCATION_WINDOW_MS = 5 * 60 * 1000;

/** Records a revocation in `tx` (upsert: a second revocation of the same subject renews it). */
export async function insertRevocation(
  tx: SqlExecutor,
  kind: RevocationKind,
  subject: string,
  at: number,
  expiresAt: number,
): Promise<void> {
  await tx.run(
    `INSERT INTO revocations (kind, subject, revoked_at, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (kind, subject) DO UPDATE SET revoked_at = excluded.revoked_at, expires_at = excluded.expires_at`,
    [kind, subject, at, expiresAt],
  );
}

/**
 * Records in `tx` that a seller's cached access tokens are void (deleted, or re-authorized with a
 * new grant): every instance drops them from memory at its next revocation read. The subject is
 * `<selling_partner_id>:<region>`, as the revocation feed reads it.
 */
export function revokeSellerTokens(tx: SqlExecutor, key: SellerTokenKey, at: number): Promise<void> {
  return insertRevocation(
    tx,
    'seller',
    `${key.sellingPartnerId}:${key.region}`,
    at,
    at + REVOCATION_WINDOW_MS,
  );
}

/** The RevocationStore methods over the SQL driver. */
export function revocationMethods(ctx: SqlContext): RevocationStore {
  const { db, now } = ctx;
  return {
    async recordRevocation(input) {
      const at = now();
      await db.transaction(async (tx) => {
        await tx.run('DELETE FROM revocations WHERE expires_at < ?', [at]);
        await insertRevocation(tx, input.kind, input.subject, at, input.expiresAt);
      });
    },
    async listRevocations(since) {
      const rows = await db.all(
        `SELECT kind, subject, revoked_at, expires_at FROM revocations
         WHERE revoked_at >= ? AND expires_at >= ? ORDER BY revoked_at`,
        [since, now()],
      );
      return rows.map((r): RevocationRecord => ({
        kind: String(r.kind) as RevocationKind,
        subject: String(r.subject),
        revokedAt: num(r.revoked_at),
        expiresAt: num(r.expires_at),
      }));
    },
    async isRevoked(kind, subject) {
      const rows = await db.all(
        'SELECT 1 AS x FROM revocations WHERE kind = ? AND subject = ? AND expires_at >= ?',
        [kind, subject, now()],
      );
      return rows.length > 0;
    },
  };
}
