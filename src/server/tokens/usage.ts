/**
 * "Last used" of each seller's access token, for the proactive refresher's hot set: the refresher
 * renews ahead of expiry only sellers asked for within `SPAPI_AUTH_REFRESH_IDLE_AFTER`.
 *
 * A token request must not cost a store write, so uses are coalesced: the first use of a seller in
 * an interval is noted (a map lookup and a comparison on the hot path; a second one in the same
 * interval returns after the lookup), and the noted sellers are written in batches once per interval
 * — at most one write per seller per interval per instance, however many requests it serves. The
 * stored time is thus up to two intervals old, which the window (hours by default) absorbs: the
 * interval is a tenth of the window, at most a minute.
 */
import type { Region } from '../../core/marketplaces.js';
import type { SellerTokenKey } from '../../core/token-vault.js';
import type { Logger } from '../http/log.js';

/** Sellers written per store call (one statement each). */
const KEYS_PER_WRITE = 500;
/** Sellers noted but not yet written, at most: past it, uses wait for the next interval. */
const MAX_PENDING = 100_000;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Where uses are written: `Store.recordSellerUse`. */
export type SellerUseWriter = (keys: readonly SellerTokenKey[], at: number) => Promise<void>;

/** Options of {@link createUsageRecorder}. */
export interface UsageRecorderOptions {
  readonly write: SellerUseWriter;
  readonly log: Logger;
  /** At most one write per seller per this many ms (and the flush period). */
  readonly intervalMs: number;
  readonly now?: () => number;
  /** Start the flush timer (default true; tests call `flush()` themselves). */
  readonly timer?: boolean;
}

/** Records token uses, coalesced (see the module comment). */
export interface UsageRecorder {
  /** Notes a use of a seller's access token now: synchronous, no store call. */
  touch(sellingPartnerId: string, region: Region): void;
  /** Writes the uses noted since the last flush. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is left. */
  close(): Promise<void>;
}

/**
 * The write interval for an idle window: a tenth of it, between 1 s and 60 s.
 *
 * @example
 * usageIntervalMs(7200); // 60_000
 */
export function usageIntervalMs(idleAfterS: number): number {
  return Math.min(60_000, Math.max(1_000, (idleAfterS * 1000) / 10));
}

/**
 * Builds a recorder; `touch()` it on every token served to a caller, `close()` it on shutdown.
 *
 * @example
 * const usage = createUsageRecorder({ write: (keys, at) => store.recordSellerUse(keys, at), log,
 *   intervalMs: usageIntervalMs(config.refreshIdleAfterS) });
 * usage.touch('A1SELLER', 'na');
 */
export function createUsageRecorder(opts: UsageRecorderOptions): UsageRecorder {
  const now = opts.now ?? Date.now;
  const { intervalMs, log } = opts;
  // Per region, keyed by seller id (the hot path builds no key string): when a use was last noted.
  // Only sellers noted within the last interval stay: the map is bounded by the sellers in use.
  const noted: Record<Region, Map<string, number>> = Object.assign(Object.create(null) as object, {
    na: new Map<string, number>(),
    eu: new Map<string, number>(),
    fe: new Map<string, number>(),
  });
  let pending: SellerTokenKey[] = [];
  // The first use noted since the last flush: the batch is written with it, so a stored use is
  // never later than the request (the listing relies on a used seller's token outliving its use).
  let pendingSince = 0;
  let flushing: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      const t = now();
      for (const map of Object.values(noted)) {
        for (const [id, at] of map) if (t - at >= intervalMs) map.delete(id);
      }
      if (pending.length === 0) return;
      const batch = pending;
      const at = pendingSince;
      pending = [];
      for (let i = 0; i < batch.length; i += KEYS_PER_WRITE) {
        if (i > 0) await nextTurn();
        const slice = batch.length <= KEYS_PER_WRITE ? batch : batch.slice(i, i + KEYS_PER_WRITE);
        try {
          await opts.write(slice, at);
        } catch (err) {
          // Lost uses only make a seller look idle sooner: its next request refreshes on demand.
          log.warn('recording token use failed', {
            count: slice.length,
            error_name: (err as Error)?.name ?? 'Error',
          });
        }
      }
    });
    return flushing;
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  if (opts.timer !== false) {
    timer = setInterval(() => void flush(), intervalMs);
    timer.unref();
  }

  return {
    touch(sellingPartnerId, region) {
      const map = noted[region];
      if (map === undefined) return;
      const t = now();
      const last = map.get(sellingPartnerId);
      if (last !== undefined && t - last < intervalMs) return;
      if (pending.length >= MAX_PENDING) return;
      if (pending.length === 0) pendingSince = t;
      map.set(sellingPartnerId, t);
      pending.push({ sellingPartnerId, region });
    },
    flush,
    async close() {
      if (timer !== undefined) clearInterval(timer);
      await flush();
    },
  };
}
