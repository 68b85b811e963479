// Column values as the drivers return them (PostgreSQL BIGINT arrives as a string), and the keyset
// condition every paged listing uses.
import type { EncryptedTable } from '../store.js';

export const num = (v: unknown): number => Number(v);
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Primary-key columns of each encrypted table, in cursor order. */
export const TABLE_KEYS: Readonly<Record<EncryptedTable, readonly string[]>> = {
  sellers: ['selling_partner_id', 'region'],
  oauth_transactions: ['state_hash'],
  connect_sessions: ['token_hash'],
  app_secrets: ['id'],
  notifications_aside: ['id'],
};

/** "(a > ?) OR (a = ? AND b > ?)" — a keyset condition without row values, for any engine. */
export function keysetAfter(
  columns: readonly string[],
  values: readonly string[],
): { sql: string; params: string[] } {
  const ors: string[] = [];
  const params: string[] = [];
  columns.forEach((column, i) => {
    const ands = columns.slice(0, i).map((c) => `${c} = ?`);
    ands.push(`${column} > ?`);
    ors.push(`(${ands.join(' AND ')})`);
    params.push(...values.slice(0, i), values[i]!);
  });
  return { sql: `(${ors.join(' OR ')})`, params };
}
