/**
 * Does the key ring fit the stored values? A sample of encrypted values is opened with the ring and
 * the failures are told apart by key id: a kid under which no sampled value decrypts holds the
 * wrong key (another key was configured under the same id), while a kid under which most values
 * decrypt and a few do not points at values altered or copied between rows. `doctor` reports it,
 * and `serve` refuses to start on a wrong key rather than answer every seller with an error.
 */
import { openValue, sealedKeyId, type KeyRing } from './crypto.js';
import type { EncryptedValueRef, Store } from './store.js';

/** Where a person reads what to do about a ring that does not fit. */
export const KEY_RING_DOCS = 'docs/deployment.md, "Back up the key ring"';

/** What a sample of the stored values says about the ring. */
export interface KeyRingSample {
  readonly sampled: number;
  /** Sampled values that do not decrypt, whatever the cause. */
  readonly failed: number;
  /** Key ids values use that the ring lacks. */
  readonly missingKids: readonly string[];
  /** Key ids in the ring under which no sampled value decrypts (the wrong key for that id). */
  readonly wrongKids: readonly string[];
  /** Values that do not decrypt under a kid whose other values do (altered or copied). */
  readonly tampered: number;
  /** Values that decrypt but use an older key than the active one (waiting for a rewrap). */
  readonly old: number;
}

/**
 * Opens up to `limit` stored values with `ring` and sorts the failures by cause.
 *
 * @example
 * const s = await sampleKeyRing(store, ring);
 * if (s.wrongKids.length > 0) console.error(keyRingProblem(s));
 */
export async function sampleKeyRing(store: Store, ring: KeyRing, limit = 50): Promise<KeyRingSample> {
  // The values are paged table by table (an empty table is an empty page): gather up to `limit`.
  const items: EncryptedValueRef[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 20 && items.length < limit; pages++) {
    const page = await store.listEncryptedValues({ cursor, limit: limit - items.length });
    items.push(...page.items);
    cursor = page.nextCursor;
    if (cursor === null) break;
  }
  const byKid = new Map<string, { ok: number; failed: number }>();
  const missing = new Set<string>();
  let old = 0;
  let failed = 0;
  for (const ref of items) {
    const kid = sealedKeyId(ref.ciphertext) ?? '?';
    if (!ring.kids.includes(kid)) {
      missing.add(kid);
      failed++;
      continue;
    }
    const count = byKid.get(kid) ?? { ok: 0, failed: 0 };
    byKid.set(kid, count);
    try {
      openValue(ring, { table: ref.table, column: ref.column, rowKey: ref.rowKey }, ref.ciphertext);
      count.ok++;
      if (kid !== ring.activeKid) old++;
    } catch {
      count.failed++;
      failed++;
    }
  }
  const wrongKids = [...byKid].filter(([, c]) => c.ok === 0 && c.failed > 0).map(([kid]) => kid);
  const tampered = [...byKid].filter(([, c]) => c.ok > 0).reduce((n, [, c]) => n + c.failed, 0);
  return { sampled: items.length, failed, missingKids: [...missing], wrongKids, tampered, old };
}

/**
 * What is wrong with the ring, in words, or undefined when the sample decrypts.
 *
 * @example
 * keyRingProblem({ sampled: 3, failed: 3, wrongKids: ['k1'], missingKids: [], tampered: 0, old: 0 });
 * // 'SPAPI_AUTH_ENCRYPTION_KEYS holds the wrong key for key id k1: …'
 */
export function keyRingProblem(s: KeyRingSample): string | undefined {
  const parts: string[] = [];
  if (s.wrongKids.length > 0) {
    const kids = s.wrongKids.join(', ');
    parts.push(
      `SPAPI_AUTH_ENCRYPTION_KEYS holds the wrong key for key id ${kids}: none of the sampled values written under it decrypt, so the key configured under that id is not the one that wrote them. ` +
        `Check that the entry for ${kids} is the one from this database's key ring (your secret store or key-ring backup), not a newly generated key under the same id`,
    );
  }
  if (s.missingKids.length > 0) {
    parts.push(
      `stored values use key id(s) ${s.missingKids.join(', ')}, which SPAPI_AUTH_ENCRYPTION_KEYS lacks: add the entry back (after the first)`,
    );
  }
  if (s.tampered > 0) {
    parts.push(
      `${s.tampered} of ${s.sampled} sampled values do not decrypt although others under the same key do: they were altered or copied between rows; restore them from a backup or have those sellers re-authorize`,
    );
  }
  return parts.length === 0 ? undefined : `${parts.join('; ')} (see ${KEY_RING_DOCS})`;
}
