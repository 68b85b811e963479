/**
 * `sellers export`: the active sellers as the lines `sellers import` reads, for moving to another
 * deployment or a backup. Refresh tokens leave only encrypted for the receiver (a passphrase, see
 * `transfer-format.ts`), or in clear when the caller says so explicitly.
 */
import type { Store } from '../../storage/store.js';
import { TRANSFER_FORMAT, type TransferCipher } from './transfer-format.js';

/** How the refresh tokens are written. */
export type ExportProtection = { readonly cipher: TransferCipher } | { readonly clear: true };

/** What an export wrote. */
export interface ExportSummary {
  readonly exported: number;
  /** Sellers not active (re-authorization required, revoked): their tokens no longer work. */
  readonly skipped: number;
  readonly encrypted: boolean;
}

/**
 * Writes a header line and one line per active seller to `write`, a page of the store at a time.
 *
 * @example
 * ```ts
 * await exportSellers(store, { cipher: transferCipher(passphrase) }, (line) => out.write(line));
 * ```
 */
export async function exportSellers(
  store: Pick<Store, 'listSellers' | 'loadTokens'>,
  protection: ExportProtection,
  write: (line: string) => void | Promise<void>,
  onProgress?: (exported: number) => void,
): Promise<ExportSummary> {
  const cipher = 'cipher' in protection ? protection.cipher : undefined;
  await write(
    JSON.stringify({
      format: TRANSFER_FORMAT,
      version: 1,
      ...(cipher ? { encryption: cipher.header } : { encryption: null }),
    }) + '\n',
  );
  let cursor: string | null = null;
  let exported = 0;
  let skipped = 0;
  do {
    const page = await store.listSellers({ cursor, limit: 500 });
    for (const s of page.items) {
      const key = { sellingPartnerId: s.sellingPartnerId, region: s.region };
      const tokens = s.status === 'active' ? await store.loadTokens(key) : null;
      if (tokens === null || tokens.status !== 'active') {
        skipped++;
        continue;
      }
      const secret = cipher
        ? { refresh_token_encrypted: cipher.seal(tokens.refreshToken, s.sellingPartnerId, s.region) }
        : { refresh_token: tokens.refreshToken };
      await write(
        JSON.stringify({
          selling_partner_id: s.sellingPartnerId,
          region: s.region,
          ...secret,
          user_ref: s.userRef,
          kind: s.kind,
          marketplace: s.marketplace,
          authorized_at: new Date(s.authorizedAt).toISOString(),
        }) + '\n',
      );
      exported++;
    }
    onProgress?.(exported);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return { exported, skipped, encrypted: cipher !== undefined };
}
