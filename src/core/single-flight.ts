/**
 * A cache of values that expire, with one load in flight per key: the shape every token cache of
 * the manager has (access tokens, grantless tokens, restricted data tokens). A value is served
 * while the clock is before its refresh point; past it, the first caller starts the load and every
 * caller meanwhile joins that same promise. A caller's signal stops only that caller's wait.
 */

/** A cached value and the time (epoch ms) from which it is refreshed instead of served. */
export interface CacheEntry<V> {
  readonly value: V;
  readonly refreshAt: number;
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as it aborts (the promise
 * itself carries on, for the other callers).
 *
 * @example
 * await raceSignal(sharedRefresh, AbortSignal.timeout(1000));
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Expiring values by key with single-flight loads. `E` lets a cache keep more per entry (the
 * access-token cache keeps a promise and a hit event made once per token, so that a hit allocates
 * nothing).
 *
 * @example
 * const cache = new SingleFlightCache<AccessToken>(Date.now);
 * const token = cache.fresh(scope)?.value ?? (await cache.load(scope, () => fetchToken(scope)));
 */
export class SingleFlightCache<V, E extends CacheEntry<V> = CacheEntry<V>> {
  private readonly entries = new Map<string, E>();
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(private readonly now: () => number) {}

  /** The entry while it is before its refresh point, else undefined. */
  fresh(key: string): E | undefined {
    const e = this.entries.get(key);
    return e !== undefined && this.now() < e.refreshAt ? e : undefined;
  }

  /** The entry, fresh or not (a stale value is still worth serving while LWA is down). */
  entry(key: string): E | undefined {
    return this.entries.get(key);
  }

  /** Stores an entry (replacing the key's). */
  set(key: string, entry: E): void {
    this.entries.set(key, entry);
  }

  /** Drops a key's entry; a load in flight carries on. */
  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose key and entry pass `match`. */
  deleteWhere(match: (key: string, entry: E) => boolean): void {
    for (const [k, e] of this.entries) if (match(k, e)) this.entries.delete(k);
  }

  /** The first entry whose key and entry pass `match`, with its key. */
  find(match: (key: string, entry: E) => boolean): { readonly key: string; readonly entry: E } | undefined {
    for (const [key, entry] of this.entries) if (match(key, entry)) return { key, entry };
    return undefined;
  }

  /**
   * Joins the load in flight for `key`, or starts one with `start`; the load ends the flight
   * whatever its outcome (a failure is not remembered). `onJoin` runs when the call joins.
   */
  load(key: string, start: () => Promise<V>, signal?: AbortSignal, onJoin?: () => void): Promise<V> {
    let p = this.inflight.get(key);
    if (p !== undefined) {
      onJoin?.();
    } else {
      p = start().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return raceSignal(p, signal);
  }
}
