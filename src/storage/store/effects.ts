// The side effects a change writes in its own transaction: webhook events and audit records.
import type { AuditInput } from './audit.js';
import type { WebhookEventInput } from './outbox.js';

/**
 * The change-reporting side effects written in the same transaction as a change.
 *
 * @example
 * ```ts
 * await store.deleteSeller(key, { events: [deletedEvent], audit: [{ action: 'seller.deleted', actor: 'admin' }] });
 * ```
 */
export interface ChangeEffects {
  readonly events?: readonly WebhookEventInput[];
  readonly audit?: readonly AuditInput[];
}
