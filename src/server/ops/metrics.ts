/**
 * Prometheus metrics in the text exposition format 0.0.4 at `GET /metrics`: the service's own
 * counters, gauges and one histogram, hand-written so that the token API's hot path only increments
 * a number or looks up a pre-built counter; and the standard process and runtime metrics
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`,
 * `nodejs_gc_duration_seconds`, `nodejs_active_handles`, …) from `prom-client`'s default
 * collectors, one set per process.
 *
 * Label values are only ever code-defined words (grant types, outcomes, statuses) and route
 * patterns (`/v1/sellers/:id/access-token`, never the raw path): no seller id, token or secret can
 * reach a label. The same object keeps a 24-hour, 5-minute-bucket series of refreshes and errors
 * for the admin dashboard's chart, and the LWA health summary.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { OutboxDepth, SellerStatus, Store } from '../../storage/store.js';

let runtimeRegistry: Registry | undefined;

/**
 * The process and runtime metrics, collected once per process however many services it runs (the
 * collectors observe GC and the event loop of the whole process).
 */
function runtimeMetrics(): Registry {
  if (runtimeRegistry === undefined) {
    runtimeRegistry = new Registry();
    collectDefaultMetrics({ register: runtimeRegistry });
  }
  return runtimeRegistry;
}

/** Label names → values; values must come from code, never from a request. */
export type Labels = Readonly<Record<string, string>>;

const LABEL_VALUE = /^[A-Za-z0-9_:/.()-]{0,100}$/;

function labelKey(names: readonly string[], labels: Labels): string {
  let key = '';
  for (const n of names) {
    const v = labels[n] ?? '';
    // Anything that is not a plain code word or route pattern is refused loudly in tests and
    // replaced in production, so a value from a request can never become a label.
    key += `${n}="${LABEL_VALUE.test(v) ? v : 'invalid'}",`;
  }
  return key.slice(0, -1);
}

/** A monotonically increasing counter, optionally with labels. */
export class Counter {
  private readonly series = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}

  /**
   * Adds `n` (default 1) to the series of `labels`.
   *
   * @example
   * lwaCalls.inc({ grant: 'refresh_token', outcome: 'ok' });
   */
  inc(labels: Labels = {}, n = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.series.set(k, (this.series.get(k) ?? 0) + n);
  }

  /** The current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels)) ?? 0;
  }

  /** Every series' value, summed. */
  total(): number {
    let t = 0;
    for (const v of this.series.values()) t += v;
    return t;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    if (this.series.size === 0 && this.labelNames.length === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.series) out.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

/**
 * A value set at scrape time (or any time). With `type` `counter` it renders a count kept
 * elsewhere (monotonic there), copied in at scrape time.
 */
export class Gauge {
  private readonly series = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.series.set(labelKey(this.labelNames, labels), value);
  }

  get(labels: Labels = {}): number | undefined {
    return this.series.get(labelKey(this.labelNames, labels));
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const [k, v] of this.series) out.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

/** A histogram with fixed buckets (seconds), cumulative as Prometheus expects. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  /**
   * Records one observation.
   *
   * @example
   * refreshSeconds.observe(0.052);
   */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }

  /** How many observations so far. */
  observations(): number {
    return this.count;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i]!;
      out.push(`${this.name}_bucket{le="${this.buckets[i]}"} ${cumulative}`);
    }
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    out.push(`${this.name}_sum ${Math.round(this.sum * 1e6) / 1e6}`, `${this.name}_count ${this.count}`);
  }
}

/** What the token source reports; {@link ServiceMetrics} implements it. Every method is O(1). */
export interface TokenMetricsSink {
  cacheHit(): void;
  cacheMiss(): void;
  /** A caller joined a refresh already in flight in this process. */
  singleFlightJoin(): void;
  /** Another instance held the refresh lease; this one waited and re-read. */
  leaseWait(): void;
  /** One refresh finished: `outcome` is `ok` or an error code; `seconds` its duration. */
  refreshed(outcome: string, seconds: number): void;
  /** LWA refused the app's own client credentials (both secrets, when two are configured). */
  invalidClient(): void;
}

/** The HTTP server's connections as `/metrics` shows them (`server/http/connections.ts`). */
export interface ConnectionCounts {
  readonly active: number;
  readonly idle: number;
  /** Opened while their client was at its share: waiting beside it (a request or its refusal). */
  readonly held: number;
  readonly limit: number;
  /** Monotonic counts since start, by action (`evicted_idle`, `refused`). */
  readonly shed: Readonly<Record<string, number>>;
}

/** One 5-minute bucket of the dashboard's activity series. */
export interface ActivityBucket {
  /** Bucket start, epoch ms. */
  readonly start: number;
  readonly refreshes: number;
  readonly errors: number;
}

/** LWA health for the dashboard. */
export interface LwaHealth {
  /** `closed` (calls flow), `open` (failing fast) or `half_open`; `unknown` when no breaker reports. */
  readonly breaker: 'closed' | 'open' | 'half_open' | 'unknown';
  readonly consecutiveFailures: number;
  readonly lastSuccessAt: number | null;
  readonly lastFailureAt: number | null;
  /** LWA calls since start by outcome (`ok`, `invalid_grant`, `invalid_client`, `server_error`, …). */
  readonly callsByOutcome: Readonly<Record<string, number>>;
}

const BUCKET_MS = 5 * 60_000;
const BUCKETS = 288; // 24 hours
const REFRESH_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SCRAPE_CACHE_MS = 15_000;

/**
 * The service's metrics. One per process; `createApp` makes one unless given.
 *
 * @example
 * const metrics = new ServiceMetrics();
 * metrics.cacheHit();
 * const text = await metrics.render(store);
 */
export class ServiceMetrics implements TokenMetricsSink {
  readonly lwaCalls = new Counter(
    'spapi_auth_lwa_calls_total',
    'Requests sent to the LWA token endpoint, by grant type and outcome.',
    ['grant', 'outcome'],
  );
  readonly cacheHits = new Counter('spapi_auth_token_cache_hits_total', 'Access tokens served from memory.');
  readonly cacheMisses = new Counter(
    'spapi_auth_token_cache_misses_total',
    'Access token requests that had to read the store or refresh.',
  );
  readonly joins = new Counter(
    'spapi_auth_single_flight_joins_total',
    'Requests that joined a refresh already in flight in this process.',
  );
  readonly leaseWaits = new Counter(
    'spapi_auth_lease_waits_total',
    'Times this instance waited for another instance holding the refresh lease.',
  );
  readonly refreshes = new Counter(
    'spapi_auth_refreshes_total',
    'Access token refreshes by outcome (ok or an error code).',
    ['outcome'],
  );
  readonly refreshSeconds = new Histogram(
    'spapi_auth_refresh_duration_seconds',
    'Duration of one access token refresh, LWA retries included.',
    REFRESH_BUCKETS,
  );
  readonly invalidClients = new Counter(
    'spapi_auth_lwa_invalid_client_total',
    "Times LWA refused the app's own client credentials.",
  );
  readonly secretRotations = new Counter(
    'spapi_auth_client_secret_rotations_total',
    'Client-secret notifications accepted, by type.',
    ['type'],
  );
  readonly rotationFailures = new Counter(
    'spapi_auth_client_secret_rotation_failures_total',
    'Unattended client-secret rotation failures, by code (the secret in use stays in use).',
    ['code'],
  );
  readonly notifications = new Counter(
    'spapi_auth_notifications_total',
    'Messages of the notification queue handled, by outcome (applied, duplicate, set_aside, retried).',
    ['outcome'],
  );
  readonly notificationsAside = new Gauge(
    'spapi_auth_notifications_aside',
    'Notifications kept aside because they could not be applied (dashboard: Overview).',
  );
  readonly queueConsumer = new Gauge(
    'spapi_auth_notification_queue_consumer',
    'Whether this instance is the one consuming the notification queue (1) or not (0).',
  );
  readonly clientSecretExpiry = new Gauge(
    'spapi_auth_client_secret_expiry_timestamp_seconds',
    'When the client secret this instance uses first stops working (absent when unknown).',
  );
  readonly webhookDeliveries = new Counter(
    'spapi_auth_webhook_deliveries_total',
    'Webhook delivery attempts by outcome (delivered, failed, dead).',
    ['outcome'],
  );
  readonly httpRequests = new Counter(
    'spapi_auth_http_requests_total',
    'API requests by route pattern and status.',
    ['route', 'status'],
  );
  readonly sellers = new Gauge('spapi_auth_sellers', 'Stored authorizations by status.', ['status']);
  readonly outboxDepth = new Gauge(
    'spapi_auth_webhook_outbox_depth',
    'Webhook events waiting for delivery (pending) or given up (dead).',
    ['state'],
  );
  readonly breakerOpen = new Gauge(
    'spapi_auth_lwa_breaker_open',
    'Whether the LWA circuit breaker is open (1) or not (0).',
  );
  readonly httpConnections = new Gauge(
    'spapi_auth_http_connections',
    'Open client connections of this process: active (a request in flight), idle, or held (opened while the client was at its share of the cap: waiting for a request, or for its refusal).',
    ['state'],
  );
  readonly httpConnectionsLimit = new Gauge(
    'spapi_auth_http_connections_limit',
    'The most client connections this process keeps open (SPAPI_AUTH_MAX_CONNECTIONS, bounded by ulimit -n).',
  );
  readonly httpConnectionsShed = new Gauge(
    'spapi_auth_http_connections_shed_total',
    'Connections shed at the cap: the longest-idle one closed (evicted_idle) or the new one refused (refused); at one client’s share of the cap (evicted_share, refused_share); closed for queuing too many pipelined requests (pipelined).',
    ['action'],
    'counter',
  );

  /** Called after each {@link invalidClient} (the client-secret ring raises its alarm there). */
  onInvalidClient: (() => void) | undefined;

  /** Set by whoever owns a circuit breaker (the token manager) to report its state. */
  breakerState: (() => LwaHealth['breaker']) | undefined;

  /** Set when the notification queue is consumed: whether this instance holds the consumer lease. */
  queueConsumerHeld: (() => boolean) | undefined;

  /** Set by the client-secret ring: when the secret in use expires (epoch ms), or null when unknown. */
  clientSecretExpiresAt: (() => number | null) | undefined;

  /** Set by whoever runs the HTTP server to report its connections (read at scrape time). */
  connections: (() => ConnectionCounts) | undefined;

  private readonly started: number;
  private readonly activity = new Map<number, { refreshes: number; errors: number }>();
  private consecutiveFailures = 0;
  private lastSuccessAt: number | null = null;
  private lastFailureAt: number | null = null;
  private scraped:
    { at: number; sellers: Record<SellerStatus, number>; depth: OutboxDepth; aside: number } | undefined;
  // route → status → counter key, so the per-request cost is two Map lookups and an add.
  private readonly requestKeys = new Map<string, Map<number, string>>();
  private readonly requestCounts = new Map<string, number>();

  /**
   * @param now the clock
   * @param opts.runtime include the process and runtime metrics (default true;
   *   `SPAPI_AUTH_METRICS_RUNTIME=false` when another exporter covers them)
   */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly opts: { readonly runtime?: boolean } = {},
  ) {
    this.started = now();
    if (opts.runtime !== false) runtimeMetrics();
  }

  cacheHit(): void {
    this.cacheHits.inc();
  }
  cacheMiss(): void {
    this.cacheMisses.inc();
  }
  singleFlightJoin(): void {
    this.joins.inc();
  }
  leaseWait(): void {
    this.leaseWaits.inc();
  }
  refreshed(outcome: string, seconds: number): void {
    this.refreshes.inc({ outcome });
    this.refreshSeconds.observe(seconds);
    this.bump(outcome === 'ok' ? 'refreshes' : 'errors');
  }
  invalidClient(): void {
    this.invalidClients.inc();
    this.onInvalidClient?.();
  }

  /**
   * Records one LWA token-endpoint response (or a network failure, `outcome` = `network_error`).
   *
   * @example
   * metrics.lwaCall('refresh_token', 'ok');
   */
  lwaCall(grant: string, outcome: string): void {
    this.lwaCalls.inc({ grant, outcome });
    const at = this.now();
    if (outcome === 'ok' || outcome === 'invalid_grant') {
      // invalid_grant is a seller's problem, not LWA's: it proves LWA is up.
      this.consecutiveFailures = 0;
      this.lastSuccessAt = at;
    } else {
      this.consecutiveFailures++;
      this.lastFailureAt = at;
    }
  }

  /**
   * Counts one API request by route pattern and status (called once per request by the app).
   *
   * @example
   * metrics.request('/v1/sellers/:id/access-token', 200);
   */
  request(route: string, status: number): void {
    let byStatus = this.requestKeys.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.requestKeys.set(route, byStatus);
    }
    let key = byStatus.get(status);
    if (key === undefined) {
      key = labelKey(['route', 'status'], { route, status: String(status) });
      byStatus.set(status, key);
    }
    this.requestCounts.set(key, (this.requestCounts.get(key) ?? 0) + 1);
  }

  /** Requests counted for one route and status. */
  requests(route: string, status: number): number {
    return this.requestCounts.get(labelKey(['route', 'status'], { route, status: String(status) })) ?? 0;
  }

  /** Records a webhook delivery attempt. */
  webhookDelivery(outcome: 'delivered' | 'failed' | 'dead'): void {
    this.webhookDeliveries.inc({ outcome });
  }

  /** The last 24 hours in 5-minute buckets, oldest first (288 entries). */
  activitySeries(): ActivityBucket[] {
    const current = Math.floor(this.now() / BUCKET_MS);
    const out: ActivityBucket[] = [];
    for (let b = current - BUCKETS + 1; b <= current; b++) {
      const v = this.activity.get(b);
      out.push({ start: b * BUCKET_MS, refreshes: v?.refreshes ?? 0, errors: v?.errors ?? 0 });
    }
    return out;
  }

  /** LWA health as the dashboard shows it. */
  lwaHealth(): LwaHealth {
    const callsByOutcome: Record<string, number> = {};
    for (const outcome of LWA_OUTCOMES) {
      let n = 0;
      for (const grant of LWA_GRANTS) n += this.lwaCalls.get({ grant, outcome });
      if (n > 0) callsByOutcome[outcome] = n;
    }
    return {
      breaker: this.breakerState?.() ?? 'unknown',
      consecutiveFailures: this.consecutiveFailures,
      lastSuccessAt: this.lastSuccessAt,
      lastFailureAt: this.lastFailureAt,
      callsByOutcome,
    };
  }

  /** Seconds since this object was made (process uptime as far as metrics go). */
  uptimeSeconds(): number {
    return Math.floor((this.now() - this.started) / 1000);
  }

  /**
   * The Prometheus text. Store-derived gauges (sellers by status, outbox depth) are read at most
   * every 15 s, so frequent scrapes of a large fleet cost one `GROUP BY` per window.
   */
  async render(
    store: Pick<Store, 'countSellersByStatus' | 'webhookOutboxDepth' | 'countNotificationsAside'>,
  ): Promise<string> {
    const at = this.now();
    if (this.scraped === undefined || at - this.scraped.at > SCRAPE_CACHE_MS) {
      const [sellers, depth, aside] = await Promise.all([
        store.countSellersByStatus(),
        store.webhookOutboxDepth(),
        store.countNotificationsAside(),
      ]);
      this.scraped = { at, sellers, depth, aside };
    }
    this.notificationsAside.set({}, this.scraped.aside);
    const held = this.queueConsumerHeld?.();
    if (held !== undefined) this.queueConsumer.set({}, held ? 1 : 0);
    const expiry = this.clientSecretExpiresAt?.() ?? null;
    if (expiry !== null) this.clientSecretExpiry.set({}, Math.floor(expiry / 1000));
    for (const [status, n] of Object.entries(this.scraped.sellers)) this.sellers.set({ status }, n);
    this.outboxDepth.set({ state: 'pending' }, this.scraped.depth.pending);
    this.outboxDepth.set({ state: 'dead' }, this.scraped.depth.dead);
    const breaker = this.breakerState?.();
    if (breaker !== undefined) this.breakerOpen.set({}, breaker === 'open' ? 1 : 0);
    const out: string[] = [];
    for (const m of [
      this.lwaCalls,
      this.cacheHits,
      this.cacheMisses,
      this.joins,
      this.leaseWaits,
      this.refreshes,
      this.refreshSeconds,
      this.invalidClients,
      this.secretRotations,
      this.rotationFailures,
      this.notifications,
      this.webhookDeliveries,
    ]) {
      m.render(out);
    }
    this.notificationsAside.render(out);
    if (held !== undefined) this.queueConsumer.render(out);
    if (expiry !== null) this.clientSecretExpiry.render(out);
    out.push(
      `# HELP ${this.httpRequests.name} ${this.httpRequests.help}`,
      `# TYPE ${this.httpRequests.name} counter`,
    );
    for (const [k, v] of this.requestCounts) out.push(`${this.httpRequests.name}{${k}} ${v}`);
    this.sellers.render(out);
    this.outboxDepth.render(out);
    if (breaker !== undefined) this.breakerOpen.render(out);
    const conns = this.connections?.();
    if (conns !== undefined) {
      this.httpConnections.set({ state: 'active' }, conns.active);
      this.httpConnections.set({ state: 'idle' }, conns.idle);
      this.httpConnections.set({ state: 'held' }, conns.held);
      this.httpConnectionsLimit.set({}, conns.limit);
      for (const [action, n] of Object.entries(conns.shed)) this.httpConnectionsShed.set({ action }, n);
      this.httpConnections.render(out);
      this.httpConnectionsLimit.render(out);
      this.httpConnectionsShed.render(out);
    }
    // prom-client separates families with a blank line (one exposition has none) and writes an
    // empty event-loop histogram's mean as `Nan`, which the format spells `NaN`.
    const runtime =
      this.opts.runtime === false
        ? ''
        : (await runtimeMetrics().metrics()).replace(/\n+/g, '\n').replace(/ Nan$/gm, ' NaN');
    return out.join('\n') + '\n' + runtime;
  }

  /** Forgets the cached store reading (tests; after a bulk change). */
  invalidateScrape(): void {
    this.scraped = undefined;
  }

  private bump(field: 'refreshes' | 'errors'): void {
    const b = Math.floor(this.now() / BUCKET_MS);
    let v = this.activity.get(b);
    if (v === undefined) {
      v = { refreshes: 0, errors: 0 };
      this.activity.set(b, v);
      for (const old of this.activity.keys()) if (old <= b - BUCKETS) this.activity.delete(old);
    }
    v[field]++;
  }
}

/** The grant types of the token endpoint. */
export const LWA_GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
const LWA_OUTCOMES = [
  'ok',
  'invalid_grant',
  'invalid_client',
  'invalid_request',
  'invalid_scope',
  'unauthorized_client',
  'rate_limited',
  'server_error',
  'network_error',
  'other',
] as const;

/**
 * Wraps a `fetch` so that every call to the LWA token endpoint (`/auth/o2/token`) is counted by
 * grant type and outcome; other requests pass through untouched. Reads only the form's
 * `grant_type` and the error response's `error` word (from a clone), never a token.
 *
 * @example
 * const fetch = instrumentLwaFetch(globalThis.fetch, metrics);
 */
export function instrumentLwaFetch(
  inner: (req: Request) => Promise<Response>,
  metrics: Pick<ServiceMetrics, 'lwaCall'>,
): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method !== 'POST' || !new URL(req.url).pathname.endsWith('/auth/o2/token')) return inner(req);
    let grant = 'other';
    try {
      const body = await req.clone().text();
      const g = /^[{]/.test(body.trim())
        ? (JSON.parse(body) as { grant_type?: unknown }).grant_type
        : new URLSearchParams(body).get('grant_type');
      if (typeof g === 'string' && (LWA_GRANTS as readonly string[]).includes(g)) grant = g;
    } catch {
      grant = 'other';
    }
    let res: Response;
    try {
      res = await inner(req);
    } catch (err) {
      metrics.lwaCall(grant, 'network_error');
      throw err;
    }
    metrics.lwaCall(grant, await lwaOutcome(res));
    return res;
  };
}

async function lwaOutcome(res: Response): Promise<string> {
  if (res.status === 200) return 'ok';
  if (res.status === 429) return 'rate_limited';
  if (res.status >= 500) return 'server_error';
  try {
    const text = await res.clone().text();
    const error = (JSON.parse(text.slice(0, 4096)) as { error?: unknown }).error;
    if (typeof error === 'string' && (LWA_OUTCOMES as readonly string[]).includes(error)) return error;
  } catch {
    // not JSON: counted as other below
  }
  return res.status === 401 ? 'invalid_client' : 'other';
}
