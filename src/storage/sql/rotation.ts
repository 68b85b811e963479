// The cluster lease, the notifications kept aside and the client-secret rotations over SQL. Every
// change of ownership or state is one conditional statement, so two instances never both win.
import { createHash } from 'node:crypto';
import { assertTime, boundedLimit } from '../shared.js';
import type {
  ClusterLease,
  NotificationAsideRecord,
  RotationStore,
  SecretRotationRecord,
  SecretRotationState,
} from '../store.js';
import type { Row, SqlContext, SqlValue } from './driver.js';
import { writeEffects } from './effects.js';
import { num, numOrNull, strOrNull } from './values.js';

const NAME = /^[a-z0-9_.:-]{1,64}$/;
const STATES: readonly SecretRotationState[] = ['due', 'requested', 'installed', 'retired', 'failed'];

function assertName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError('invalid lease name');
}

function assertOwner(owner: unknown): asserts owner is string {
  if (typeof owner !== 'string' || owner === '' || owner.length > 200) throw new TypeError('invalid owner');
}

const toLease = (row: Row): ClusterLease => ({
  name: String(row.name),
  owner: String(row.owner),
  expiresAt: num(row.expires_at),
  acquiredAt: num(row.acquired_at),
});

const toRotation = (row: Row): SecretRotationRecord => ({
  id: String(row.id),
  clientId: String(row.client_id),
  deadlineAt: num(row.deadline_at),
  source: row.source === 'age' ? 'age' : 'notice',
  state: row.state as SecretRotationState,
  attempts: num(row.attempts),
  owner: strOrNull(row.owner),
  requestedAt: numOrNull(row.requested_at),
  installedAt: numOrNull(row.installed_at),
  oldExpiresAt: numOrNull(row.old_expires_at),
  newExpiresAt: numOrNull(row.new_expires_at),
  lastErrorCode: strOrNull(row.last_error_code),
  retryAt: numOrNull(row.retry_at),
  createdAt: num(row.created_at),
  updatedAt: num(row.updated_at),
});

/** The RotationStore methods over the SQL driver. */
export function rotationMethods(ctx: SqlContext): RotationStore {
  const { db, now, sealer } = ctx;

  return {
    async acquireClusterLease(name, owner, ttlMs) {
      assertName(name);
      assertOwner(owner);
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new TypeError('ttlMs must be a positive integer');
      const at = now();
      // Taken when free, lapsed or already ours; the first take's time survives renewals.
      const rows = await db.all(
        `INSERT INTO cluster_leases (name, owner, expires_at, acquired_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
           acquired_at = CASE WHEN cluster_leases.owner = excluded.owner AND cluster_leases.expires_at > ?
             THEN cluster_leases.acquired_at ELSE excluded.acquired_at END
         WHERE cluster_leases.owner = excluded.owner OR cluster_leases.expires_at <= ?
         RETURNING name, owner, expires_at, acquired_at`,
        [name, owner, at + ttlMs, at, at, at],
      );
      return rows[0] ? toLease(rows[0]) : null;
    },

    async releaseClusterLease(name, owner) {
      assertName(name);
      assertOwner(owner);
      return (await db.run('DELETE FROM cluster_leases WHERE name = ? AND owner = ?', [name, owner])) === 1;
    },

    async readClusterLease(name) {
      assertName(name);
      const [row] = await db.all('SELECT * FROM cluster_leases WHERE name = ?', [name]);
      return row ? toLease(row) : null;
    },

    async setNotificationAside(input) {
      if (typeof input?.id !== 'string' || input.id === '' || input.id.length > 200) {
        throw new TypeError('a notification kept aside needs an id');
      }
      if (
        typeof input.code !== 'string' ||
        typeof input.reason !== 'string' ||
        typeof input.body !== 'string'
      ) {
        throw new TypeError('a notification kept aside needs a code, a reason and its body');
      }
      const at = now();
      const bodyEnc = sealer.seal('notifications_aside', 'body', input.id, input.body);
      return db.transaction(async (tx) => {
        const inserted = await tx.run(
          `INSERT INTO notifications_aside (id, notification_id, notification_type, code, reason, body_enc, set_aside_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          [
            input.id,
            input.notificationId,
            input.notificationType,
            input.code,
            input.reason.slice(0, 500),
            bodyEnc,
            at,
          ],
        );
        if (inserted === 0) return false;
        await writeEffects(tx, input, at);
        return true;
      });
    },

    async listNotificationsAside(query = {}) {
      const limit = boundedLimit(query.limit, 50, 1000);
      const rows = await db.all(
        'SELECT * FROM notifications_aside ORDER BY set_aside_at DESC, id DESC LIMIT ?',
        [limit],
      );
      return rows.map((row): NotificationAsideRecord => ({
        id: String(row.id),
        notificationId: strOrNull(row.notification_id),
        notificationType: strOrNull(row.notification_type),
        code: String(row.code),
        reason: String(row.reason),
        body: sealer.open('notifications_aside', 'body', String(row.id), String(row.body_enc)),
        setAsideAt: num(row.set_aside_at),
      }));
    },

    async countNotificationsAside() {
      const [row] = await db.all('SELECT COUNT(*) AS n FROM notifications_aside');
      return num(row?.n ?? 0);
    },

    async openSecretRotation(input, effects) {
      if (typeof input?.clientId !== 'string' || input.clientId === '')
        throw new TypeError('clientId is required');
      assertTime(input.deadlineAt, 'deadlineAt');
      if (input.source !== 'notice' && input.source !== 'age') throw new TypeError('invalid rotation source');
      const id = `rot_${createHash('sha256').update(`${input.clientId}|${input.deadlineAt}`).digest('hex').slice(0, 24)}`;
      const at = now();
      return db.transaction(async (tx) => {
        const inserted = await tx.run(
          `INSERT INTO secret_rotations (id, client_id, deadline_at, source, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'due', ?, ?) ON CONFLICT (id) DO NOTHING`,
          [id, input.clientId, input.deadlineAt, input.source, at, at],
        );
        if (inserted === 1) await writeEffects(tx, effects, at);
        const [row] = await tx.all('SELECT * FROM secret_rotations WHERE id = ?', [id]);
        return { record: toRotation(row!), created: inserted === 1 };
      });
    },

    async transitionSecretRotation(id, from, change, effects) {
      if (from.length === 0 || !from.every((s) => STATES.includes(s)) || !STATES.includes(change.state)) {
        throw new TypeError('invalid rotation state');
      }
      const at = now();
      const sets: string[] = ['state = ?', 'updated_at = ?'];
      const params: SqlValue[] = [change.state, at];
      const set = (column: string, value: SqlValue | undefined): void => {
        if (value === undefined) return;
        sets.push(`${column} = ?`);
        params.push(value);
      };
      set('owner', change.owner);
      set('requested_at', change.requestedAt);
      set('installed_at', change.installedAt);
      set('old_expires_at', change.oldExpiresAt);
      set('new_expires_at', change.newExpiresAt);
      set('last_error_code', change.lastErrorCode);
      set('retry_at', change.retryAt);
      if (change.countAttempt) sets.push('attempts = attempts + 1');
      const where = [`id = ?`, `state IN (${from.map(() => '?').join(', ')})`];
      params.push(id, ...from);
      if (effects?.readyBy !== undefined) {
        assertTime(effects.readyBy, 'readyBy');
        where.push('(retry_at IS NULL OR retry_at <= ?)');
        params.push(effects.readyBy);
      }
      return db.transaction(async (tx) => {
        const rows = await tx.all(
          `UPDATE secret_rotations SET ${sets.join(', ')} WHERE ${where.join(' AND ')} RETURNING *`,
          params,
        );
        if (rows[0] === undefined) return null;
        await writeEffects(tx, effects, at);
        return toRotation(rows[0]);
      });
    },

    async listSecretRotations(clientId, limit = 20) {
      boundedLimit(limit, 20, 1000);
      const rows = await db.all(
        'SELECT * FROM secret_rotations WHERE client_id = ? ORDER BY deadline_at DESC, created_at DESC LIMIT ?',
        [clientId, limit],
      );
      return rows.map(toRotation);
    },
  };
}
