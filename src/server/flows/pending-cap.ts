/**
 * Admission and the cap of anonymous pending flows (`SPAPI_AUTH_MAX_PENDING_FLOWS`). Anyone can
 * hit the Login URI, and each hit leaves a row (an Appstore OAuth transaction, or a pending
 * Appstore session when a sign-in page is configured) for the flow's 10 minutes. A flood from many
 * addresses, each under its own rate limit, used to push genuine flows out (oldest-first eviction),
 * so a seller on Amazon's consent page or on the app's sign-in page came back to `state_invalid` or
 * `link_invalid`. Now a flood is refused rather than allowed to evict:
 *
 * - each client address (IPv6: its /64) may have {@link PER_ADDRESS_PENDING} anonymous flows
 *   pending at once, each network (IPv4 /24, IPv6 /48) {@link PER_NETWORK_PENDING} (both off with
 *   the per-address limit, `SPAPI_AUTH_OAUTH_RATE_LIMIT=0`), and the process `max` in all; past any of them a new Login URI hit is answered `429 flow_rate_limited` and the
 *   rows already there — genuine flows midway among them — stay;
 * - website-flow transactions are not anonymous (each comes from a connect link made with an API
 *   key or by an operator) and are neither counted nor ever deleted here.
 *
 * The counts are this process's, over the last flow lifetime (a timestamp per admitted flow: memory
 * is bounded by `max`). The store trim stays as the cluster-wide backstop: with several instances
 * each admits up to `max`, and past `max` rows in the store the oldest anonymous ones still go.
 * What this does not hold against: an attacker with more than `max / PER_NETWORK_PENDING` networks
 * (50 /24s at the default) can fill the cap; new Appstore flows are then refused until its rows
 * expire, while flows already under way still complete.
 */
import type { Store } from '../../storage/store.js';
import { FLOW_TTL_MS } from './transaction.js';
import { addressKey, networkKey, type LimitDecision } from '../http/limits.js';
import type { Logger } from '../http/log.js';

/** Anonymous flows one client address may have pending at once. */
export const PER_ADDRESS_PENDING = 20;
/** Anonymous flows one network (IPv4 /24, IPv6 /48) may have pending at once. */
export const PER_NETWORK_PENDING = 200;

/** Admission times per key, oldest first, dropped once a flow lifetime old. */
class Window {
  private readonly times = new Map<string, number[]>();
  count(key: string, since: number): number {
    const list = this.times.get(key);
    if (list === undefined) return 0;
    let drop = 0;
    while (drop < list.length && list[drop]! <= since) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) this.times.delete(key);
    return list.length;
  }
  add(key: string, at: number): void {
    const list = this.times.get(key);
    if (list === undefined) this.times.set(key, [at]);
    else list.push(at);
  }
}

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
  private readonly byAddress = new Window();
  private readonly byNetwork = new Window();
  private readonly all = new Window();

  constructor(
    private readonly store: Pick<Store, 'trimPendingFlows'>,
    readonly max: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** Whether the per-address and per-network budgets apply (off with `SPAPI_AUTH_OAUTH_RATE_LIMIT=0`). */
    private readonly perClient = true,
  ) {
    this.every = Math.max(1, Math.floor(max / 100));
  }

  /**
   * Admits one anonymous flow of the client at `address`, or refuses it (the client's, its
   * network's or the process's budget of pending flows is spent). Admitted, it counts for a flow
   * lifetime (a flow finished early still counts: the row is not told apart from an abandoned one).
   */
  admit(address: string): LimitDecision {
    const at = this.now();
    const since = at - FLOW_TTL_MS;
    const a = addressKey(address);
    const n = networkKey(address);
    const overClient =
      this.perClient &&
      (this.byAddress.count(a, since) >= PER_ADDRESS_PENDING ||
        this.byNetwork.count(n, since) >= PER_NETWORK_PENDING);
    if (overClient || this.all.count('', since) >= this.max) {
      return { allowed: false, retryAfterS: 60 };
    }
    this.byAddress.add(a, at);
    this.byNetwork.add(n, at);
    this.all.add('', at);
    return { allowed: true };
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
