/**
 * The proactive refresher: renews access tokens in the background before requests would refresh
 * them on demand, paced so that this instance never starts more than `ratePerSecond` LWA refreshes
 * in any second (`SPAPI_AUTH_REFRESH_RATE_LIMIT`). Without it, sellers authorized together (a
 * migration, a mass re-authorization) all reach their refresh point together an hour later, and the
 * LWA call rate follows the request rate.
 *
 * Scheduling: the store lists active sellers by access-token expiry, soonest first. Each token has
 * a deadline — its expiry minus the point where requests would refresh it (5 min +
 * up to 1 min of jitter, at most a fifth of the lifetime) minus a safety margin with jitter. The
 * refresher starts as late as it can while still finishing every listed token before its deadline
 * at the paced rate (item i of the list needs i / rate seconds of the bucket before it), so a
 * fleet expiring together is spread over the time before it, and a fleet already spread is
 * refreshed shortly before each deadline. Refreshes go through the token source (single-flight
 * and the store lease: several instances refresh a seller once).
 *
 * The hot set: with `idleAfterMs` set (`SPAPI_AUTH_REFRESH_IDLE_AFTER`), only sellers whose token
 * was asked for within that window are listed (the token source records uses, coalesced, in
 * `last_used_at`); an idle seller costs no LWA call until its next request refreshes it on demand.
 *
 * Several instances: when the store can claim (`claimRefreshDue`), each instance takes the due
 * sellers it is about to refresh in small batches (a claim column with an expiry; PostgreSQL skips
 * rows another instance is claiming), so N instances share the work — N times the catch-up rate —
 * instead of all walking the same list and waiting on each other's leases.
 */
import type { AccessToken, SellerTokenKey } from '../../core/token-vault.js';
import { isSpapiAuthError } from '../../core/errors.js';
import { ACCESS_TOKEN_LIFETIME_MS } from '../../core/lifetimes.js';
import { refreshLeadMs } from '../../core/refresh-point.js';
import type { RefreshDueEntry, RefreshDueQuery } from '../../storage/store.js';
import type { Logger } from '../http/log.js';

/** The listing's query (the hot set's window, claimed sellers left out when sharing). */
export type HotRefreshDueQuery = RefreshDueQuery;

/** What the refresher reads and claims (the store's `listRefreshDue` and `claimRefreshDue`). */
export interface RefreshDueSource {
  listRefreshDue(query: HotRefreshDueQuery): Promise<RefreshDueEntry[]>;
  /** Claims due sellers no other instance holds a live claim on, for `claimForMs`; absent: no sharing. */
  claimRefreshDue?(query: RefreshClaimQuery): Promise<RefreshDueEntry[]>;
}

/** Options of a claim: the listing's filters, how many, and how long the claim holds. */
export interface RefreshClaimQuery {
  readonly before: number;
  readonly usedSince?: number;
  readonly limit: number;
  readonly claimForMs: number;
}

/** Options of {@link createRefresher}. */
export interface RefresherOptions {
  readonly store: RefreshDueSource;
  /**
   * The hot set's window (ms): only sellers whose token was asked for within it are renewed ahead
   * of time; 0 or absent renews every active seller.
   */
  readonly idleAfterMs?: number;
  /**
   * Refreshes one seller's token unless the one held already expires at or after `minExpiresAt`
   * (the token source's `refreshAccessToken`: single-flight and the cluster lease apply).
   */
  readonly refresh: (key: SellerTokenKey, minExpiresAt: number) => Promise<AccessToken>;
  /** Most refreshes started per second (> 0). */
  readonly ratePerSecond: number;
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /** How often the store is read for due tokens (ms); default 1000, less for short-lived tokens. */
  readonly intervalMs?: number;
  /** Token lifetime assumed until a refresh shows the real one (ms); default one hour (LWA's). */
  readonly lifetimeMs?: number;
  /**
   * Due tokens read at a time: the backlog the start time accounts for; default a minute of work
   * at the rate (500 to 5,000). A burst of expiries larger than this starts later than it could.
   */
  readonly pageSize?: number;
  /** Refreshes in flight at most; default max(4, rate), at most 64. */
  readonly maxConcurrent?: number;
  /** Called after each proactive refresh attempt (tests, metrics). */
  readonly onResult?: (result: RefreshResult) => void;
}

/** The outcome of one proactive refresh. */
export interface RefreshResult {
  readonly key: SellerTokenKey;
  /** `refreshed`: a new token (here or by another instance); `kept`: LWA unavailable, old token kept; else the error code. */
  readonly outcome: 'refreshed' | 'kept' | string;
}

/** A running refresher. */
export interface Refresher {
  /** Starts the background loop (real timers, unref'd). */
  start(): void;
  /** Stops the loop and waits for the refreshes in flight (none is cut mid-way). */
  stop(): Promise<void>;
  /**
   * One scheduling pass at the current clock: reads the store when due, starts the refreshes the
   * bucket allows; resolves to the milliseconds until the next pass (tests drive a fake clock with it).
   */
  runOnce(): Promise<number>;
  /** Resolves when no refresh is in flight. */
  settle(): Promise<void>;
}

/** Paced a little below the limit so that no window of one second ever holds more than the limit. */
const PACE = 0.95;
/** A claim covers this much of the instance's paced work (seconds), at most {@link CLAIM_MAX} sellers. */
const CLAIM_WORK_S = 2;
const CLAIM_MAX = 200;
/** A claim outlives its batch's work by the lease and an LWA call: a dead instance's claims lapse soon. */
const CLAIM_SLACK_MS = 30_000;

/**
 * Builds a refresher; call `start()` (and `stop()` on shutdown).
 *
 * @example
 * const refresher = createRefresher({ store, refresh: (key, min) => tokens.refreshAccessToken(key, min),
 *   ratePerSecond: config.refreshRateLimit, log });
 * refresher.start();
 * process.once('SIGTERM', () => void refresher.stop());
 */
export function createRefresher(opts: RefresherOptions): Refresher {
  const { rate, pageSize, maxConcurrent, idleAfterMs, claimBatch } = refresherLimits(opts);
  const { store, log } = opts;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  let lifetime = opts.lifetimeMs ?? ACCESS_TOKEN_LIFETIME_MS;

  let queue: RefreshDueEntry[] = [];
  // Sellers this instance claimed and has not started yet (only when the store can claim).
  let claimed: RefreshDueEntry[] = [];
  let nextReadAt = 0;
  // A fraction, not milliseconds: the jitter scales with the lifetime known now, so a draw made
  // while the one-hour default was assumed does not stretch the lead once a refresh shows 20 s.
  let jitter = 0;
  let learned = false;
  // While no lifetime is known: the shortest lifetime shown by new tokens that expire sooner than
  // the listed ones (stored tokens issued for longer, as at the T-C5 start), and the sellers held
  // back after such a renewal. Applied once the pass over the listing is done, not at once: the
  // pass renews the fleet on the default, as when the new tokens outlive the listed ones.
  let shownShorter: number | undefined;
  const heldBack = new Set<string>();
  const bucket = pacingBucket(rate, now());
  const inflight = new Map<string, Promise<void>>();
  const backoff = new Map<string, number>();

  const learn = (life: number): void => {
    lifetime = life;
    learned = true;
    for (const k of heldBack) backoff.delete(k);
    heldBack.clear();
  };

  const sharing = store.claimRefreshDue !== undefined;
  const usedFilter = (t: number): { usedSince?: number } =>
    idleAfterMs > 0 ? { usedSince: t - idleAfterMs } : {};
  const startable = (e: RefreshDueEntry): boolean => !inflight.has(keyOf(e)) && !backoff.has(keyOf(e));

  /**
   * Claims the sellers this instance is about to start; false when there are none now (another
   * instance claimed them: the listing, which leaves claimed sellers out, is read again).
   */
  const claim = async (t: number): Promise<boolean> => {
    const n = startingWithin(queue, t, leadMs(), rate, claimBatch);
    if (n === 0) return false;
    const got = await store.claimRefreshDue!({
      before: queue[n - 1]!.accessTokenExpiresAt + 1,
      limit: n,
      claimForMs: (n * 1000) / rate + CLAIM_SLACK_MS,
      ...usedFilter(t),
    });
    const mine = new Set(got.map(keyOf));
    queue = queue.filter((e) => !mine.has(keyOf(e)));
    // Fewer than planned: another instance took part of this listing; read the rest anew.
    if (got.length < n) nextReadAt = Math.min(nextReadAt, t);
    claimed = got.filter(startable);
    return claimed.length > 0;
  };
  const intervalMs = (): number => opts.intervalMs ?? Math.min(1000, Math.max(50, lifetime / 20));
  /**
   * How long before expiry a token must be renewed: before the earliest point requests would
   * refresh it (the core's refresh point at full jitter), with a safety margin.
   */
  const leadMs = (): number => refreshLeadMs(lifetime, 1) + Math.min(30_000, lifetime / 20) * (1 + jitter);

  const read = async (t: number): Promise<void> => {
    nextReadAt = t + intervalMs();
    // Jitter drawn per read: instances sharing a store do not start on the same seller in step.
    jitter = random();
    for (const [k, until] of backoff) if (until <= t) backoff.delete(k);
    const due = await listDue(store, {
      before: t + lifetime,
      pageSize,
      ...usedFilter(t),
      // Sharing: what another instance (or this one) has claimed is not this listing's work.
      ...(sharing ? { unclaimed: true } : {}),
    });
    queue = due.filter(startable);
    if (queue.length === 0 && inflight.size === 0 && shownShorter !== undefined && !learned) {
      // The pass is done: plan from the lifetime the renewals showed. Left on the default, the
      // held-back sellers' backoffs all ended together and renewed the whole fleet at the full
      // rate, tokens just renewed by another instance included (the T-C5 duplicates).
      learn(shownShorter);
      nextReadAt = t + intervalMs();
      queue = due.filter(startable);
    }
  };

  /** The latest time the head of the queue may start so that every listed token meets its deadline. */
  const startBy = (): number => latestStart(queue, leadMs(), rate);

  const launch = (entry: RefreshDueEntry): void => {
    const key: SellerTokenKey = { sellingPartnerId: entry.sellingPartnerId, region: entry.region };
    const k = keyOf(entry);
    const started = now();
    const done = opts
      .refresh(key, entry.accessTokenExpiresAt + 1)
      .then(
        (token) => {
          const shown = token.expiresAt - started;
          if (token.expiresAt > entry.accessTokenExpiresAt) {
            if (shown > 0) learn(shown);
            return 'refreshed';
          }
          if (token.expiresAt !== entry.accessTokenExpiresAt && !learned && shown > 0) {
            shownShorter = Math.min(shownShorter ?? shown, shown);
            heldBack.add(k);
            backoff.set(k, now() + Math.min(30_000, lifetime / 10));
            return 'refreshed';
          }
          // LWA unavailable (breaker open): the old token was kept; try again later.
          backoff.set(k, now() + Math.min(30_000, lifetime / 10));
          return 'kept';
        },
        (err: unknown) => {
          const code = isSpapiAuthError(err) ? err.code : ((err as Error)?.name ?? 'Error');
          // reauthorization_required / revoked / deleted sellers leave the listing (status or row);
          // anything else waits before the next try.
          backoff.set(k, now() + Math.min(60_000, lifetime / 10));
          log.warn('proactive refresh failed', {
            seller_id: entry.sellingPartnerId,
            region: entry.region,
            code,
          });
          return code;
        },
      )
      .then((outcome) => {
        inflight.delete(k);
        opts.onResult?.({ key, outcome });
      });
    inflight.set(k, done);
  };

  const runOnce = async (): Promise<number> => {
    let t = now();
    if (t >= nextReadAt) {
      await read(t);
      t = now();
    }
    bucket.refill(t);
    // Claimed sellers start at once: the claim was taken when the listing's start had come.
    const start = claimed.length > 0 ? Math.min(t, startBy()) : startBy();
    // Nothing due for a while: new tokens expire later than the listed ones, so the listing can
    // wait (half the time to the start, at most a minute or a quarter lifetime) instead of being
    // read every interval. (An empty queue is read again at the interval: the page ran out.)
    if (queue.length > 0 && start > t)
      nextReadAt = Math.max(nextReadAt, t + Math.min(60_000, lifetime / 4, (start - t) / 2));
    while (t >= start && bucket.full() && inflight.size < maxConcurrent) {
      let entry: RefreshDueEntry | undefined;
      if (!sharing) {
        entry = queue.shift();
      } else {
        if (claimed.length === 0 && (queue.length === 0 || !(await claim(t)))) break;
        entry = claimed.shift();
      }
      if (entry === undefined) break;
      if (inflight.has(keyOf(entry))) continue;
      bucket.take();
      launch(entry);
    }
    // Whole milliseconds, at least one: clocks and stored times are integers.
    const untilRead = nextReadAt - t;
    let delay = untilRead;
    if (queue.length > 0 || claimed.length > 0)
      delay = Math.min(untilRead, t < start ? start - t : bucket.waitMs());
    return Math.max(1, Math.ceil(delay));
  };

  const settle = async (): Promise<void> => {
    while (inflight.size > 0) await Promise.all([...inflight.values()]);
  };

  const loop = timerLoop(runOnce, (err) => {
    // The store is unreachable: try again at the next interval.
    log.warn('proactive refresher: reading due tokens failed', {
      error_name: (err as Error)?.name ?? 'Error',
    });
    return intervalMs();
  });

  return {
    start() {
      if (!loop.start()) return;
      log.info('proactive refresher started (count: LWA refreshes per second at most)', {
        count: opts.ratePerSecond,
      });
    },
    async stop() {
      await loop.stop();
      await settle();
    },
    runOnce,
    settle,
  };
}

const keyOf = (e: SellerTokenKey): string => `${e.region}|${e.sellingPartnerId}`;

/** The pacing bucket: holds at most one refresh (strict pacing, no bursts), refilled at `rate` a second. */
function pacingBucket(
  rate: number,
  at: number,
): { refill(t: number): void; full(): boolean; take(): void; waitMs(): number } {
  let tokens = 1;
  let refilledAt = at;
  return {
    refill(t) {
      tokens = Math.min(1, tokens + ((t - refilledAt) * rate) / 1000);
      refilledAt = t;
    },
    full: () => tokens >= 1,
    take() {
      tokens -= 1;
    },
    /** Milliseconds until the bucket holds a whole refresh again. */
    waitMs: () => ((1 - tokens) * 1000) / rate,
  };
}

/**
 * The options' numbers, checked and defaulted: the paced rate (per second), the listing's page,
 * the refreshes in flight at most, the hot set's window and a claim's batch.
 */
function refresherLimits(opts: RefresherOptions): {
  rate: number;
  pageSize: number;
  maxConcurrent: number;
  idleAfterMs: number;
  claimBatch: number;
} {
  if (!(opts.ratePerSecond > 0) || !Number.isFinite(opts.ratePerSecond)) {
    throw new TypeError('ratePerSecond must be a positive number');
  }
  const rate = opts.ratePerSecond * PACE;
  const idleAfterMs = opts.idleAfterMs ?? 0;
  if (!(idleAfterMs >= 0) || !Number.isFinite(idleAfterMs)) {
    throw new TypeError('idleAfterMs must be 0 or a positive number');
  }
  return {
    rate,
    pageSize: opts.pageSize ?? Math.min(5000, Math.max(500, Math.ceil(rate * 60))),
    maxConcurrent: opts.maxConcurrent ?? Math.min(64, Math.max(4, Math.ceil(opts.ratePerSecond))),
    idleAfterMs,
    claimBatch: Math.min(CLAIM_MAX, Math.max(1, Math.ceil(rate * CLAIM_WORK_S))),
  };
}

/**
 * Up to `pageSize` due sellers, soonest expiry first, read in pages of at most 1,000 (one query
 * stays small on a large fleet; the keyset `after` continues where a page ended).
 */
async function listDue(
  store: RefreshDueSource,
  q: { before: number; pageSize: number; usedSince?: number; unclaimed?: true },
): Promise<RefreshDueEntry[]> {
  const { pageSize, ...filters } = q;
  const due: RefreshDueEntry[] = [];
  while (due.length < pageSize) {
    const limit = Math.min(1000, pageSize - due.length);
    const page = await store.listRefreshDue({ ...filters, after: due.at(-1) ?? null, limit });
    due.push(...page);
    if (page.length < limit) break;
  }
  return due;
}

/**
 * The latest time the head of `queue` may start so that every listed token is renewed `lead` ms
 * before it expires, item i starting i / rate seconds after the head. Pure: the schedule's rule,
 * apart from the refresher's state.
 */
function latestStart(queue: readonly RefreshDueEntry[], lead: number, rate: number): number {
  let latest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < queue.length; i++) {
    latest = Math.min(latest, queue[i]!.accessTokenExpiresAt - lead - (i * 1000) / rate);
  }
  return latest;
}

/**
 * How many of the queue's head (at most `limit`) the schedule starts within {@link CLAIM_WORK_S}
 * from `t`: each entry starts at the bucket's pace, and no earlier than the latest start that still
 * covers it and everything after it (so a claim never takes a token just renewed, which is listed
 * too).
 */
function startingWithin(
  queue: readonly RefreshDueEntry[],
  t: number,
  lead: number,
  rate: number,
  limit: number,
): number {
  const step = 1000 / rate;
  const latest: number[] = new Array<number>(queue.length);
  let m = Number.POSITIVE_INFINITY;
  for (let i = queue.length - 1; i >= 0; i--) {
    m = Math.min(m, queue[i]!.accessTokenExpiresAt - lead - i * step);
    latest[i] = m;
  }
  let at = t - step;
  let n = 0;
  for (let j = 0; j < queue.length && n < limit; j++) {
    at = Math.max(at + step, latest[j]! + j * step);
    if (at > t + CLAIM_WORK_S * 1000) break;
    n++;
  }
  return n;
}

/**
 * Runs `pass` again and again on real (unref'd) timers, each time after the delay it resolves to;
 * a failed pass waits what `onError` returns. Apart from the scheduling so that tests drive the
 * schedule through `runOnce` on a fake clock and only this loop touches timers. `start()` is false
 * when the loop was running already; `stop()` wakes a sleeping loop and waits for its pass.
 */
function timerLoop(
  pass: () => Promise<number>,
  onError: (err: unknown) => number,
): { start(): boolean; stop(): Promise<void> } {
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
  return {
    start() {
      if (running) return false;
      running = true;
      loop = (async () => {
        while (running) {
          let delay: number;
          try {
            delay = await pass();
          } catch (err) {
            delay = onError(err);
          }
          if (running) await sleep(delay);
        }
      })();
      return true;
    },
    async stop() {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
