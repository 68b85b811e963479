/**
 * The client secret rotates itself (Amazon requires a new one every 180 days). Each deadline is a
 * row of `secret_rotations`, opened by Amazon's `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` notice
 * ({@link acceptNotification}) or, for a secret installed from a notification, by its known expiry.
 * On the instance that consumes the notification queue, {@link SecretRotationAgent.tick} moves it:
 *
 *   due ──(deadline within SPAPI_AUTH_ROTATE_BEFORE_DAYS)──▶ requested ──(new secret on the queue)──▶
 *   installed ──(the old secret's expiry passes)──▶ retired
 *
 * and to `failed` (with a stable code, a retry time, a metric and a webhook) when Amazon refuses
 * (`rotation_not_enrolled`, `rotation_refused`), cannot be reached (`rotation_failed`) or no new
 * secret arrives in time (`rotation_timeout`). Every move is a compare-and-set in the store, so two
 * instances or a restart never ask Amazon twice for one attempt; the secret in use is never
 * touched by a failure. A crash after the request leaves the row `requested`: the agent waits for
 * the secret (it may be on its way) and times out rather than asking again at once.
 */
import type { SecretRotationRecord, Store } from '../../storage/store.js';
import type { Logger } from '../http/log.js';
import {
  clientSecretExpiringEvent,
  clientSecretRetiredEvent,
  clientSecretRotationFailedEvent,
  clientSecretRotationRequestedEvent,
} from '../domain/events.js';
import type { ServiceMetrics } from './metrics.js';
import type { ClientSecretRing } from './rotation.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The stable codes of a failed unattended rotation (docs/webhooks.md). */
export type RotationFailureCode =
  'rotation_not_enrolled' | 'rotation_refused' | 'rotation_failed' | 'rotation_timeout' | 'queue_unreachable';

/** How long a failed attempt waits before the next: an outage passes sooner than a missing set-up. */
export function retryDelayMs(code: string): number {
  return code === 'rotation_failed' ? HOUR_MS : DAY_MS;
}

/** What {@link SecretRotationAgent} needs. */
export interface SecretRotationAgentDeps {
  readonly store: Pick<
    Store,
    | 'openSecretRotation'
    | 'listSecretRotations'
    | 'transitionSecretRotation'
    | 'enqueueWebhookEvents'
    | 'appendAudit'
  >;
  readonly ring: Pick<ClientSecretRing, 'clientId' | 'describe' | 'reload'>;
  /** Asks Amazon for a new secret (`requestClientSecretRotation`); throws an error with a `code`. */
  readonly requestRotation: () => Promise<void>;
  /** This instance's id, recorded as the requester. */
  readonly owner: string;
  /** Rotate when the deadline is this close (ms). */
  readonly rotateBeforeMs: number;
  /** Give up waiting for the new secret after this long (ms). */
  readonly waitMs: number;
  readonly log: Logger;
  readonly metrics?: Pick<ServiceMetrics, 'rotationFailures'>;
  readonly now: () => number;
}

/**
 * The unattended rotation's state machine (see the module comment). `tick()` is idempotent and
 * cheap (one listing of a handful of rows); the notification consumer calls it on every poll.
 *
 * @example
 * const agent = new SecretRotationAgent({ store, ring, requestRotation, owner, rotateBeforeMs, waitMs, log, now });
 * await agent.tick();
 */
export class SecretRotationAgent {
  constructor(private readonly deps: SecretRotationAgentDeps) {}

  /** Opens, requests, times out and retires what is due now. */
  async tick(): Promise<void> {
    const { store, ring, rotateBeforeMs } = this.deps;
    const now = this.deps.now();
    let rotations = await store.listSecretRotations(ring.clientId, 20);
    const head = ring.describe().expiries[0] ?? null;
    // The stored secret's own expiry is a deadline too, expiry notice or not.
    if (head !== null && head - now <= rotateBeforeMs && !rotations.some((r) => r.deadlineAt === head)) {
      await this.openByAge(head, now);
      rotations = await store.listSecretRotations(ring.clientId, 20);
    }
    for (const r of rotations) {
      if (r.state === 'requested' && now - (r.requestedAt ?? 0) >= this.deps.waitMs) {
        await this.fail(r, 'rotation_timeout', now);
      }
      if (r.state === 'installed' && r.oldExpiresAt !== null && r.oldExpiresAt <= now) {
        await this.retire(r, now);
      }
    }
    rotations = await store.listSecretRotations(ring.clientId, 20);
    if (rotations.some((r) => r.state === 'requested')) return; // one attempt in flight at a time
    // A deadline of a secret no longer in use (the one in use lives well past it) is moot.
    const live = (r: SecretRotationRecord): boolean => head === null || head <= r.deadlineAt + DAY_MS;
    const next = rotations
      .filter(
        (r) =>
          (r.state === 'due' || (r.state === 'failed' && (r.retryAt ?? 0) <= now)) &&
          live(r) &&
          r.deadlineAt - now <= rotateBeforeMs,
      )
      .sort((a, b) => a.deadlineAt - b.deadlineAt)[0];
    if (next !== undefined) await this.request(next, now);
  }

  /**
   * The queue could not be read (called once per outage): loud (log, metric, audit, webhook), and
   * nothing else changes — the secret in use stays in use.
   */
  async queueUnreachable(outageStartedAt: number, errorName: string): Promise<void> {
    const { store, ring } = this.deps;
    const now = this.deps.now();
    this.deps.metrics?.rotationFailures.inc({ code: 'queue_unreachable' });
    this.deps.log.error('the notification queue cannot be read; the current client secret stays in use', {
      code: 'queue_unreachable',
      error_name: errorName,
    });
    const open = (await store.listSecretRotations(ring.clientId, 20)).find((r) => r.state !== 'retired');
    await store.enqueueWebhookEvents(
      [
        clientSecretRotationFailedEvent(
          ring.clientId,
          { code: 'queue_unreachable', deadlineAt: open?.deadlineAt ?? null, retryAt: null },
          now,
          `queue_unreachable|${outageStartedAt}`,
        ),
      ],
      { skipExisting: true },
    );
    await store.appendAudit([
      { action: 'client_secret.rotation_failed', actor: 'system', outcome: 'queue_unreachable', at: now },
    ]);
  }

  private async openByAge(deadlineAt: number, now: number): Promise<void> {
    const { store, ring } = this.deps;
    await store.openSecretRotation(
      { clientId: ring.clientId, deadlineAt, source: 'age' },
      {
        events: [
          clientSecretExpiringEvent(ring.clientId, deadlineAt, 'SECRET_AGE', now, `age|${deadlineAt}`),
        ],
        audit: [
          {
            action: 'client_secret.expiring',
            actor: 'system',
            outcome: 'ok',
            at: now,
            details: { reason: 'SECRET_AGE', expires_at: new Date(deadlineAt).toISOString() },
          },
        ],
      },
    );
  }

  private async request(r: SecretRotationRecord, now: number): Promise<void> {
    const { store, ring, owner, log } = this.deps;
    const attempt = r.attempts + 1;
    const claimed = await store.transitionSecretRotation(
      r.id,
      [r.state],
      { state: 'requested', owner, requestedAt: now, countAttempt: true, lastErrorCode: null, retryAt: null },
      {
        readyBy: now,
        events: [clientSecretRotationRequestedEvent(ring.clientId, { ...r, attempts: attempt }, now)],
        audit: [
          {
            action: 'client_secret.rotation_requested',
            actor: 'system',
            outcome: 'ok',
            at: now,
            details: { rotation_id: r.id, attempt, deadline: new Date(r.deadlineAt).toISOString() },
          },
        ],
      },
    );
    if (claimed === null) return; // another instance moved it first
    log.info('client secret rotation requested', { count: attempt });
    try {
      await this.deps.requestRotation();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      await this.fail(
        claimed,
        code === 'rotation_not_enrolled' || code === 'rotation_refused' ? code : 'rotation_failed',
        this.deps.now(),
      );
    }
  }

  private async fail(r: SecretRotationRecord, code: RotationFailureCode, now: number): Promise<void> {
    const { store, ring } = this.deps;
    const retryAt = now + retryDelayMs(code);
    const failed = await store.transitionSecretRotation(
      r.id,
      ['requested'],
      { state: 'failed', lastErrorCode: code, retryAt },
      {
        events: [
          clientSecretRotationFailedEvent(
            ring.clientId,
            { code, deadlineAt: r.deadlineAt, retryAt },
            now,
            `${r.id}|${r.attempts}|${code}`,
          ),
        ],
        audit: [
          {
            action: 'client_secret.rotation_failed',
            actor: 'system',
            outcome: code,
            at: now,
            details: { rotation_id: r.id, attempt: r.attempts, retry_at: new Date(retryAt).toISOString() },
          },
        ],
      },
    );
    if (failed === null) return;
    this.deps.metrics?.rotationFailures.inc({ code });
    this.deps.log.error('client secret rotation failed; the current secret stays in use', { code });
  }

  private async retire(r: SecretRotationRecord, now: number): Promise<void> {
    const { store, ring } = this.deps;
    const retired = await store.transitionSecretRotation(
      r.id,
      ['installed'],
      { state: 'retired' },
      {
        events: [clientSecretRetiredEvent(ring.clientId, r, now)],
        audit: [
          {
            action: 'client_secret.retired',
            actor: 'system',
            outcome: 'ok',
            at: now,
            details: { rotation_id: r.id },
          },
        ],
      },
    );
    if (retired !== null) await ring.reload();
  }
}

/** Where the latest rotation stands, for `doctor` and the dashboard (never a secret). */
export interface RotationStatus {
  /** The latest rotation, or null when no deadline is known yet. */
  readonly latest: SecretRotationRecord | null;
  /**
   * The next deadline: the latest rotation's own while it is open, else the expiry of the secret
   * that met it (or of the secret in use, when known); null when unknown.
   */
  readonly nextDeadlineAt: number | null;
}

/**
 * Summarises the rotations of a client id (latest deadline first).
 *
 * @example
 * const { latest, nextDeadlineAt } = rotationStatus(await store.listSecretRotations(clientId, 5), ring.describe().expiries[0]);
 */
export function rotationStatus(
  rotations: readonly SecretRotationRecord[],
  secretInUseExpiresAt: number | null = null,
): RotationStatus {
  const latest = rotations[0] ?? null;
  const closed = latest !== null && (latest.state === 'installed' || latest.state === 'retired');
  const nextDeadlineAt =
    latest === null
      ? secretInUseExpiresAt
      : closed
        ? (latest.newExpiresAt ?? secretInUseExpiresAt)
        : latest.deadlineAt;
  return { latest, nextDeadlineAt };
}
