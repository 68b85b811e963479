// Encryption maintenance over SQL: every encrypted column listed by keyset pages, replaced by
// compare-and-set on the old ciphertext.
import {
  boundedLimit,
  decodeTableCursor,
  encodeTableCursor,
  ENCRYPTED_COLUMNS,
  ENCRYPTED_TABLES,
  parseSellerRowKey,
  sellerRowKey,
} from '../shared.js';
import type { EncryptedTable, EncryptedValueRef, RewrapStore } from '../store.js';
import type { Row, SqlContext } from './driver.js';
import { keysetAfter, strOrNull, TABLE_KEYS } from './values.js';

function rowKeyOf(table: EncryptedTable, row: Row): string {
  return table === 'sellers'
    ? sellerRowKey({ sellingPartnerId: String(row.selling_partner_id), region: row.region as 'na' })
    : String(row[TABLE_KEYS[table][0]!]);
}

function keyValuesOf(table: EncryptedTable, rowKey: string): string[] {
  if (table !== 'sellers') return [rowKey];
  const key = parseSellerRowKey(rowKey);
  return [key.sellingPartnerId, key.region];
}

/** The RewrapStore methods over the SQL driver. */
export function rewrapMethods(ctx: SqlContext): RewrapStore {
  const { db } = ctx;

  return {
    async listEncryptedValues({ cursor, limit }) {
      boundedLimit(limit, 1, 10_000);
      const position = decodeTableCursor(cursor);
      const table = ENCRYPTED_TABLES[position.table];
      if (!table) return { items: [], nextCursor: null };
      const keys = TABLE_KEYS[table];
      const columns = ENCRYPTED_COLUMNS[table];
      const after = position.key ? keysetAfter(keys, position.key) : null;
      const rows = await db.all(
        `SELECT ${[...keys, ...columns.map((c) => `${c}_enc`)].join(', ')} FROM ${table}
         ${after ? `WHERE ${after.sql}` : ''} ORDER BY ${keys.join(', ')} LIMIT ?`,
        [...(after?.params ?? []), limit],
      );
      const items: EncryptedValueRef[] = [];
      for (const row of rows) {
        for (const column of columns) {
          const ciphertext = strOrNull(row[`${column}_enc`]);
          if (ciphertext !== null) items.push({ table, column, rowKey: rowKeyOf(table, row), ciphertext });
        }
      }
      const last = rows[rows.length - 1];
      const nextCursor =
        rows.length === limit && last
          ? encodeTableCursor(
              position.table,
              keys.map((k) => String(last[k])),
            )
          : encodeTableCursor(position.table + 1, null);
      return {
        items,
        nextCursor: position.table + 1 >= ENCRYPTED_TABLES.length && rows.length < limit ? null : nextCursor,
      };
    },

    async replaceEncryptedValue(ref, ciphertext) {
      const columns = ENCRYPTED_COLUMNS[ref.table];
      if (!columns || !columns.includes(ref.column)) throw new TypeError('unknown encrypted column');
      const keys = TABLE_KEYS[ref.table];
      const column = `${ref.column}_enc`;
      const changed = await db.run(
        `UPDATE ${ref.table} SET ${column} = ? WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')} AND ${column} = ?`,
        [ciphertext, ...keyValuesOf(ref.table, ref.rowKey), ref.ciphertext],
      );
      return changed === 1;
    },
  };
}
