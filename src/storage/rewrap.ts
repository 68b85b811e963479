/**
 * Re-encrypts every stored secret with the key ring's active key (after adding a new key first in
 * `SPAPI_AUTH_ENCRYPTION_KEYS`). Resumable and idempotent: values already on the active key are
 * skipped. Safe while the service runs: each value is replaced by compare-and-set on its old
 * ciphertext (unique per write), so a concurrent refresh or re-authorization wins and is kept —
 * it was sealed with the active key anyway. No row version is bumped, so refreshes in flight are
 * not disturbed.
 */
import { openValue, sealValue, sealedKeyId } from './crypto.js';
import type { KeyRing } from './crypto.js';
import type { Store } from './store.js';

/** Progress and result of {@link rewrap}. */
export interface RewrapProgress {
  /** Encrypted values seen. */
  readonly scanned: number;
  /** Re-encrypted with the active key. */
  readonly rewrapped: number;
  /** Already on the active key. */
  readonly current: number;
  /** Changed concurrently by the service between read and write (left as the service wrote it). */
  readonly raced: number;
}

/**
 * Re-encrypts every value not sealed with `keyRing.activeKid`. Throws `StorageIntegrityError` on a
 * value that does not authenticate (nothing is rewritten blindly).
 *
 * @example
 * ```ts
 * const result = await rewrap(store, keyRing, { batchSize: 500, onProgress: (p) => console.log(p.rewrapped) });
 * ```
 */
export async function rewrap(
  store: Store,
  keyRing: KeyRing,
  options: { batchSize?: number; onProgress?: (progress: RewrapProgress) => void } = {},
): Promise<RewrapProgress> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new TypeError('batchSize must be 1-10000');
  }
  let progress: RewrapProgress = { scanned: 0, rewrapped: 0, current: 0, raced: 0 };
  let cursor: string | null = null;
  do {
    const page = await store.listEncryptedValues({ cursor, limit: batchSize });
    let { scanned, rewrapped, current, raced } = progress;
    for (const ref of page.items) {
      scanned++;
      if (sealedKeyId(ref.ciphertext) === keyRing.activeKid) {
        current++;
        continue;
      }
      const context = { table: ref.table, column: ref.column, rowKey: ref.rowKey };
      const sealed = sealValue(keyRing, context, openValue(keyRing, context, ref.ciphertext));
      if (await store.replaceEncryptedValue(ref, sealed)) rewrapped++;
      else raced++;
    }
    progress = { scanned, rewrapped, current, raced };
    options.onProgress?.(progress);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return progress;
}
