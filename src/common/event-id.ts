/**
 * The one id scheme of webhook events: `evt_` and 32 lowercase hex characters. A fresh event gets
 * random ones; an event that must be enqueued once however often it is produced (a periodic sweep,
 * a redelivered notification) gets the SHA-256 of what makes it unique, so the outbox's unique id
 * deduplicates it. Lives in storage because the store's own token vault writes an event too.
 */
import { createHash, randomBytes } from 'node:crypto';

/**
 * A new random event id.
 *
 * @example
 * newEventId(); // 'evt_5f0c8e…' (32 hex)
 */
export function newEventId(): string {
  return `evt_${randomBytes(16).toString('hex')}`;
}

/**
 * The id of an event identified by `parts` (joined with `|`): the same parts, the same id.
 *
 * @example
 * derivedEventId('seller.reauthorization_due', 'A1B2', 'na', 1_700_000_000_000);
 */
export function derivedEventId(...parts: readonly (string | number)[]): string {
  return `evt_${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32)}`;
}

/** What {@link newEventId} and {@link derivedEventId} produce. */
export const EVENT_ID_RE = /^evt_[0-9a-f]{32}$/;

/**
 * What an operator may give as an event id (dashboard form, CLI argument) before the store is
 * asked: the one syntax check for both; an id of that shape that names no event is "not found".
 */
export const EVENT_ID_INPUT = /^[A-Za-z0-9_-]{1,100}$/;
