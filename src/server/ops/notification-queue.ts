/**
 * The built-in consumer of the app's notification queue (`SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL`):
 * the SQS queue Amazon delivers `APPLICATION_OAUTH_CLIENT_NEW_SECRET` and
 * `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` to. Exactly one instance of a cluster consumes at a time
 * (the `notification_queue` lease in the store, renewed before every poll and every message, taken
 * over by another instance once it lapses). Each message goes through the one apply function
 * (`acceptNotification`, shared with `POST /v1/notifications` and `secret accept`) and is deleted
 * only after that returned — what it says is durably applied; applying it again changes nothing.
 * A message that cannot be applied (malformed, another type, another client or application id, a
 * secret LWA refuses, or still failing after {@link MAX_RECEIVES} deliveries) is kept aside in the
 * store with its reason — an audit record, a `notification.set_aside` webhook, the dashboard and
 * `/metrics` show it — and then deleted from the queue, so it is neither lost nor retried forever.
 *
 * `@aws-sdk/client-sqs` is loaded only when a queue is configured ({@link openSqsQueue}); AWS
 * credentials and region come from the SDK's default chain (environment, shared files, container
 * or instance role), the region from the queue URL when it names one.
 */
import type { Store } from '../../storage/store.js';
import type { Logger } from '../http/log.js';
import { notificationSetAsideEvent } from '../domain/events.js';
import type { ServiceMetrics } from './metrics.js';
import { NEW_SECRET, NotificationError, SECRET_EXPIRY, type AcceptResult } from './rotation.js';
import type { SecretRotationAgent } from './secret-rotation.js';

/** The store lease that makes one instance the consumer. */
export const QUEUE_LEASE = 'notification_queue';
/** Deliveries of one message before it is kept aside instead of retried again. */
export const MAX_RECEIVES = 5;

/** One received message. */
export interface QueueMessage {
  readonly id: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** How many times the queue has delivered it (1 the first time). */
  readonly receiveCount: number;
}

/** The slice of SQS the consumer uses (an injected fake in tests, {@link openSqsQueue} in service). */
export interface NotificationQueue {
  /** Long poll: waits up to `waitSeconds` for messages, hides those returned for `visibilitySeconds`. */
  receive(opts: {
    readonly maxMessages: number;
    readonly waitSeconds: number;
    readonly visibilitySeconds: number;
    readonly signal?: AbortSignal;
  }): Promise<QueueMessage[]>;
  delete(receiptHandle: string): Promise<void>;
  /** Hides a received message for `seconds` more (a retry later). */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>;
  /** Approximate counts (`GetQueueAttributes`), for `doctor`. */
  attributes(): Promise<{ readonly visible: number; readonly inFlight: number }>;
  close(): void;
}

/**
 * The AWS region named by an SQS queue URL (`https://sqs.<region>.amazonaws.com/…`, or the legacy
 * `<region>.queue.amazonaws.com`), or undefined (then the SDK's default chain says).
 *
 * @example
 * regionOfQueueUrl('https://sqs.eu-west-1.amazonaws.com/123456789012/spapi'); // 'eu-west-1'
 */
export function regionOfQueueUrl(queueUrl: string): string | undefined {
  const host = new URL(queueUrl).hostname;
  return (
    /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ??
    /^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$/.exec(host)?.[1]
  );
}

/**
 * The queue over `@aws-sdk/client-sqs`, imported here and only here (a service without a queue
 * never loads it). The endpoint is the queue URL's origin, so an emulator or a VPC endpoint works
 * as Amazon's own.
 *
 * @example
 * const queue = await openSqsQueue('https://sqs.us-east-1.amazonaws.com/123456789012/spapi-notifications');
 */
export async function openSqsQueue(queueUrl: string): Promise<NotificationQueue> {
  const sqs = await import('@aws-sdk/client-sqs');
  const region = regionOfQueueUrl(queueUrl);
  const client = new sqs.SQSClient({
    endpoint: new URL(queueUrl).origin,
    ...(region === undefined ? {} : { region }),
    maxAttempts: 2,
  });
  const QueueUrl = queueUrl;
  return {
    async receive({ maxMessages, waitSeconds, visibilitySeconds, signal }) {
      const out = await client.send(
        new sqs.ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: maxMessages,
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilitySeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        signal === undefined ? {} : { abortSignal: signal },
      );
      return (out.Messages ?? []).flatMap((m) =>
        m.ReceiptHandle === undefined
          ? []
          : [
              {
                id: m.MessageId ?? m.ReceiptHandle.slice(0, 64),
                receiptHandle: m.ReceiptHandle,
                body: m.Body ?? '',
                receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1) || 1,
              },
            ],
      );
    },
    async delete(receiptHandle) {
      await client.send(new sqs.DeleteMessageCommand({ QueueUrl, ReceiptHandle: receiptHandle }));
    },
    async changeVisibility(receiptHandle, seconds) {
      await client.send(
        new sqs.ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    },
    async attributes() {
      const out = await client.send(
        new sqs.GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    },
    close() {
      client.destroy();
    },
  };
}

/** Timings of the consumer (defaults suit production; tests shorten them). */
export interface ConsumerTimings {
  /** Lease length; renewed before every poll and message (default 30 s). */
  readonly leaseMs: number;
  /** Long-poll wait per receive, below the lease (default 10 s). */
  readonly waitSeconds: number;
  /** How long a received message stays hidden from other consumers (default 60 s). */
  readonly visibilitySeconds: number;
  /** How often an instance without the lease tries to take it (default 10 s). */
  readonly standbyMs: number;
}

const DEFAULT_TIMINGS: ConsumerTimings = {
  leaseMs: 30_000,
  waitSeconds: 10,
  visibilitySeconds: 60,
  standbyMs: 10_000,
};

/** What {@link NotificationQueueConsumer} needs. */
export interface NotificationQueueConsumerDeps {
  readonly store: Pick<Store, 'acquireClusterLease' | 'releaseClusterLease' | 'setNotificationAside'>;
  /** Opens the queue (lazily, on the first poll of the lease holder). */
  readonly openQueue: () => Promise<NotificationQueue>;
  /** The one apply function (`acceptNotification` with the service's dependencies). */
  readonly apply: (body: string) => Promise<AcceptResult>;
  /** The rotation state machine, moved on every poll of the lease holder. */
  readonly rotation?: Pick<SecretRotationAgent, 'tick' | 'queueUnreachable'>;
  /** This instance's lease owner id. */
  readonly owner: string;
  readonly log: Logger;
  readonly metrics?: Pick<ServiceMetrics, 'notifications' | 'rotationFailures'>;
  readonly now: () => number;
  readonly timings?: Partial<ConsumerTimings>;
}

/** Codes of a message that will never apply, however often it is delivered. */
const PERMANENT = new Set([
  'invalid_notification',
  'unsupported_notification',
  'client_id_mismatch',
  'application_id_mismatch',
  'client_secret_refused',
]);

function notificationFields(body: string): { type: string | null; id: string | null } {
  try {
    let n = JSON.parse(body) as Record<string, unknown>;
    if (typeof n?.Message === 'string' && !('notificationType' in n)) n = JSON.parse(n.Message);
    const meta = n?.notificationMetadata as Record<string, unknown> | undefined;
    const type = typeof n?.notificationType === 'string' ? n.notificationType.slice(0, 100) : null;
    const id = typeof meta?.notificationId === 'string' ? meta.notificationId.slice(0, 200) : null;
    return { type, id };
  } catch {
    return { type: null, id: null };
  }
}

/**
 * The consumer (see the module comment). `start()` runs its loop until `stop()`; `poll()` is one
 * turn of it (take or renew the lease, move the rotation, one long poll, handle what came).
 *
 * @example
 * const consumer = new NotificationQueueConsumer({ store, openQueue: () => openSqsQueue(url), apply, owner, log, now: Date.now });
 * consumer.start();
 * await consumer.stop();
 */
export class NotificationQueueConsumer {
  private readonly timings: ConsumerTimings;
  private queue: Promise<NotificationQueue> | undefined;
  private held = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private outageStartedAt: number | null = null;

  constructor(private readonly deps: NotificationQueueConsumerDeps) {
    this.timings = { ...DEFAULT_TIMINGS, ...deps.timings };
  }

  /** Whether this instance held the lease at its last try. */
  get holdsLease(): boolean {
    return this.held;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops polling, lets the message in hand finish, gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.running;
    if (this.held) await this.deps.store.releaseClusterLease(QUEUE_LEASE, this.deps.owner).catch(() => false);
    this.held = false;
    if (this.queue !== undefined) (await this.queue.catch(() => undefined))?.close();
  }

  /**
   * One turn; returns how long to pause before the next (0: poll again at once).
   */
  async poll(): Promise<number> {
    if (!(await this.renew())) return this.timings.standbyMs;
    await this.deps.rotation
      ?.tick()
      .catch((err: unknown) =>
        this.deps.log.warn('client secret rotation check failed', { error_name: (err as Error)?.name }),
      );
    let queue: NotificationQueue;
    let messages: QueueMessage[];
    try {
      queue = await (this.queue ??= this.deps.openQueue());
      messages = await queue.receive({
        maxMessages: 10,
        waitSeconds: this.timings.waitSeconds,
        visibilitySeconds: this.timings.visibilitySeconds,
        signal: this.abort.signal,
      });
    } catch (err) {
      if (this.stopped) return 0;
      // A queue that failed to open is opened again next turn.
      if (
        this.queue !== undefined &&
        (await this.queue.then(
          () => false,
          () => true,
        ))
      )
        this.queue = undefined;
      const first = this.outageStartedAt === null;
      this.outageStartedAt ??= this.deps.now();
      if (first) {
        await this.deps.rotation
          ?.queueUnreachable(this.outageStartedAt, (err as Error)?.name ?? 'Error')
          .catch(() => {});
      } else {
        this.deps.metrics?.rotationFailures.inc({ code: 'queue_unreachable' });
      }
      return Math.min(this.timings.standbyMs * 6, this.timings.leaseMs / 2);
    }
    if (this.outageStartedAt !== null) {
      this.outageStartedAt = null;
      this.deps.log.info('the notification queue is reachable again', { code: 'queue_reachable' });
    }
    for (const m of messages) {
      // Another instance may have taken over while this one was paused: leave the rest to it.
      if (this.stopped || !(await this.renew())) break;
      await this.handle(queue, m);
    }
    return 0;
  }

  /** Applies one message; deletes it once applied or kept aside; otherwise leaves it for a retry. */
  async handle(queue: NotificationQueue, m: QueueMessage): Promise<void> {
    const { log, metrics } = this.deps;
    let result: AcceptResult | undefined;
    let failure: { code: string; message: string } | undefined;
    try {
      result = await this.deps.apply(m.body);
    } catch (err) {
      failure =
        err instanceof NotificationError
          ? { code: err.code, message: err.message }
          : {
              code: 'apply_failed',
              message: 'The notification could not be applied (the store or LWA failed).',
            };
      if (!PERMANENT.has(failure.code) && m.receiveCount < MAX_RECEIVES) {
        // Transient (LWA or the store unavailable): back off, the queue delivers it again.
        metrics?.notifications.inc({ outcome: 'retried' });
        log.warn('notification not applied yet; it will be delivered again', {
          code: failure.code,
          count: m.receiveCount,
        });
        const seconds = Math.min(900, 30 * 2 ** (m.receiveCount - 1));
        await queue.changeVisibility(m.receiptHandle, seconds).catch(() => {});
        return;
      }
      if (!PERMANENT.has(failure.code)) {
        failure = {
          code: failure.code,
          message: `${failure.message} Still failing after ${m.receiveCount} deliveries.`,
        };
      }
    }
    if (result !== undefined) {
      metrics?.notifications.inc({ outcome: result.outcome === 'accepted' ? 'applied' : 'duplicate' });
      log.info('notification applied', { kind: result.notificationType, code: result.outcome });
    } else if (failure !== undefined) {
      await this.setAside(m, failure);
    }
    try {
      await queue.delete(m.receiptHandle);
    } catch (err) {
      // Delivered again later and applied again: idempotent, nothing changes.
      log.warn('notification applied but not deleted from the queue', { error_name: (err as Error)?.name });
    }
  }

  private async setAside(m: QueueMessage, failure: { code: string; message: string }): Promise<void> {
    const { store, log, metrics, now } = this.deps;
    const { type, id } = notificationFields(m.body);
    const at = now();
    await store.setNotificationAside({
      id: m.id,
      notificationId: id,
      notificationType: type,
      code: failure.code,
      reason: failure.message,
      body: m.body,
      events: [
        notificationSetAsideEvent(
          { messageId: m.id, notificationType: type, notificationId: id, code: failure.code },
          at,
        ),
      ],
      audit: [
        {
          action: 'notification.set_aside',
          actor: 'system',
          outcome: failure.code,
          at,
          details: { message_id: m.id.slice(0, 200), notification_type: type, notification_id: id },
        },
      ],
    });
    metrics?.notifications.inc({ outcome: 'set_aside' });
    if (type === NEW_SECRET || type === SECRET_EXPIRY) metrics?.rotationFailures.inc({ code: failure.code });
    log.error('notification kept aside: it cannot be applied', {
      code: failure.code,
      kind: type ?? undefined,
    });
  }

  private async renew(): Promise<boolean> {
    try {
      const lease = await this.deps.store.acquireClusterLease(
        QUEUE_LEASE,
        this.deps.owner,
        this.timings.leaseMs,
      );
      if (lease !== null && !this.held)
        this.deps.log.info('consuming the notification queue', { code: 'lease_taken' });
      this.held = lease !== null;
    } catch (err) {
      this.held = false;
      this.deps.log.warn('notification queue lease not renewed', { error_name: (err as Error)?.name });
    }
    return this.held;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let pause: number;
      try {
        pause = await this.poll();
      } catch (err) {
        this.deps.log.warn('notification queue poll failed', { error_name: (err as Error)?.name });
        pause = this.timings.standbyMs;
      }
      if (pause > 0 && !this.stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }
}
