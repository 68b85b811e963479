// The outbox concern: webhook events written with the change they report, then claimed, delivered,
// retried or given up.
/**
 * A webhook event to write to the outbox; `data` is the event's JSON `data` member (never a secret).
 *
 * @example
 * ```ts
 * const event = { id: newEventId(), type: 'seller.deleted', createdAt: Date.now(), data: { selling_partner_id: id } };
 * ```
 */
export interface WebhookEventInput {
  /** Unique id, also the `id` of the delivered JSON. */
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A webhook event claimed for delivery. */
export interface OutboxEvent {
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
  /** Delivery attempts so far, including the current one. */
  readonly attempts: number;
  readonly lastError: string | null;
}

/** Where an outbox event stands. */
export type OutboxState = 'pending' | 'delivered' | 'dead';

/** One outbox row as the admin page lists it (the event's data included; it never holds a secret). */
export interface OutboxRecord {
  /** Insertion order; the paging cursor of {@link OutboxStore.listWebhookEvents}. */
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
  readonly state: OutboxState;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number;
  readonly deliveredAt: number | null;
  readonly deadAt: number | null;
}

/** Outbox counts for metrics. */
export interface OutboxDepth {
  /** Waiting for (another) delivery attempt. */
  readonly pending: number;
  /** Given up after too many failures. */
  readonly dead: number;
}

/** The webhook outbox. */
export interface OutboxStore {
  /**
   * Enqueues events on their own (events of a change go through that change's `effects`). With
   * `skipExisting`, an event whose id is already in the outbox is skipped instead of refused (for
   * sweeps that derive the id from what they report, so a repeated sweep enqueues nothing new).
   */
  enqueueWebhookEvents(
    events: readonly WebhookEventInput[],
    options?: { readonly skipExisting?: boolean },
  ): Promise<void>;
  /**
   * Claims up to `limit` due events for `owner` for `leaseMs` (an event whose lease expired is
   * claimable again, so a crashed deliverer loses nothing); oldest first.
   */
  claimWebhookEvents(owner: string, options: { limit: number; leaseMs: number }): Promise<OutboxEvent[]>;
  /** Marks a claimed event delivered; false when the claim was lost. */
  markWebhookDelivered(id: string, owner: string): Promise<boolean>;
  /** Records a failed attempt: retry at `nextAttemptAt`, or give up when it is null. */
  markWebhookFailed(
    id: string,
    owner: string,
    failure: { error: string; nextAttemptAt: number | null },
  ): Promise<boolean>;
  webhookOutboxDepth(): Promise<OutboxDepth>;
  /** Outbox rows, newest first; `before` is an {@link OutboxRecord.seq} for paging; limit 1…500, default 50. */
  listWebhookEvents(query?: {
    readonly state?: OutboxState;
    readonly before?: number;
    readonly limit?: number;
  }): Promise<OutboxRecord[]>;
  /**
   * Makes an undelivered event (pending or given up) due now again, clearing its dead mark; false
   * when no such event, it was delivered, or a deliverer holds an unexpired claim on it (so a retry
   * can never cause a second delivery).
   */
  retryWebhookEvent(id: string): Promise<boolean>;
  /**
   * Queues a given-up (`dead`) or delivered event for delivery again, with the same id and bytes,
   * due now and with its attempt count reset (a full retry schedule, where
   * {@link retryWebhookEvent} grants a given-up event a single attempt); false when no such event,
   * it is still pending, or a deliverer holds an unexpired claim on it.
   */
  redeliverWebhookEvent(id: string): Promise<boolean>;
}
