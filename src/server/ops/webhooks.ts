/**
 * Webhooks (the events themselves are built in `events.ts`): the signature (`Spapi-Auth-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
 * "t.body">`, with a second `v1=` made with the previous secret while one is being rotated out),
 * the delivery worker over the store's durable outbox, and the periodic sweep that
 * emits `seller.reauthorization_due`.
 *
 * Delivery is at least once until a 2xx and never again after it: the worker claims events with a
 * lease longer than its request timeout (a crashed or restarted worker's claim simply expires and
 * the event is claimed again), posts with a timeout and no redirects, and marks the event delivered
 * only while its claim is still held. Failures are retried with exponential backoff and full
 * jitter; after {@link MAX_ATTEMPTS} the event is given up (`dead`) and can be retried from the
 * admin dashboard.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OutboxEvent, Store, WebhookEventInput } from '../../storage/store.js';
import { sellerReauthorizationDueEvent } from '../domain/events.js';
import type { Logger } from '../http/log.js';
import type { ServiceMetrics } from './metrics.js';
import { REAUTHORIZE_AFTER_MS } from '../../core/lifetimes.js';

/** The header carrying the signature. */
export const SIGNATURE_HEADER = 'Spapi-Auth-Signature';
/** Attempts before an event is given up (about a day of retries with the default backoff). */
export const MAX_ATTEMPTS = 30;
/** `seller.reauthorization_due` fires this long before the 365-day mark. */
export const REAUTHORIZATION_DUE_BEFORE_MS = 30 * 86_400_000;
// The sweep reports sellers whose due moment passed within this window. It must stay shorter than
// the store's retention of delivered events (7 days), because the event id is what deduplicates.
const DUE_WINDOW_MS = 6 * 86_400_000;

/**
 * The exact JSON body delivered for an event: `{ id, type, created_at, data }`. The same bytes on
 * every attempt, since `created_at` is the stored creation time.
 *
 * @example
 * const body = webhookBody(event); // '{"id":"evt_…","type":"seller.authorized",…}'
 */
export function webhookBody(event: Pick<OutboxEvent, 'id' | 'type' | 'createdAt' | 'data'>): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    created_at: new Date(event.createdAt).toISOString(),
    data: event.data,
  });
}

/**
 * The `Spapi-Auth-Signature` header value for a body sent at `timestampSeconds`: one `v1=` per
 * secret, in the order given (during a rotation: the new secret first, then the previous one).
 *
 * @example
 * const header = signWebhook(secret, body, Math.floor(Date.now() / 1000)); // 't=…,v1=…'
 * signWebhook([next, previous], body, t); // 't=…,v1=…,v1=…'
 */
export function signWebhook(
  secret: string | readonly string[],
  body: string,
  timestampSeconds: number,
): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new TypeError('signWebhook needs at least one secret');
  const macs = secrets.map(
    (k) => `v1=${createHmac('sha256', k).update(`${timestampSeconds}.${body}`).digest('hex')}`,
  );
  return `t=${timestampSeconds},${macs.join(',')}`;
}

/**
 * Verifies a signature header against the raw body (what a receiver does; docs/webhooks.md shows
 * the same in a dozen lines). Accepts when any `v1=` of the header is the HMAC under any of the
 * given secrets (a receiver may hold the old and the new secret during a rotation); every
 * comparison is constant-time. Rejects timestamps more than `toleranceSeconds` (default 300) away.
 *
 * @example
 * if (!verifyWebhookSignature(secret, req.headers['spapi-auth-signature'], rawBody)) return res.status(400);
 */
export function verifyWebhookSignature(
  secret: string | readonly string[],
  header: string | undefined,
  body: string,
  opts: { toleranceSeconds?: number; now?: () => number } = {},
): boolean {
  if (typeof header !== 'string' || header.length > 4096) return false;
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const k = item.slice(0, eq).trim();
    parts.set(k, [...(parts.get(k) ?? []), item.slice(eq + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isSafeInteger(t)) return false;
  const nowS = Math.floor((opts.now ?? Date.now)() / 1000);
  if (Math.abs(nowS - t) > (opts.toleranceSeconds ?? 300)) return false;
  const given = (parts.get('v1') ?? []).map((v) => Buffer.from(v));
  let ok = false;
  for (const k of secrets) {
    if (typeof k !== 'string' || k === '') continue;
    const expected = Buffer.from(createHmac('sha256', k).update(`${t}.${body}`).digest('hex'));
    // Every pair is compared (no early exit), each in constant time.
    for (const got of given) {
      if (got.length === expected.length && timingSafeEqual(got, expected)) ok = true;
    }
  }
  return ok;
}

/**
 * Backoff before attempt `attempts + 1`: full jitter over `min(maxMs, baseMs · 2^(attempts-1))`,
 * at least one second.
 *
 * @example
 * retryDelayMs(1); // somewhere in 1 s … 5 s
 */
export function retryDelayMs(
  attempts: number,
  random: () => number = Math.random,
  baseMs = 5_000,
  maxMs = 3_600_000,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.max(1_000, Math.floor(random() * cap));
}

/** Options of {@link WebhookWorker}. */
export interface WebhookWorkerOptions {
  readonly store: Store;
  /** Target URL; without one the worker delivers nothing (events wait in the outbox). */
  readonly url: string | undefined;
  readonly secret: string | undefined;
  /** The secret being rotated out: while set, each delivery carries a second `v1=` made with it. */
  readonly previousSecret?: string | undefined;
  readonly log: Logger;
  readonly metrics?: Pick<ServiceMetrics, 'webhookDelivery'>;
  readonly fetch?: (req: Request) => Promise<Response>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** This worker's claim owner id (default random; unique per process). */
  readonly owner?: string;
  /** Poll interval (default 1 s). */
  readonly intervalMs?: number;
  /** Timeout of one delivery (default 10 s); the claim lasts six times as long. */
  readonly timeoutMs?: number;
  /** Events per poll (default 20). */
  readonly batch?: number;
  /** Attempts before giving up (default {@link MAX_ATTEMPTS}). */
  readonly maxAttempts?: number;
}

/**
 * Delivers the outbox. `start()` polls every `intervalMs`; `runOnce()` does one pass (tests).
 *
 * @example
 * const worker = new WebhookWorker({ store, url: config.webhookUrl, secret: config.webhookSecret, log });
 * worker.start();
 * await worker.stop();
 */
export class WebhookWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  private readonly owner: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WebhookWorkerOptions) {
    this.owner = opts.owner ?? `webhooks:${randomBytes(8).toString('hex')}`;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Whether a target is configured. */
  get enabled(): boolean {
    return this.opts.url !== undefined && this.opts.secret !== undefined;
  }

  /** The signing secrets: the current one, then the previous one while it is still configured. */
  private secrets(): string[] {
    const { secret, previousSecret } = this.opts;
    return previousSecret !== undefined && previousSecret !== secret ? [secret!, previousSecret] : [secret!];
  }

  /** Starts polling (no-op without a target). */
  start(): void {
    if (!this.enabled || this.timer !== undefined) return;
    this.stopped = false;
    const tick = (): void => {
      if (this.stopped) return;
      void this.runOnce()
        .catch(() => 0)
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1_000).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** Stops polling and waits for the pass in progress (its deliveries finish or time out). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => 0);
  }

  /** One pass: claims due events and delivers them; resolves to how many were delivered. */
  runOnce(): Promise<number> {
    if (!this.enabled) return Promise.resolve(0);
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    const { store } = this.opts;
    const events = await store.claimWebhookEvents(this.owner, {
      limit: this.opts.batch ?? 20,
      leaseMs: this.timeoutMs * 6,
    });
    const results = await Promise.all(events.map((e) => this.deliver(e)));
    return results.filter(Boolean).length;
  }

  private async deliver(event: OutboxEvent): Promise<boolean> {
    const { store, log, metrics } = this.opts;
    const body = webhookBody(event);
    const t = Math.floor(this.now() / 1000);
    let error: string;
    try {
      const res = await (this.opts.fetch ?? ((r: Request) => fetch(r)))(
        new Request(this.opts.url!, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'spapi-auth-webhooks/1',
            'spapi-auth-event-id': event.id,
            [SIGNATURE_HEADER.toLowerCase()]: signWebhook(this.secrets(), body, t),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
        }),
      );
      // Nothing of the receiver's answer is kept or logged.
      await res.body?.cancel().catch(() => {});
      error = res.status >= 200 && res.status < 300 ? '' : `http_${res.status}`;
    } catch (err) {
      error = (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'network_error';
    }
    if (error === '') {
      // Acknowledged. Only a store outage right now could make it go out again (once the claim
      // expires); receivers can deduplicate on the event id, which never changes.
      const marked = await store.markWebhookDelivered(event.id, this.owner).catch(() => false);
      metrics?.webhookDelivery('delivered');
      if (!marked) log.warn('webhook delivered but not recorded', { kind: event.type });
      return true;
    }
    const giveUp = event.attempts >= (this.opts.maxAttempts ?? MAX_ATTEMPTS);
    const nextAttemptAt = giveUp ? null : this.now() + retryDelayMs(event.attempts, this.opts.random);
    await store.markWebhookFailed(event.id, this.owner, { error, nextAttemptAt }).catch(() => false);
    metrics?.webhookDelivery(giveUp ? 'dead' : 'failed');
    log.warn(giveUp ? 'webhook given up' : 'webhook delivery failed', {
      kind: event.type,
      code: error,
      count: event.attempts,
    });
    return false;
  }
}

/**
 * Enqueues `seller.reauthorization_due` for every active seller whose 365-day mark is less than 30
 * days away and whose due moment passed within the last six days. The event id is derived from
 * (seller, region, authorized_at), so repeated sweeps and several instances enqueue it once; a
 * re-authorization resets the clock and yields a new id. Pages through active sellers 500 at a time.
 *
 * @example
 * const n = await sweepReauthorizationDue(store, Date.now()); // events enqueued
 */
export async function sweepReauthorizationDue(
  store: Pick<Store, 'listSellers' | 'enqueueWebhookEvents'>,
  now: number,
): Promise<number> {
  let cursor: string | null = null;
  let enqueued = 0;
  do {
    const page = await store.listSellers({ status: 'active', cursor, limit: 500 });
    const events: WebhookEventInput[] = [];
    for (const s of page.items) {
      const reauthorizeBy = s.authorizedAt + REAUTHORIZE_AFTER_MS;
      const dueAt = reauthorizeBy - REAUTHORIZATION_DUE_BEFORE_MS;
      if (dueAt > now || now - dueAt > DUE_WINDOW_MS || reauthorizeBy <= now) continue;
      events.push(sellerReauthorizationDueEvent(s, reauthorizeBy, now));
    }
    if (events.length > 0) {
      await store.enqueueWebhookEvents(events, { skipExisting: true });
      enqueued += events.length;
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return enqueued;
}

/**
 * Runs {@link sweepReauthorizationDue} every `intervalMs` (default 1 h), first after `firstDelayMs`.
 *
 * @example
 * const stop = startReauthorizationSweep(store, log);
 * stop();
 */
export function startReauthorizationSweep(
  store: Pick<Store, 'listSellers' | 'enqueueWebhookEvents'>,
  log: Logger,
  opts: { intervalMs?: number; firstDelayMs?: number; now?: () => number } = {},
): () => void {
  const now = opts.now ?? Date.now;
  let timer: NodeJS.Timeout;
  let stopped = false;
  const run = (): void => {
    sweepReauthorizationDue(store, now())
      .then((n) => {
        if (n > 0) log.info('reauthorization due sweep', { count: n });
      })
      .catch((err: unknown) =>
        log.warn('reauthorization due sweep failed', { error_name: (err as Error)?.name }),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(run, opts.intervalMs ?? 3_600_000).unref();
      });
  };
  timer = setTimeout(run, opts.firstDelayMs ?? 30_000).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
