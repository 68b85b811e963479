// The proactive refresher's concern: which sellers are in use (the hot set), claims that share the
// due list between instances, and cluster-wide deadlines (the LWA 429 pause).
import type { SellerTokenKey } from '../../core/index.js';
// SellerStore is named in the TSDoc links below.
import type { RefreshDueEntry, SellerStore } from './sellers.js';

/**
 * Options of {@link RefreshStore.claimRefreshDue}.
 *
 * @example
 * ```ts
 * const mine = await store.claimRefreshDue({ before: Date.now() + 420_000, usedSince: Date.now() - 7_200_000,
 *   limit: 20, claimForMs: 32_000 });
 * ```
 */
export interface RefreshClaimQuery {
  /** Access tokens expiring strictly before this time (epoch ms). */
  readonly before: number;
  /** Only sellers used at or after this time (epoch ms); absent: every active seller. */
  readonly usedSince?: number;
  /** 1…1000. */
  readonly limit: number;
  /** How long the claim keeps other instances away (ms, > 0). */
  readonly claimForMs: number;
}

/** The hot set, refresh claims and cluster deadlines. */
export interface RefreshStore {
  /**
   * Records that these sellers' access tokens were handed out at `at` (`last_used_at`, kept when a
   * later one is stored): one statement for the batch, no version bump (leases are unaffected).
   * Unknown sellers are ignored.
   */
  recordSellerUse(keys: readonly SellerTokenKey[], at: number): Promise<void>;
  /**
   * Claims up to `limit` of the sellers {@link SellerStore.listRefreshDue} would list, soonest
   * first, that no live claim holds, until now + `claimForMs`; returns them (in the listing's
   * order). Concurrent callers (instances on PostgreSQL) get disjoint sets.
   */
  claimRefreshDue(query: RefreshClaimQuery): Promise<RefreshDueEntry[]>;
  /** Raises the cluster-wide deadline `name` to `until` (epoch ms); a later stored one is kept. */
  raiseClusterDeadline(name: string, until: number): Promise<void>;
  /** The cluster-wide deadline `name` (epoch ms), 0 when none was stored. */
  readClusterDeadline(name: string): Promise<number>;
}
