/**
 * The backstop cap of pending Appstore rows (`SPAPI_AUTH_MAX_PENDING_FLOWS`). The Login URI, which
 * anyone can hit from as many addresses as they own, stores nothing (`carried.ts`): what it starts
 * travels in the state or the sign-in token until the seller comes back, so a flood of it costs no
 * row and can neither fill a budget nor push out a flow a browser is in the middle of. What bounds
 * such a flood is the per-address and per-network rate limit alone (`SPAPI_AUTH_OAUTH_RATE_LIMIT`).
 *
 * The Appstore transactions still stored are those started after the app's sign-in (through a
 * connect link its backend made with an API key), and pending Appstore sessions or transactions left
 * by an earlier version. Past `max` of either kind unconsumed in the store, the oldest go: one trim
 * per `max / 100` rows created here. Website-flow transactions and connect links are never deleted
 * here, nor consumed rows (the single-use records of carried states).
 */
import type { Store } from '../../storage/store.js';
import type { Logger } from '../http/log.js';

/**
 * Counts the stored Appstore transactions and trims the store when due.
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

  /** Call after creating an OAuth transaction. Never throws. */
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
