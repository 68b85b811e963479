// The audit log over SQL: append-only, paged newest first.
import { assertAuditSafe, assertRegion, assertTime, boundedLimit, toJson } from '../shared.js';
import type { AuditInput, AuditRecord, AuditStore } from '../store.js';
import type { Row, SqlContext, SqlExecutor, SqlValue } from './driver.js';
import { num, strOrNull } from './values.js';

function toAudit(row: Row): AuditRecord {
  return {
    id: num(row.id),
    at: num(row.at),
    action: String(row.action),
    actor: strOrNull(row.actor),
    sellingPartnerId: strOrNull(row.selling_partner_id),
    region: strOrNull(row.region) as AuditRecord['region'],
    outcome: strOrNull(row.outcome),
    details: JSON.parse(String(row.details)) as AuditRecord['details'],
  };
}

/** Appends audit records in the caller's transaction (refusing token-shaped values). */
export async function insertAudit(
  tx: SqlExecutor,
  records: readonly AuditInput[],
  at: number,
): Promise<void> {
  assertAuditSafe(records);
  for (const r of records) {
    if (r.at !== undefined) assertTime(r.at, 'audit at');
    await tx.run(
      `INSERT INTO audit_log (at, action, actor, selling_partner_id, region, outcome, details)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        r.at ?? at,
        r.action,
        r.actor ?? null,
        r.sellingPartnerId ?? null,
        r.region ?? null,
        r.outcome ?? null,
        toJson(r.details),
      ],
    );
  }
}

/** The AuditStore methods over the SQL driver. */
export function auditMethods(ctx: SqlContext): AuditStore {
  const { db, now } = ctx;

  return {
    async appendAudit(records) {
      const at = now();
      assertAuditSafe(records);
      await db.transaction((tx) => insertAudit(tx, records, at));
    },

    async listAudit(query = {}) {
      const limit = boundedLimit(query.limit, 100, 1000);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (query.sellingPartnerId !== undefined) {
        where.push('selling_partner_id = ?');
        params.push(query.sellingPartnerId);
      }
      if (query.region !== undefined) {
        assertRegion(query.region);
        where.push('region = ?');
        params.push(query.region);
      }
      if (query.before !== undefined) {
        assertTime(query.before, 'before');
        where.push('id < ?');
        params.push(query.before);
      }
      const rows = await db.all(
        `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
        [...params, limit],
      );
      return rows.map(toAudit);
    },
  };
}
