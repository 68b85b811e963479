// The rewrap concern: every encrypted value, listed as ciphertext and replaced by compare-and-set.
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
export type EncryptedTable =
  'sellers' | 'oauth_transactions' | 'connect_sessions' | 'app_secrets' | 'notifications_aside';

/** One page of encrypted values. */
export interface EncryptedValuePage {
  readonly items: readonly EncryptedValueRef[];
  readonly nextCursor: string | null;
}

/** Encryption maintenance (see `rewrap.ts`). */
export interface RewrapStore {
  /** Every encrypted value, paged in a stable order (ciphertext only). */
  listEncryptedValues(options: { cursor?: string | null; limit: number }): Promise<EncryptedValuePage>;
  /** Compare-and-set on the old ciphertext: replaces it only if unchanged; false otherwise. */
  replaceEncryptedValue(ref: EncryptedValueRef, ciphertext: string): Promise<boolean>;
}
