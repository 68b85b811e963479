// The webhook outbox over SQL: claimed with a lease (SKIP LOCKED on PostgreSQL), so a crashed
// deliverer loses nothing and no event is delivered twice at once.
import { assertPositiveInteger, assertTime, assertWebhookEvent, boundedLimit, toJson } from '../shared.js';
import type { OutboxEvent, OutboxRecord, OutboxStore, WebhookEventInput } from '../store.js';
import type { SqlContext, SqlExecutor, SqlValue } from './driver.js';
import { num, numOrNull, strOrNull } from './values.js';

/** Enqueues events in the caller's transaction; `skipExisting` skips ids already queued. */
export async function insertEvents(
  tx: SqlExecutor,
  events: readonly WebhookEventInput[],
  skipExisting = false,
): Promise<void> {
  for (const e of events) {
    assertWebhookEvent(e);
    await tx.run(
      `INSERT INTO webhook_outbox (id, type, created_at, data, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)${
        skipExisting ? ' ON CONFLICT (id) DO NOTHING' : ''
      }`,
      [e.id, e.type, e.createdAt, toJson(e.data), e.createdAt],
    );
  }
}

/** The OutboxStore methods over the SQL driver. */
export function outboxMethods(ctx: SqlContext): OutboxStore {
  const { db, now } = ctx;

  return {
    async enqueueWebhookEvents(events, options) {
      await db.transaction((tx) => insertEvents(tx, events, options?.skipExisting === true));
    },

    async claimWebhookEvents(owner, { limit, leaseMs }) {
      boundedLimit(limit, 1, 1000);
      assertPositiveInteger(leaseMs, 'leaseMs');
      const at = now();
      return db.transaction(async (tx) => {
        const due = await tx.all(
          `SELECT seq FROM webhook_outbox
           WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?
             AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
           ORDER BY next_attempt_at, seq LIMIT ?${db.forUpdate}${db.skipLocked}`,
          [at, at, limit],
        );
        const claimed: OutboxEvent[] = [];
        for (const { seq } of due) {
          const [row] = await tx.all(
            `UPDATE webhook_outbox SET lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1
             WHERE seq = ? RETURNING id, type, created_at, data, attempts, last_error`,
            [owner, at + leaseMs, num(seq)],
          );
          if (row) {
            claimed.push({
              id: String(row.id),
              type: String(row.type),
              createdAt: num(row.created_at),
              data: JSON.parse(String(row.data)) as OutboxEvent['data'],
              attempts: num(row.attempts),
              lastError: strOrNull(row.last_error),
            });
          }
        }
        return claimed;
      });
    },

    async markWebhookDelivered(id, owner) {
      const changed = await db.run(
        `UPDATE webhook_outbox SET delivered_at = ?, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ? AND lease_owner = ? AND delivered_at IS NULL`,
        [now(), id, owner],
      );
      return changed === 1;
    },

    async markWebhookFailed(id, owner, failure) {
      const at = now();
      const common = 'last_error = ?, lease_owner = NULL, lease_expires_at = NULL';
      const where = 'WHERE id = ? AND lease_owner = ? AND delivered_at IS NULL';
      const changed =
        failure.nextAttemptAt === null
          ? await db.run(`UPDATE webhook_outbox SET ${common}, dead_at = ? ${where}`, [
              failure.error,
              at,
              id,
              owner,
            ])
          : await db.run(`UPDATE webhook_outbox SET ${common}, next_attempt_at = ? ${where}`, [
              failure.error,
              failure.nextAttemptAt,
              id,
              owner,
            ]);
      return changed === 1;
    },

    async webhookOutboxDepth() {
      const [row] = await db.all(
        `SELECT SUM(CASE WHEN delivered_at IS NULL AND dead_at IS NULL THEN 1 ELSE 0 END) AS pending,
                SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END) AS dead
         FROM webhook_outbox`,
      );
      return { pending: num(row?.pending ?? 0), dead: num(row?.dead ?? 0) };
    },

    async listWebhookEvents(query = {}) {
      const limit = boundedLimit(query.limit, 50, 500);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (query.state === 'pending') where.push('delivered_at IS NULL AND dead_at IS NULL');
      else if (query.state === 'delivered') where.push('delivered_at IS NOT NULL');
      else if (query.state === 'dead') where.push('dead_at IS NOT NULL AND delivered_at IS NULL');
      else if (query.state !== undefined) throw new TypeError('state must be pending, delivered or dead');
      if (query.before !== undefined) {
        assertTime(query.before, 'before');
        where.push('seq < ?');
        params.push(query.before);
      }
      const rows = await db.all(
        `SELECT seq, id, type, created_at, data, attempts, last_error, next_attempt_at, delivered_at, dead_at
         FROM webhook_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
        [...params, limit],
      );
      return rows.map((row): OutboxRecord => {
        const deliveredAt = numOrNull(row.delivered_at);
        const deadAt = numOrNull(row.dead_at);
        return {
          seq: num(row.seq),
          id: String(row.id),
          type: String(row.type),
          createdAt: num(row.created_at),
          data: JSON.parse(String(row.data)) as OutboxRecord['data'],
          state: deliveredAt !== null ? 'delivered' : deadAt !== null ? 'dead' : 'pending',
          attempts: num(row.attempts),
          lastError: strOrNull(row.last_error),
          nextAttemptAt: num(row.next_attempt_at),
          deliveredAt,
          deadAt,
        };
      });
    },

    async retryWebhookEvent(id) {
      const at = now();
      const changed = await db.run(
        `UPDATE webhook_outbox SET dead_at = NULL, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ?
         WHERE id = ? AND delivered_at IS NULL AND (lease_expires_at IS NULL OR lease_expires_at <= ?)`,
        [at, id, at],
      );
      return changed === 1;
    },

    async redeliverWebhookEvent(id) {
      const at = now();
      const changed = await db.run(
        `UPDATE webhook_outbox SET dead_at = NULL, delivered_at = NULL, attempts = 0, last_error = NULL,
           lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ?
         WHERE id = ? AND (dead_at IS NOT NULL OR delivered_at IS NOT NULL)
           AND (lease_expires_at IS NULL OR lease_expires_at <= ?)`,
        [at, id, at],
      );
      return changed === 1;
    },
  };
}
