/**
 * `spapi-auth dev` at start-up: the database's sellers against what the embedded emulator knows.
 * The two live in different files (SQLite, the emulator's state file) and a hard kill, a deleted
 * state file or another database can part them. A stored access token the emulator does not
 * accept is dropped (the next request refreshes it); a seller whose refresh token the emulator
 * does not know can never get a token again, so it is refreshed once at start: the emulator
 * answers `invalid_grant`, as Amazon does for a grant it no longer honours, and the seller becomes
 * `reauthorization_required` with its audit record and webhook — never "working" with a token
 * SP-API refuses.
 */
import type { SellerTokenKey } from '../../core/token-vault.js';
import type { Store } from '../../storage/store.js';
import type { AmazonGateway } from '../context.js';

/** What the emulator says of a token it issued (`Emulator.tokenStatus`). */
export type DevTokenStatus = (token: string) => 'active' | 'revoked' | 'expired' | 'unknown';

/**
 * Drops the stored access tokens the emulator would refuse and returns the active sellers whose
 * refresh token it does not accept. Run before the service answers requests.
 *
 * @example
 * const lost = await dropUnknownDevTokens(store, (t) => emulator.tokenStatus(t));
 */
export async function dropUnknownDevTokens(store: Store, status: DevTokenStatus): Promise<SellerTokenKey[]> {
  const lost: SellerTokenKey[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listSellers({ status: 'active', limit: 500, cursor });
    for (const seller of page.items) {
      const key = { sellingPartnerId: seller.sellingPartnerId, region: seller.region };
      const tokens = await store.loadTokens(key);
      if (tokens === null) continue;
      if (tokens.accessToken !== null && status(tokens.accessToken.accessToken) !== 'active')
        await store.discardAccessToken(key, tokens.accessToken.accessToken);
      if (status(tokens.refreshToken) !== 'active') lost.push(key);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return lost;
}

/**
 * Asks for a token of each seller the emulator does not know, so that LWA's `invalid_grant` marks
 * it `reauthorization_required` now rather than at its first use. Returns how many were marked.
 *
 * @example
 * const marked = await markLostDevGrants(service.app.context.amazon, lost);
 */
export async function markLostDevGrants(
  amazon: Pick<AmazonGateway, 'getAccessToken'>,
  lost: readonly SellerTokenKey[],
): Promise<number> {
  let marked = 0;
  for (const key of lost) {
    try {
      await amazon.getAccessToken(key);
    } catch (err) {
      if ((err as { code?: string }).code === 'reauthorization_required') marked++;
    }
  }
  return marked;
}
