// The Store over SQL, shared by SQLite and PostgreSQL. Each engine provides only the slice of its
// driver this file uses (kysely's dialect idea): run a statement, run a transaction, migrate.
// Every statement is written with `?` placeholders and bound parameters; the PostgreSQL driver
// numbers them. No value is ever spliced into SQL text.
import type {
  AccessToken,
  RefreshFailure,
  RefreshLease,
  Region,
  SellerTokenKey,
  SellerTokenState,
} from '../core/index.js';
import { SellerOwnershipError } from './errors.js';
import {
  DEFAULT_PURGE_GRACE_MS,
  DELIVERED_EVENT_RETENTION_MS,
  ENCRYPTED_COLUMNS,
  ENCRYPTED_TABLES,
  SELLER_STATUSES,
  assertAuditSafe,
  assertAuthorizationInput,
  assertLeaseRequest,
  assertPositiveInteger,
  assertWebhookEvent,
  assertRegion,
  assertRotatedRefreshToken,
  assertSellerKey,
  assertStatus,
  assertTime,
  boundedLimit,
  clockOf,
  createSealer,
  decodeTableCursor,
  encodeCursor,
  encodeTableCursor,
  parseSellerRowKey,
  planRefreshDue,
  planSellerList,
  sellerRowKey,
  toJson,
} from './shared.js';
import type {
  ApiKeyInput,
  ApiKeyRecord,
  AppSecretInput,
  AppSecretRecord,
  AuditInput,
  AuditRecord,
  AuthorizationInput,
  ChangeEffects,
  ConsumeResult,
  EncryptedTable,
  EncryptedValueRef,
  MigrationProgress,
  OAuthTransaction,
  OAuthTransactionInput,
  OutboxEvent,
  OutboxRecord,
  SellerRecord,
  SellerStatus,
  SessionInput,
  SessionRecord,
  SessionType,
  Store,
  StoreOptions,
  WebhookEventInput,
} from './store.js';

export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

/** Runs statements. `all` returns rows (also of `… RETURNING`); `run` returns the affected-row count. */
export interface SqlExecutor {
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** What an engine provides. */
export interface SqlDriver extends SqlExecutor {
  readonly engine: 'sqlite' | 'postgres';
  /** Appended to a SELECT that locks the rows it reads (PostgreSQL); empty where a transaction already excludes writers. */
  readonly forUpdate: string;
  readonly skipLocked: string;
  /** Runs `fn` in one transaction that excludes concurrent writers of the rows it touches. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  migrate(onProgress?: (progress: MigrationProgress) => void): Promise<string[]>;
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

const SELLER_COLUMNS = `selling_partner_id, region, kind, user_ref, status, marketplace, access_token_expires_at,
  version, lease_owner, lease_expires_at, authorized_at, last_refresh_at, last_error_code, last_error_message,
  last_error_at, created_at, updated_at`;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toSeller(row: Row): SellerRecord {
  return {
    sellingPartnerId: String(row.selling_partner_id),
    region: row.region as SellerRecord['region'],
    kind: row.kind as SellerRecord['kind'],
    userRef: strOrNull(row.user_ref),
    status: row.status as SellerStatus,
    marketplace: strOrNull(row.marketplace),
    authorizedAt: num(row.authorized_at),
    lastRefreshAt: numOrNull(row.last_refresh_at),
    lastError:
      row.last_error_code === null || row.last_error_code === undefined
        ? null
        : {
            code: String(row.last_error_code),
            message: strOrNull(row.last_error_message),
            at: num(row.last_error_at),
          },
    accessTokenExpiresAt: numOrNull(row.access_token_expires_at),
    version: num(row.version),
    leaseOwner: strOrNull(row.lease_owner),
    leaseExpiresAt: numOrNull(row.lease_expires_at),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    name: strOrNull(row.name),
    hash: String(row.hash),
    scopes: JSON.parse(String(row.scopes)) as string[],
    createdAt: num(row.created_at),
    lastUsedAt: numOrNull(row.last_used_at),
    revokedAt: numOrNull(row.revoked_at),
  };
}

function toAudit(row: Row): AuditRecord {
  return {
    id: num(row.id),
    at: num(row.at),
    action: String(row.action),
    actor: strOrNull(row.actor),
    sellingPartnerId: strOrNull(row.selling_partner_id),
    region: strOrNull(row.region) as AuditRecord['region'],
    outcome: strOrNull(row.outcome),
    details: JSON.parse(String(row.details)) as AuditRecord['details'],
  };
}

/** Primary-key columns of each encrypted table, in cursor order. */
const TABLE_KEYS: Readonly<Record<EncryptedTable, readonly string[]>> = {
  sellers: ['selling_partner_id', 'region'],
  oauth_transactions: ['state_hash'],
  connect_sessions: ['token_hash'],
  app_secrets: ['id'],
};

function rowKeyOf(table: EncryptedTable, row: Row): string {
  return table === 'sellers'
    ? sellerRowKey({ sellingPartnerId: String(row.selling_partner_id), region: row.region as 'na' })
    : String(row[TABLE_KEYS[table][0]!]);
}

function keyValuesOf(table: EncryptedTable, rowKey: string): string[] {
  if (table !== 'sellers') return [rowKey];
  const key = parseSellerRowKey(rowKey);
  return [key.sellingPartnerId, key.region];
}

/** "(a > ?) OR (a = ? AND b > ?)" — a keyset condition without row values, for any engine. */
function keysetAfter(
  columns: readonly string[],
  values: readonly string[],
): { sql: string; params: string[] } {
  const ors: string[] = [];
  const params: string[] = [];
  columns.forEach((column, i) => {
    const ands = columns.slice(0, i).map((c) => `${c} = ?`);
    ands.push(`${column} > ?`);
    ors.push(`(${ands.join(' AND ')})`);
    params.push(...values.slice(0, i), values[i]!);
  });
  return { sql: `(${ors.join(' OR ')})`, params };
}

/**
 * Builds the SQL Store over an engine's driver.
 *
 * @example
 * ```ts
 * const store = createSqlStore(driver, { keyRing });
 * ```
 */
export function createSqlStore(db: SqlDriver, options: StoreOptions): Store {
  const now = clockOf(options);
  const sealer = createSealer(options.keyRing);

  async function writeEffects(
    tx: SqlExecutor,
    effects: ChangeEffects | undefined,
    at: number,
  ): Promise<void> {
    if (!effects) return;
    await insertAudit(tx, effects.audit ?? [], at);
    await insertEvents(tx, effects.events ?? []);
  }

  async function insertAudit(tx: SqlExecutor, records: readonly AuditInput[], at: number): Promise<void> {
    assertAuditSafe(records);
    for (const r of records) {
      if (r.at !== undefined) assertTime(r.at, 'audit at');
      await tx.run(
        `INSERT INTO audit_log (at, action, actor, selling_partner_id, region, outcome, details)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [
          r.at ?? at,
          r.action,
          r.actor ?? null,
          r.sellingPartnerId ?? null,
          r.region ?? null,
          r.outcome ?? null,
          toJson(r.details),
        ],
      );
    }
  }

  async function insertEvents(
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

  async function selectSeller(tx: SqlExecutor, key: SellerTokenKey, lock = ''): Promise<Row | undefined> {
    const rows = await tx.all(
      `SELECT ${SELLER_COLUMNS}, refresh_token_enc, access_token_enc FROM sellers
       WHERE selling_partner_id = ? AND region = ?${lock}`,
      [key.sellingPartnerId, key.region],
    );
    return rows[0];
  }

  function toTokenState(key: SellerTokenKey, row: Row): SellerTokenState {
    const rowKey = sellerRowKey(key);
    const accessEnc = strOrNull(row.access_token_enc);
    return {
      status: row.status as SellerStatus,
      refreshToken: sealer.open('sellers', 'refresh_token', rowKey, String(row.refresh_token_enc)),
      accessToken:
        accessEnc === null
          ? null
          : {
              accessToken: sealer.open('sellers', 'access_token', rowKey, accessEnc),
              expiresAt: num(row.access_token_expires_at),
            },
      version: num(row.version),
    };
  }

  function checkLease(lease: RefreshLease): void {
    if (typeof lease?.owner !== 'string' || !Number.isSafeInteger(lease.version)) {
      throw new TypeError('lease must come from acquireRefreshLease');
    }
  }

  async function consumeSingleUse<T>(
    table: 'oauth_transactions' | 'connect_sessions',
    keyColumn: string,
    key: string,
    extraWhere: string,
    extraParams: readonly SqlValue[],
    map: (row: Row) => T,
    mismatch: (row: Row) => boolean,
  ): Promise<ConsumeResult<T>> {
    const at = now();
    const rows = await db.all(
      `UPDATE ${table} SET consumed_at = ?
       WHERE ${keyColumn} = ?${extraWhere} AND consumed_at IS NULL AND expires_at > ? RETURNING *`,
      [at, key, ...extraParams, at],
    );
    if (rows[0]) return { ok: true, value: map(rows[0]) };
    // A session of another type is as good as absent; a transaction with another binding is a mismatch.
    const scoped = table === 'connect_sessions';
    const [row] = await db.all(`SELECT * FROM ${table} WHERE ${keyColumn} = ?${scoped ? extraWhere : ''}`, [
      key,
      ...(scoped ? extraParams : []),
    ]);
    if (!row) return { ok: false, reason: 'not_found' };
    if (mismatch(row)) return { ok: false, reason: 'binding_mismatch' };
    if (row.consumed_at !== null) return { ok: false, reason: 'consumed' };
    return { ok: false, reason: 'expired' };
  }

  const store: Store = {
    engine: db.engine,

    migrate: (opts) => db.migrate(opts?.onProgress),
    pendingMigrations: () => db.pendingMigrations(),
    close: () => db.close(),

    async getSeller(key) {
      assertSellerKey(key);
      const [row] = await db.all(
        `SELECT ${SELLER_COLUMNS} FROM sellers WHERE selling_partner_id = ? AND region = ?`,
        [key.sellingPartnerId, key.region],
      );
      return row ? toSeller(row) : null;
    },

    async findSellers(sellingPartnerId) {
      const rows = await db.all(
        `SELECT ${SELLER_COLUMNS} FROM sellers WHERE selling_partner_id = ? ORDER BY region`,
        [sellingPartnerId],
      );
      return rows.map(toSeller);
    },

    async listSellers(query) {
      const plan = planSellerList(query);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (plan.status) {
        where.push('status = ?');
        params.push(plan.status);
      }
      if (plan.after) {
        const cond = keysetAfter(TABLE_KEYS.sellers, [plan.after.sellingPartnerId, plan.after.region]);
        where.push(cond.sql);
        params.push(...cond.params);
      }
      const page = (conds: readonly string[]): string =>
        `SELECT ${SELLER_COLUMNS} FROM sellers ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''}
         ORDER BY selling_partner_id, region LIMIT ?`;
      let rows: Row[];
      if (plan.search === null) {
        rows = await db.all(page(where), [...params, plan.limit + 1]);
      } else {
        // "id prefix OR user_ref prefix" in one WHERE defeats both indexes (a full scan on
        // PostgreSQL): each prefix is a range query on its own index, the second leaving out rows
        // the first already has, and the two ordered pages are merged.
        const byId = 'selling_partner_id >= ? AND selling_partner_id < ?';
        const idRange = [plan.search, plan.searchEnd!];
        rows = await db.all(
          `SELECT * FROM (${page([byId, ...where])}) AS by_id
           UNION ALL
           SELECT * FROM (${page(['user_ref >= ? AND user_ref < ?', `NOT (${byId})`, ...where])}) AS by_ref
           ORDER BY selling_partner_id, region LIMIT ?`,
          [
            ...idRange,
            ...params,
            plan.limit + 1,
            ...idRange,
            ...idRange,
            ...params,
            plan.limit + 1,
            plan.limit + 1,
          ],
        );
      }
      const items = rows.slice(0, plan.limit).map(toSeller);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > plan.limit && last ? encodeCursor(last) : null };
    },

    async countSellersByStatus() {
      const counts = Object.fromEntries(SELLER_STATUSES.map((s) => [s, 0])) as Record<SellerStatus, number>;
      const rows = await db.all('SELECT status, COUNT(*) AS n FROM sellers GROUP BY status');
      for (const row of rows) counts[row.status as SellerStatus] = num(row.n);
      return counts;
    },

    async listRefreshDue(query) {
      const plan = planRefreshDue(query);
      const params: SqlValue[] = [plan.before];
      let after = '';
      if (plan.after !== null) {
        const a = plan.after;
        after = `AND (access_token_expires_at > ? OR (access_token_expires_at = ? AND
          (selling_partner_id > ? OR (selling_partner_id = ? AND region > ?))))`;
        params.push(
          a.accessTokenExpiresAt,
          a.accessTokenExpiresAt,
          a.sellingPartnerId,
          a.sellingPartnerId,
          a.region,
        );
      }
      // Served by the sellers_refresh_due index (status, expiry, id, region).
      const rows = await db.all(
        `SELECT selling_partner_id, region, access_token_expires_at FROM sellers
         WHERE status = 'active' AND access_token_expires_at < ? ${after}
         ORDER BY access_token_expires_at, selling_partner_id, region LIMIT ?`,
        [...params, plan.limit],
      );
      return rows.map((row) => ({
        sellingPartnerId: String(row.selling_partner_id),
        region: row.region as Region,
        accessTokenExpiresAt: num(row.access_token_expires_at),
      }));
    },

    async saveAuthorization(input: AuthorizationInput) {
      assertAuthorizationInput(input);
      const at = now();
      const rowKey = sellerRowKey(input);
      const refreshEnc = sealer.seal('sellers', 'refresh_token', rowKey, input.refreshToken);
      const accessEnc = input.accessToken
        ? sealer.seal('sellers', 'access_token', rowKey, input.accessToken.accessToken)
        : null;
      const accessExpires = input.accessToken ? input.accessToken.expiresAt : null;
      return db.transaction(async (tx) => {
        const existing = await selectSeller(tx, input, db.forUpdate);
        const previousUserRef = existing ? strOrNull(existing.user_ref) : null;
        if (
          existing &&
          input.userRef !== null &&
          previousUserRef !== null &&
          previousUserRef !== input.userRef &&
          !input.allowRelink
        ) {
          throw new SellerOwnershipError();
        }
        // The guard repeats the ownership rule inside the write, so a concurrent first save that the
        // SELECT could not lock still cannot re-link silently.
        const changed = await tx.run(
          `INSERT INTO sellers (selling_partner_id, region, kind, user_ref, status, marketplace, refresh_token_enc,
             access_token_enc, access_token_expires_at, version, lease_owner, lease_expires_at, authorized_at,
             last_refresh_at, last_error_code, last_error_message, last_error_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, 1, NULL, NULL, ?, NULL, NULL, NULL, NULL, ?, ?)
           ON CONFLICT (selling_partner_id, region) DO UPDATE SET
             kind = excluded.kind,
             user_ref = COALESCE(excluded.user_ref, sellers.user_ref),
             status = 'active',
             marketplace = COALESCE(excluded.marketplace, sellers.marketplace),
             refresh_token_enc = excluded.refresh_token_enc,
             access_token_enc = excluded.access_token_enc,
             access_token_expires_at = excluded.access_token_expires_at,
             version = sellers.version + 1,
             lease_owner = NULL, lease_expires_at = NULL,
             authorized_at = excluded.authorized_at,
             last_error_code = NULL, last_error_message = NULL, last_error_at = NULL,
             updated_at = excluded.updated_at
           WHERE sellers.user_ref IS NULL OR excluded.user_ref IS NULL OR sellers.user_ref = excluded.user_ref
             OR ? = 1`,
          [
            input.sellingPartnerId,
            input.region,
            input.kind,
            input.userRef,
            input.marketplace,
            refreshEnc,
            accessEnc,
            accessExpires,
            at,
            at,
            at,
            input.allowRelink ? 1 : 0,
          ],
        );
        if (changed === 0) throw new SellerOwnershipError();
        await writeEffects(tx, input, at);
        const seller = toSeller((await selectSeller(tx, input))!);
        const relinked =
          existing && previousUserRef !== null && input.userRef !== null && previousUserRef !== input.userRef;
        return { seller, created: !existing, relinkedFrom: relinked ? previousUserRef : null };
      });
    },

    async setSellerStatus(key, status, effects) {
      assertSellerKey(key);
      assertStatus(status);
      const at = now();
      return db.transaction(async (tx) => {
        const changed = await tx.run(
          `UPDATE sellers SET status = ?, version = version + 1, updated_at = ?,
             lease_owner = NULL, lease_expires_at = NULL
           WHERE selling_partner_id = ? AND region = ?`,
          [status, at, key.sellingPartnerId, key.region],
        );
        if (changed === 0) return false;
        await writeEffects(tx, effects, at);
        return true;
      });
    },

    async deleteSeller(key, effects) {
      assertSellerKey(key);
      const at = now();
      return db.transaction(async (tx) => {
        const changed = await tx.run('DELETE FROM sellers WHERE selling_partner_id = ? AND region = ?', [
          key.sellingPartnerId,
          key.region,
        ]);
        if (changed === 0) return false;
        await writeEffects(tx, effects, at);
        return true;
      });
    },

    async loadTokens(key) {
      assertSellerKey(key);
      const row = await selectSeller(db, key);
      return row ? toTokenState(key, row) : null;
    },

    async acquireRefreshLease(key, owner, ttlMs) {
      assertLeaseRequest(key, owner, ttlMs);
      const at = now();
      const expiresAt = at + ttlMs;
      const rows = await db.all(
        `UPDATE sellers SET lease_owner = ?, lease_expires_at = ?
         WHERE selling_partner_id = ? AND region = ?
           AND (lease_owner IS NULL OR lease_expires_at <= ?)
         RETURNING version`,
        [owner, expiresAt, key.sellingPartnerId, key.region, at],
      );
      return rows[0] ? { owner, version: num(rows[0].version), expiresAt } : null;
    },

    async commitRefresh(key, lease, token: AccessToken, rotatedRefreshToken?: string) {
      assertSellerKey(key);
      checkLease(lease);
      assertTime(token?.expiresAt, 'token expiresAt');
      assertRotatedRefreshToken(rotatedRefreshToken);
      const at = now();
      const rowKey = sellerRowKey(key);
      const accessEnc = sealer.seal('sellers', 'access_token', rowKey, token.accessToken);
      // A rotated refresh token goes in the same compare-and-set as the access token: stored
      // apart, a crash or a lost lease in between would leave the spent token in place.
      const refreshEnc =
        rotatedRefreshToken === undefined
          ? null
          : sealer.seal('sellers', 'refresh_token', rowKey, rotatedRefreshToken);
      const changed = await db.run(
        `UPDATE sellers SET access_token_enc = ?, access_token_expires_at = ?, last_refresh_at = ?,
           refresh_token_enc = COALESCE(?, refresh_token_enc),
           last_error_code = NULL, last_error_message = NULL, last_error_at = NULL,
           lease_owner = NULL, lease_expires_at = NULL, version = version + 1, updated_at = ?
         WHERE selling_partner_id = ? AND region = ? AND lease_owner = ? AND version = ?`,
        [
          accessEnc,
          token.expiresAt,
          at,
          refreshEnc,
          at,
          key.sellingPartnerId,
          key.region,
          lease.owner,
          lease.version,
        ],
      );
      return changed === 1;
    },

    async releaseRefreshLease(key, lease, failure?: RefreshFailure) {
      assertSellerKey(key);
      checkLease(lease);
      const at = now();
      const params = [key.sellingPartnerId, key.region, lease.owner, lease.version];
      const where = 'WHERE selling_partner_id = ? AND region = ? AND lease_owner = ? AND version = ?';
      if (failure) {
        await db.run(
          `UPDATE sellers SET lease_owner = NULL, lease_expires_at = NULL, last_error_code = ?,
             last_error_message = ?, last_error_at = ?, updated_at = ? ${where}`,
          [failure.code, failure.message ?? null, at, at, ...params],
        );
      } else {
        await db.run(`UPDATE sellers SET lease_owner = NULL, lease_expires_at = NULL ${where}`, params);
      }
    },

    async markReauthorizationRequired(key, lease, failure, effects) {
      assertSellerKey(key);
      checkLease(lease);
      const at = now();
      return db.transaction(async (tx) => {
        const changed = await tx.run(
          `UPDATE sellers SET status = 'reauthorization_required', access_token_enc = NULL,
             access_token_expires_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
             last_error_code = ?, last_error_message = ?, last_error_at = ?, version = version + 1, updated_at = ?
           WHERE selling_partner_id = ? AND region = ? AND lease_owner = ? AND version = ?`,
          [
            failure.code,
            failure.message ?? null,
            at,
            at,
            key.sellingPartnerId,
            key.region,
            lease.owner,
            lease.version,
          ],
        );
        if (changed === 0) return false;
        await writeEffects(tx, effects, at);
        return true;
      });
    },

    async discardAccessToken(key, accessToken) {
      assertSellerKey(key);
      const row = await selectSeller(db, key);
      const sealed = row ? strOrNull(row.access_token_enc) : null;
      if (sealed === null) return;
      if (sealer.open('sellers', 'access_token', sellerRowKey(key), sealed) !== accessToken) return;
      // Compare-and-set on the ciphertext (unique per write), without a version bump: a refresh in
      // flight may still commit its newer token.
      await db.run(
        `UPDATE sellers SET access_token_enc = NULL, access_token_expires_at = NULL
         WHERE selling_partner_id = ? AND region = ? AND access_token_enc = ?`,
        [key.sellingPartnerId, key.region, sealed],
      );
    },

    async createOAuthTransaction(input: OAuthTransactionInput) {
      assertRegion(input.region);
      assertTime(input.expiresAt, 'expiresAt');
      const verifierEnc =
        input.pkceVerifier === null
          ? null
          : sealer.seal('oauth_transactions', 'pkce_verifier', input.stateHash, input.pkceVerifier);
      await db.run(
        `INSERT INTO oauth_transactions (state_hash, binding_hash, flow, kind, marketplace, region, user_ref, return_to,
           expected_selling_partner_id, pkce_verifier_enc, created_at, expires_at, consumed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
        [
          input.stateHash,
          input.bindingHash,
          input.flow,
          input.kind,
          input.marketplace,
          input.region,
          input.userRef,
          input.returnTo,
          input.expectedSellingPartnerId,
          verifierEnc,
          now(),
          input.expiresAt,
        ],
      );
    },

    consumeOAuthTransaction(stateHash, bindingHash) {
      return consumeSingleUse(
        'oauth_transactions',
        'state_hash',
        stateHash,
        ' AND binding_hash = ?',
        [bindingHash],
        (row): OAuthTransaction => ({
          stateHash: String(row.state_hash),
          bindingHash: String(row.binding_hash),
          flow: row.flow as OAuthTransaction['flow'],
          kind: row.kind as OAuthTransaction['kind'],
          marketplace: String(row.marketplace),
          region: row.region as OAuthTransaction['region'],
          userRef: strOrNull(row.user_ref),
          returnTo: strOrNull(row.return_to),
          expectedSellingPartnerId: strOrNull(row.expected_selling_partner_id),
          pkceVerifier:
            row.pkce_verifier_enc === null
              ? null
              : sealer.open('oauth_transactions', 'pkce_verifier', stateHash, String(row.pkce_verifier_enc)),
          createdAt: num(row.created_at),
          expiresAt: num(row.expires_at),
          consumedAt: numOrNull(row.consumed_at),
        }),
        (row) => row.binding_hash !== bindingHash,
      );
    },

    async createSession(input: SessionInput) {
      assertTime(input.expiresAt, 'expiresAt');
      const payloadEnc = sealer.seal('connect_sessions', 'payload', input.tokenHash, toJson(input.payload));
      await db.run(
        `INSERT INTO connect_sessions (token_hash, type, payload_enc, created_at, expires_at, consumed_at)
         VALUES (?, ?, ?, ?, ?, NULL)`,
        [input.tokenHash, input.type, payloadEnc, now(), input.expiresAt],
      );
    },

    consumeSession(tokenHash, type: SessionType) {
      return consumeSingleUse(
        'connect_sessions',
        'token_hash',
        tokenHash,
        ' AND type = ?',
        [type],
        (row): SessionRecord => ({
          tokenHash: String(row.token_hash),
          type: row.type as SessionType,
          payload: JSON.parse(
            sealer.open('connect_sessions', 'payload', tokenHash, String(row.payload_enc)),
          ) as SessionRecord['payload'],
          createdAt: num(row.created_at),
          expiresAt: num(row.expires_at),
          consumedAt: numOrNull(row.consumed_at),
        }),
        () => false,
      );
    },

    async purgeExpired(graceMs = DEFAULT_PURGE_GRACE_MS) {
      const at = now();
      const cutoff = at - graceMs;
      let n = await db.run('DELETE FROM oauth_transactions WHERE expires_at < ?', [cutoff]);
      n += await db.run('DELETE FROM connect_sessions WHERE expires_at < ?', [cutoff]);
      n += await db.run('DELETE FROM webhook_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?', [
        at - DELIVERED_EVENT_RETENTION_MS,
      ]);
      return n;
    },

    async createApiKey(input: ApiKeyInput, effects) {
      if (!Array.isArray(input.scopes) || !input.scopes.every((s) => typeof s === 'string')) {
        throw new TypeError('scopes must be an array of strings');
      }
      const at = now();
      await db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO api_keys (id, name, hash, scopes, created_at, last_used_at, revoked_at)
           VALUES (?, ?, ?, ?, ?, NULL, NULL)`,
          [input.id, input.name, input.hash, JSON.stringify(input.scopes), at],
        );
        await writeEffects(tx, effects, at);
      });
      return { ...input, scopes: [...input.scopes], createdAt: at, lastUsedAt: null, revokedAt: null };
    },

    async findApiKeyByHash(hash) {
      const [row] = await db.all('SELECT * FROM api_keys WHERE hash = ?', [hash]);
      return row ? toApiKey(row) : null;
    },

    async listApiKeys() {
      return (await db.all('SELECT * FROM api_keys ORDER BY created_at, id')).map(toApiKey);
    },

    async touchApiKey(id) {
      await db.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [now(), id]);
    },

    async revokeApiKey(id, effects) {
      const at = now();
      return db.transaction(async (tx) => {
        const changed = await tx.run(
          'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
          [at, id],
        );
        if (changed === 0) return false;
        await writeEffects(tx, effects, at);
        return true;
      });
    },

    async saveAppSecret(input: AppSecretInput) {
      if (input.expiresAt !== null) assertTime(input.expiresAt, 'expiresAt');
      const at = now();
      const secretEnc = sealer.seal('app_secrets', 'secret', input.id, input.secret);
      await db.transaction(async (tx) => {
        await tx.run(
          'INSERT INTO app_secrets (id, client_id, secret_enc, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
          [input.id, input.clientId, secretEnc, at, input.expiresAt],
        );
        await writeEffects(tx, input, at);
      });
      return {
        id: input.id,
        clientId: input.clientId,
        secret: input.secret,
        createdAt: at,
        expiresAt: input.expiresAt,
      };
    },

    async listAppSecrets(clientId) {
      const rows = await db.all(
        'SELECT * FROM app_secrets WHERE client_id = ? ORDER BY created_at DESC, id DESC',
        [clientId],
      );
      return rows.map((row): AppSecretRecord => ({
        id: String(row.id),
        clientId: String(row.client_id),
        secret: sealer.open('app_secrets', 'secret', String(row.id), String(row.secret_enc)),
        createdAt: num(row.created_at),
        expiresAt: numOrNull(row.expires_at),
      }));
    },

    async setAppSecretExpiry(id, expiresAt) {
      if (expiresAt !== null) assertTime(expiresAt, 'expiresAt');
      return (await db.run('UPDATE app_secrets SET expires_at = ? WHERE id = ?', [expiresAt, id])) === 1;
    },

    async deleteAppSecret(id) {
      return (await db.run('DELETE FROM app_secrets WHERE id = ?', [id])) === 1;
    },

    async appendAudit(records) {
      const at = now();
      assertAuditSafe(records);
      await db.transaction((tx) => insertAudit(tx, records, at));
    },

    async listAudit(query = {}) {
      const limit = boundedLimit(query.limit, 100, 1000);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (query.sellingPartnerId !== undefined) {
        where.push('selling_partner_id = ?');
        params.push(query.sellingPartnerId);
      }
      if (query.region !== undefined) {
        assertRegion(query.region);
        where.push('region = ?');
        params.push(query.region);
      }
      if (query.before !== undefined) {
        assertTime(query.before, 'before');
        where.push('id < ?');
        params.push(query.before);
      }
      const rows = await db.all(
        `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
        [...params, limit],
      );
      return rows.map(toAudit);
    },

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

    async listEncryptedValues({ cursor, limit }) {
      boundedLimit(limit, 1, 10_000);
      const position = decodeTableCursor(cursor);
      const table = ENCRYPTED_TABLES[position.table];
      if (!table) return { items: [], nextCursor: null };
      const keys = TABLE_KEYS[table];
      const columns = ENCRYPTED_COLUMNS[table];
      const after = position.key ? keysetAfter(keys, position.key) : null;
      const rows = await db.all(
        `SELECT ${[...keys, ...columns.map((c) => `${c}_enc`)].join(', ')} FROM ${table}
         ${after ? `WHERE ${after.sql}` : ''} ORDER BY ${keys.join(', ')} LIMIT ?`,
        [...(after?.params ?? []), limit],
      );
      const items: EncryptedValueRef[] = [];
      for (const row of rows) {
        for (const column of columns) {
          const ciphertext = strOrNull(row[`${column}_enc`]);
          if (ciphertext !== null) items.push({ table, column, rowKey: rowKeyOf(table, row), ciphertext });
        }
      }
      const last = rows[rows.length - 1];
      const nextCursor =
        rows.length === limit && last
          ? encodeTableCursor(
              position.table,
              keys.map((k) => String(last[k])),
            )
          : encodeTableCursor(position.table + 1, null);
      return {
        items,
        nextCursor: position.table + 1 >= ENCRYPTED_TABLES.length && rows.length < limit ? null : nextCursor,
      };
    },

    async replaceEncryptedValue(ref, ciphertext) {
      const columns = ENCRYPTED_COLUMNS[ref.table];
      if (!columns || !columns.includes(ref.column)) throw new TypeError('unknown encrypted column');
      const keys = TABLE_KEYS[ref.table];
      const column = `${ref.column}_enc`;
      const changed = await db.run(
        `UPDATE ${ref.table} SET ${column} = ? WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')} AND ${column} = ?`,
        [ciphertext, ...keyValuesOf(ref.table, ref.rowKey), ref.ciphertext],
      );
      return changed === 1;
    },
  };
  return store;
}
