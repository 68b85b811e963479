/**
 * The pending-flow cap (`SPAPI_AUTH_MAX_PENDING_FLOWS`): at most N unconsumed OAuth transactions
 * and N unconsumed pending Appstore sessions, the oldest deleted first. The per-address limit
 * stops one client; this bounds what many addresses together can leave in the store.
 *
 * Why eviction of the oldest rather than refusing new flows at the cap: refusing would let a flood
 * of about N rows per flow lifetime (10 minutes: 17 rows a second at the default 10,000) stop every
 * new authorization for as long as it lasts. Evicting costs a real flow only when N rows are
 * created while its seller is on Amazon's consent page — about a minute, so ten times the rate —
 * and the seller who lost one simply starts again, while new flows always start. The oldest rows
 * are also the expired ones, which are dead anyway, so under normal load eviction deletes only
 * those. Connect links made with an API key are not counted or deleted: an anonymous flood must
 * not cancel links the app handed out.
 *
 * The trim runs every `max(1, N / 100)` rows created by this instance, so the count exceeds N by
 * less than 1 % per instance between two trims.
 */
import type { Store } from '../../storage/store.js';
import type { Logger } from '../http/log.js';

/**
 * Counts the rows anonymous requests create and trims the store when due.
 *
 * @example
 * const cap = new PendingFlowCap(store, config.maxPendingFlows, log);
 * await store.createOAuthTransaction(input);
 * await cap.created();
 */
export class PendingFlowCap {
  private since = 0;
  private readonly every: number;

  constructor(
    private readonly store: Pick<Store, 'trimPendingFlows'>,
    readonly max: number,
    private readonly log: Logger,
  ) {
    this.every = Math.max(1, Math.floor(max / 100));
  }

  /** Call after creating an OAuth transaction or a pending Appstore session. Never throws. */
  async created(): Promise<void> {
    if (++this.since < this.every) return;
    this.since = 0;
    try {
      const n = await this.store.trimPendingFlows(this.max);
      if (n > 0) this.log.warn('pending flows over the cap: the oldest were deleted', { count: n });
    } catch (err) {
      this.log.warn('pending-flow trim failed', { error_name: (err as Error)?.name ?? 'Error' });
    }
  }
}
