// The in-memory Store: same contract as the SQL engines (secrets sealed too, so integrity cases
// behave identically), for unit tests and library users without a database. Not shared across
// processes. Every method runs synchronously between awaits, which makes each one atomic.
import type { SellerTokenKey } from '../core/index.js';
import { generateKey, parseKeyRing } from './crypto.js';
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
  compareRefreshDue,
  createSealer,
  decodeTableCursor,
  encodeCursor,
  encodeTableCursor,
  parseSellerRowKey,
  planRefreshDue,
  planSellerList,
  sellerRowKey,
} from './shared.js';
import type {
  ApiKeyRecord,
  AuditRecord,
  ChangeEffects,
  ConsumeResult,
  EncryptedTable,
  EncryptedValueRef,
  OAuthTransaction,
  OutboxEvent,
  OutboxRecord,
  RefreshDueEntry,
  SellerRecord,
  SellerStatus,
  SessionRecord,
  Store,
  StoreOptions,
} from './store.js';

interface SellerRow {
  record: SellerRecord;
  refreshEnc: string;
  accessEnc: string | null;
}
interface TxRow {
  tx: Omit<OAuthTransaction, 'pkceVerifier'>;
  verifierEnc: string | null;
}
interface SessionRow {
  session: Omit<SessionRecord, 'payload'>;
  payloadEnc: string;
}
interface SecretRow {
  id: string;
  clientId: string;
  secretEnc: string;
  createdAt: number;
  expiresAt: number | null;
  seq: number;
}
interface OutboxRow {
  seq: number;
  event: Omit<OutboxEvent, 'attempts' | 'lastError'>;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  deliveredAt: number | null;
  deadAt: number | null;
}

function toOutboxRecord(r: OutboxRow): OutboxRecord {
  return {
    seq: r.seq,
    id: r.event.id,
    type: r.event.type,
    createdAt: r.event.createdAt,
    data: structuredClone(r.event.data),
    state: r.deliveredAt !== null ? 'delivered' : r.deadAt !== null ? 'dead' : 'pending',
    attempts: r.attempts,
    lastError: r.lastError,
    nextAttemptAt: r.nextAttemptAt,
    deliveredAt: r.deliveredAt,
    deadAt: r.deadAt,
  };
}

const compareKeys = (a: SellerTokenKey, b: SellerTokenKey): number =>
  a.sellingPartnerId < b.sellingPartnerId
    ? -1
    : a.sellingPartnerId > b.sellingPartnerId
      ? 1
      : a.region < b.region
        ? -1
        : a.region > b.region
          ? 1
          : 0;

/**
 * An in-memory store. Without a `keyRing` it seals with a random key of its own.
 *
 * @example
 * ```ts
 * const store = createMemoryStore();
 * await store.createApiKey({ id: 'k1', name: 'ci', hash, scopes: ['tokens:read'] });
 * ```
 */
export function createMemoryStore(options: StoreOptions = {}): Store {
  const now = clockOf(options);
  const sealer = createSealer(options.keyRing ?? parseKeyRing(`memory:${generateKey()}`));
  const sellers = new Map<string, SellerRow>();
  const transactions = new Map<string, TxRow>();
  const sessions = new Map<string, SessionRow>();
  const apiKeys = new Map<string, ApiKeyRecord>();
  const secrets = new Map<string, SecretRow>();
  const audit: AuditRecord[] = [];
  const outbox = new Map<string, OutboxRow>();
  let seq = 0;
  let closed = false;

  const sellerOf = (key: SellerTokenKey): SellerRow | undefined => sellers.get(sellerRowKey(key));
  const alive = (): void => {
    if (closed) throw new Error('store is closed');
  };

  // Validate everything first, then write: a throwing effect leaves nothing half-written.
  function prepareEffects(effects: ChangeEffects | undefined, at: number): () => void {
    const records = effects?.audit ?? [];
    const events = effects?.events ?? [];
    assertAuditSafe(records);
    for (const r of records) if (r.at !== undefined) assertTime(r.at, 'audit at');
    const ids = new Set<string>();
    for (const e of events) {
      assertWebhookEvent(e);
      if (outbox.has(e.id) || ids.has(e.id)) throw new Error('duplicate webhook event id');
      ids.add(e.id);
    }
    return () => {
      for (const r of records) {
        audit.push({
          id: ++seq,
          at: r.at ?? at,
          action: r.action,
          actor: r.actor ?? null,
          sellingPartnerId: r.sellingPartnerId ?? null,
          region: r.region ?? null,
          outcome: r.outcome ?? null,
          details: structuredClone(r.details ?? {}),
        });
      }
      for (const e of events) {
        outbox.set(e.id, {
          seq: ++seq,
          event: { id: e.id, type: e.type, createdAt: e.createdAt, data: structuredClone(e.data) },
          attempts: 0,
          lastError: null,
          nextAttemptAt: e.createdAt,
          leaseOwner: null,
          leaseExpiresAt: null,
          deliveredAt: null,
          deadAt: null,
        });
      }
    };
  }

  function update(row: SellerRow, patch: Partial<SellerRecord>): void {
    row.record = { ...row.record, ...patch };
  }

  function consume<T extends { consumedAt: number | null; expiresAt: number }>(
    item: T | undefined,
    matches: boolean,
  ): ConsumeResult<T> | null {
    if (!item) return { ok: false, reason: 'not_found' };
    if (!matches) return { ok: false, reason: 'binding_mismatch' };
    if (item.consumedAt !== null) return { ok: false, reason: 'consumed' };
    if (item.expiresAt <= now()) return { ok: false, reason: 'expired' };
    return null;
  }

  // Rows of each encrypted table for rewrap, keyed like the SQL engines' primary keys.
  function encryptedRows(
    table: EncryptedTable,
  ): { key: string[]; rowKey: string; values: Map<string, string> }[] {
    const rows: { key: string[]; rowKey: string; values: Map<string, string> }[] = [];
    const put = (key: string[], rowKey: string, entries: [string, string | null][]): void => {
      const values = new Map(entries.filter((e): e is [string, string] => e[1] !== null));
      rows.push({ key, rowKey, values });
    };
    if (table === 'sellers') {
      for (const [rowKey, row] of sellers) {
        put([row.record.sellingPartnerId, row.record.region], rowKey, [
          ['refresh_token', row.refreshEnc],
          ['access_token', row.accessEnc],
        ]);
      }
    } else if (table === 'oauth_transactions') {
      for (const [k, row] of transactions) put([k], k, [['pkce_verifier', row.verifierEnc]]);
    } else if (table === 'connect_sessions') {
      for (const [k, row] of sessions) put([k], k, [['payload', row.payloadEnc]]);
    } else {
      for (const [k, row] of secrets) put([k], k, [['secret', row.secretEnc]]);
    }
    const cmp = (a: string[], b: string[]): number => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
      return 0;
    };
    return rows.sort((a, b) => cmp(a.key, b.key));
  }

  const store: Store = {
    engine: 'memory',
    migrate: async () => [],
    pendingMigrations: async () => [],
    close: async () => {
      closed = true;
    },

    async getSeller(key) {
      assertSellerKey(key);
      return sellerOf(key)?.record ?? null;
    },

    async findSellers(sellingPartnerId) {
      return [...sellers.values()]
        .filter((row) => row.record.sellingPartnerId === sellingPartnerId)
        .map((row) => row.record)
        .sort(compareKeys);
    },

    async listSellers(query) {
      const plan = planSellerList(query);
      const matches = [...sellers.values()]
        .map((row) => row.record)
        .filter(
          (s) =>
            (plan.status === null || s.status === plan.status) &&
            (plan.search === null ||
              s.sellingPartnerId.startsWith(plan.search) ||
              (s.userRef !== null && s.userRef.startsWith(plan.search))) &&
            (plan.after === null || compareKeys(s, plan.after) > 0),
        )
        .sort(compareKeys);
      const items = matches.slice(0, plan.limit);
      const last = items[items.length - 1];
      return { items, nextCursor: matches.length > plan.limit && last ? encodeCursor(last) : null };
    },

    async countSellersByStatus() {
      const counts = Object.fromEntries(SELLER_STATUSES.map((s) => [s, 0])) as Record<SellerStatus, number>;
      for (const row of sellers.values()) counts[row.record.status] += 1;
      return counts;
    },

    async listRefreshDue(query) {
      const plan = planRefreshDue(query);
      const due: RefreshDueEntry[] = [];
      for (const { record: s } of sellers.values()) {
        const expiresAt = s.accessTokenExpiresAt;
        if (s.status !== 'active' || expiresAt === null || expiresAt >= plan.before) continue;
        const entry = {
          sellingPartnerId: s.sellingPartnerId,
          region: s.region,
          accessTokenExpiresAt: expiresAt,
        };
        if (plan.after === null || compareRefreshDue(entry, plan.after) > 0) due.push(entry);
      }
      return due.sort(compareRefreshDue).slice(0, plan.limit);
    },

    async saveAuthorization(input) {
      alive();
      assertAuthorizationInput(input);
      const at = now();
      const rowKey = sellerRowKey(input);
      const existing = sellers.get(rowKey);
      const previousUserRef = existing?.record.userRef ?? null;
      const relinked =
        previousUserRef !== null && input.userRef !== null && previousUserRef !== input.userRef;
      if (existing && relinked && !input.allowRelink) throw new SellerOwnershipError();
      const refreshEnc = sealer.seal('sellers', 'refresh_token', rowKey, input.refreshToken);
      const accessEnc = input.accessToken
        ? sealer.seal('sellers', 'access_token', rowKey, input.accessToken.accessToken)
        : null;
      const commitEffects = prepareEffects(input, at);
      const record: SellerRecord = {
        sellingPartnerId: input.sellingPartnerId,
        region: input.region,
        kind: input.kind,
        userRef: input.userRef ?? previousUserRef,
        status: 'active',
        marketplace: input.marketplace ?? existing?.record.marketplace ?? null,
        authorizedAt: at,
        lastRefreshAt: existing?.record.lastRefreshAt ?? null,
        lastError: null,
        accessTokenExpiresAt: input.accessToken ? input.accessToken.expiresAt : null,
        version: existing ? existing.record.version + 1 : 1,
        leaseOwner: null,
        leaseExpiresAt: null,
        createdAt: existing?.record.createdAt ?? at,
        updatedAt: at,
      };
      sellers.set(rowKey, { record, refreshEnc, accessEnc });
      commitEffects();
      return {
        seller: record,
        created: !existing,
        relinkedFrom: existing && relinked ? previousUserRef : null,
      };
    },

    async setSellerStatus(key, status, effects) {
      assertSellerKey(key);
      assertStatus(status);
      const row = sellerOf(key);
      if (!row) return false;
      const at = now();
      const commitEffects = prepareEffects(effects, at);
      update(row, {
        status,
        version: row.record.version + 1,
        updatedAt: at,
        leaseOwner: null,
        leaseExpiresAt: null,
      });
      commitEffects();
      return true;
    },

    async deleteSeller(key, effects) {
      assertSellerKey(key);
      if (!sellerOf(key)) return false;
      const commitEffects = prepareEffects(effects, now());
      sellers.delete(sellerRowKey(key));
      commitEffects();
      return true;
    },

    async loadTokens(key) {
      assertSellerKey(key);
      const row = sellerOf(key);
      if (!row) return null;
      const rowKey = sellerRowKey(key);
      return {
        status: row.record.status,
        refreshToken: sealer.open('sellers', 'refresh_token', rowKey, row.refreshEnc),
        accessToken:
          row.accessEnc === null
            ? null
            : {
                accessToken: sealer.open('sellers', 'access_token', rowKey, row.accessEnc),
                expiresAt: row.record.accessTokenExpiresAt ?? 0,
              },
        version: row.record.version,
      };
    },

    async acquireRefreshLease(key, owner, ttlMs) {
      assertLeaseRequest(key, owner, ttlMs);
      const row = sellerOf(key);
      if (!row) return null;
      const at = now();
      const { leaseOwner, leaseExpiresAt } = row.record;
      if (leaseOwner !== null && (leaseExpiresAt ?? 0) > at) return null;
      update(row, { leaseOwner: owner, leaseExpiresAt: at + ttlMs });
      return { owner, version: row.record.version, expiresAt: at + ttlMs };
    },

    async commitRefresh(key, lease, token, rotatedRefreshToken) {
      assertSellerKey(key);
      assertTime(token?.expiresAt, 'token expiresAt');
      assertRotatedRefreshToken(rotatedRefreshToken);
      const row = sellerOf(key);
      if (!row || row.record.leaseOwner !== lease.owner || row.record.version !== lease.version) return false;
      const at = now();
      const rowKey = sellerRowKey(key);
      row.accessEnc = sealer.seal('sellers', 'access_token', rowKey, token.accessToken);
      if (rotatedRefreshToken !== undefined) {
        row.refreshEnc = sealer.seal('sellers', 'refresh_token', rowKey, rotatedRefreshToken);
      }
      update(row, {
        accessTokenExpiresAt: token.expiresAt,
        lastRefreshAt: at,
        lastError: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        version: row.record.version + 1,
        updatedAt: at,
      });
      return true;
    },

    async releaseRefreshLease(key, lease, failure) {
      assertSellerKey(key);
      const row = sellerOf(key);
      if (!row || row.record.leaseOwner !== lease.owner || row.record.version !== lease.version) return;
      const at = now();
      update(row, { leaseOwner: null, leaseExpiresAt: null });
      if (failure) {
        update(row, {
          lastError: { code: failure.code, message: failure.message ?? null, at },
          updatedAt: at,
        });
      }
    },

    async markReauthorizationRequired(key, lease, failure, effects) {
      assertSellerKey(key);
      const row = sellerOf(key);
      if (!row || row.record.leaseOwner !== lease.owner || row.record.version !== lease.version) return false;
      const at = now();
      const commitEffects = prepareEffects(effects, at);
      row.accessEnc = null;
      update(row, {
        status: 'reauthorization_required',
        accessTokenExpiresAt: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        lastError: { code: failure.code, message: failure.message ?? null, at },
        version: row.record.version + 1,
        updatedAt: at,
      });
      commitEffects();
      return true;
    },

    async discardAccessToken(key, accessToken) {
      assertSellerKey(key);
      const row = sellerOf(key);
      if (!row || row.accessEnc === null) return;
      if (sealer.open('sellers', 'access_token', sellerRowKey(key), row.accessEnc) !== accessToken) return;
      row.accessEnc = null;
      update(row, { accessTokenExpiresAt: null });
    },

    async createOAuthTransaction(input) {
      alive();
      assertRegion(input.region);
      assertTime(input.expiresAt, 'expiresAt');
      if (transactions.has(input.stateHash)) throw new Error('duplicate OAuth transaction');
      const { pkceVerifier, ...rest } = input;
      transactions.set(input.stateHash, {
        tx: { ...rest, createdAt: now(), consumedAt: null },
        verifierEnc:
          pkceVerifier === null
            ? null
            : sealer.seal('oauth_transactions', 'pkce_verifier', input.stateHash, pkceVerifier),
      });
    },

    async consumeOAuthTransaction(stateHash, bindingHash) {
      const row = transactions.get(stateHash);
      const failure = consume(row?.tx, row?.tx.bindingHash === bindingHash);
      if (failure || !row) return failure as ConsumeResult<OAuthTransaction>;
      row.tx = { ...row.tx, consumedAt: now() };
      const pkceVerifier =
        row.verifierEnc === null
          ? null
          : sealer.open('oauth_transactions', 'pkce_verifier', stateHash, row.verifierEnc);
      return { ok: true, value: { ...row.tx, pkceVerifier } };
    },

    async createSession(input) {
      alive();
      assertTime(input.expiresAt, 'expiresAt');
      if (sessions.has(input.tokenHash)) throw new Error('duplicate session');
      sessions.set(input.tokenHash, {
        session: {
          tokenHash: input.tokenHash,
          type: input.type,
          expiresAt: input.expiresAt,
          createdAt: now(),
          consumedAt: null,
        },
        payloadEnc: sealer.seal(
          'connect_sessions',
          'payload',
          input.tokenHash,
          JSON.stringify(input.payload ?? {}),
        ),
      });
    },

    async consumeSession(tokenHash, type) {
      const found = sessions.get(tokenHash);
      const row = found?.session.type === type ? found : undefined;
      const failure = consume(row?.session, true);
      if (failure || !row) return failure as ConsumeResult<SessionRecord>;
      row.session = { ...row.session, consumedAt: now() };
      const payload = JSON.parse(
        sealer.open('connect_sessions', 'payload', tokenHash, row.payloadEnc),
      ) as SessionRecord['payload'];
      return { ok: true, value: { ...row.session, payload } };
    },

    async purgeExpired(graceMs = DEFAULT_PURGE_GRACE_MS) {
      const at = now();
      let n = 0;
      for (const [k, row] of transactions) if (row.tx.expiresAt < at - graceMs && transactions.delete(k)) n++;
      for (const [k, row] of sessions) if (row.session.expiresAt < at - graceMs && sessions.delete(k)) n++;
      for (const [k, row] of outbox) {
        if (
          row.deliveredAt !== null &&
          row.deliveredAt < at - DELIVERED_EVENT_RETENTION_MS &&
          outbox.delete(k)
        )
          n++;
      }
      return n;
    },

    async createApiKey(input, effects) {
      alive();
      if (!Array.isArray(input.scopes) || !input.scopes.every((s) => typeof s === 'string')) {
        throw new TypeError('scopes must be an array of strings');
      }
      if (apiKeys.has(input.id) || [...apiKeys.values()].some((k) => k.hash === input.hash)) {
        throw new Error('duplicate API key');
      }
      const at = now();
      const commitEffects = prepareEffects(effects, at);
      const record: ApiKeyRecord = {
        ...input,
        scopes: [...input.scopes],
        createdAt: at,
        lastUsedAt: null,
        revokedAt: null,
      };
      apiKeys.set(input.id, record);
      commitEffects();
      return record;
    },

    async findApiKeyByHash(hash) {
      for (const key of apiKeys.values()) if (key.hash === hash) return key;
      return null;
    },

    async listApiKeys() {
      return [...apiKeys.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    },

    async touchApiKey(id) {
      const key = apiKeys.get(id);
      if (key) apiKeys.set(id, { ...key, lastUsedAt: now() });
    },

    async revokeApiKey(id, effects) {
      const key = apiKeys.get(id);
      if (!key || key.revokedAt !== null) return false;
      const at = now();
      const commitEffects = prepareEffects(effects, at);
      apiKeys.set(id, { ...key, revokedAt: at });
      commitEffects();
      return true;
    },

    async saveAppSecret(input) {
      alive();
      if (input.expiresAt !== null) assertTime(input.expiresAt, 'expiresAt');
      if (secrets.has(input.id)) throw new Error('duplicate app secret id');
      const at = now();
      const commitEffects = prepareEffects(input, at);
      secrets.set(input.id, {
        id: input.id,
        clientId: input.clientId,
        secretEnc: sealer.seal('app_secrets', 'secret', input.id, input.secret),
        createdAt: at,
        expiresAt: input.expiresAt,
        seq: ++seq,
      });
      commitEffects();
      return {
        id: input.id,
        clientId: input.clientId,
        secret: input.secret,
        createdAt: at,
        expiresAt: input.expiresAt,
      };
    },

    async listAppSecrets(clientId) {
      return [...secrets.values()]
        .filter((s) => s.clientId === clientId)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
        .map((s) => ({
          id: s.id,
          clientId: s.clientId,
          secret: sealer.open('app_secrets', 'secret', s.id, s.secretEnc),
          createdAt: s.createdAt,
          expiresAt: s.expiresAt,
        }));
    },

    async setAppSecretExpiry(id, expiresAt) {
      if (expiresAt !== null) assertTime(expiresAt, 'expiresAt');
      const row = secrets.get(id);
      if (!row) return false;
      row.expiresAt = expiresAt;
      return true;
    },

    async deleteAppSecret(id) {
      return secrets.delete(id);
    },

    async appendAudit(records) {
      prepareEffects({ audit: records }, now())();
    },

    async listAudit(query = {}) {
      const limit = boundedLimit(query.limit, 100, 1000);
      if (query.region !== undefined) assertRegion(query.region);
      if (query.before !== undefined) assertTime(query.before, 'before');
      const out: AuditRecord[] = [];
      for (let i = audit.length - 1; i >= 0 && out.length < limit; i--) {
        const r = audit[i]!;
        if (query.sellingPartnerId !== undefined && r.sellingPartnerId !== query.sellingPartnerId) continue;
        if (query.region !== undefined && r.region !== query.region) continue;
        if (query.before !== undefined && r.id >= query.before) continue;
        out.push(r);
      }
      return out;
    },

    async enqueueWebhookEvents(events, options) {
      const fresh = options?.skipExisting ? events.filter((e) => !outbox.has(e.id)) : events;
      prepareEffects({ events: fresh }, now())();
    },

    async claimWebhookEvents(owner, { limit, leaseMs }) {
      boundedLimit(limit, 1, 1000);
      assertPositiveInteger(leaseMs, 'leaseMs');
      const at = now();
      const due = [...outbox.values()]
        .filter(
          (r) =>
            r.deliveredAt === null &&
            r.deadAt === null &&
            r.nextAttemptAt <= at &&
            (r.leaseExpiresAt === null || r.leaseExpiresAt <= at),
        )
        .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq)
        .slice(0, limit);
      return due.map((r) => {
        r.leaseOwner = owner;
        r.leaseExpiresAt = at + leaseMs;
        r.attempts += 1;
        return { ...r.event, attempts: r.attempts, lastError: r.lastError };
      });
    },

    async markWebhookDelivered(id, owner) {
      const r = outbox.get(id);
      if (!r || r.leaseOwner !== owner || r.deliveredAt !== null) return false;
      r.deliveredAt = now();
      r.leaseOwner = null;
      r.leaseExpiresAt = null;
      return true;
    },

    async markWebhookFailed(id, owner, failure) {
      const r = outbox.get(id);
      if (!r || r.leaseOwner !== owner || r.deliveredAt !== null) return false;
      r.lastError = failure.error;
      r.leaseOwner = null;
      r.leaseExpiresAt = null;
      if (failure.nextAttemptAt === null) r.deadAt = now();
      else r.nextAttemptAt = failure.nextAttemptAt;
      return true;
    },

    async webhookOutboxDepth() {
      let pending = 0;
      let dead = 0;
      for (const r of outbox.values()) {
        if (r.deadAt !== null) dead++;
        else if (r.deliveredAt === null) pending++;
      }
      return { pending, dead };
    },

    async listWebhookEvents(query = {}) {
      const limit = boundedLimit(query.limit, 50, 500);
      const rows = [...outbox.values()]
        .map(toOutboxRecord)
        .filter(
          (r) =>
            (query.state === undefined || r.state === query.state) &&
            (query.before === undefined || r.seq < query.before),
        )
        .sort((a, b) => b.seq - a.seq);
      return rows.slice(0, limit);
    },

    async retryWebhookEvent(id) {
      const r = outbox.get(id);
      const at = now();
      if (!r || r.deliveredAt !== null || (r.leaseExpiresAt !== null && r.leaseExpiresAt > at)) return false;
      r.deadAt = null;
      r.leaseOwner = null;
      r.leaseExpiresAt = null;
      r.nextAttemptAt = at;
      return true;
    },

    async listEncryptedValues({ cursor, limit }) {
      boundedLimit(limit, 1, 10_000);
      const position = decodeTableCursor(cursor);
      const table = ENCRYPTED_TABLES[position.table];
      if (!table) return { items: [], nextCursor: null };
      const after = position.key;
      const rows = encryptedRows(table)
        .filter((r) => after === null || r.key.join('\u0000') > after.join('\u0000'))
        .slice(0, limit);
      const items: EncryptedValueRef[] = [];
      for (const row of rows) {
        for (const column of ENCRYPTED_COLUMNS[table]) {
          const ciphertext = row.values.get(column);
          if (ciphertext !== undefined) items.push({ table, column, rowKey: row.rowKey, ciphertext });
        }
      }
      const last = rows[rows.length - 1];
      if (rows.length === limit && last)
        return { items, nextCursor: encodeTableCursor(position.table, last.key) };
      const isLast = position.table + 1 >= ENCRYPTED_TABLES.length;
      return { items, nextCursor: isLast ? null : encodeTableCursor(position.table + 1, null) };
    },

    async replaceEncryptedValue(ref, ciphertext) {
      const columns = ENCRYPTED_COLUMNS[ref.table];
      if (!columns || !columns.includes(ref.column)) throw new TypeError('unknown encrypted column');
      if (ref.table === 'sellers') {
        const row = sellers.get(sellerRowKey(parseSellerRowKey(ref.rowKey)));
        if (!row) return false;
        if (ref.column === 'refresh_token' && row.refreshEnc === ref.ciphertext) row.refreshEnc = ciphertext;
        else if (ref.column === 'access_token' && row.accessEnc === ref.ciphertext)
          row.accessEnc = ciphertext;
        else return false;
        return true;
      }
      if (ref.table === 'oauth_transactions') {
        const row = transactions.get(ref.rowKey);
        if (!row || row.verifierEnc !== ref.ciphertext) return false;
        row.verifierEnc = ciphertext;
        return true;
      }
      if (ref.table === 'connect_sessions') {
        const row = sessions.get(ref.rowKey);
        if (!row || row.payloadEnc !== ref.ciphertext) return false;
        row.payloadEnc = ciphertext;
        return true;
      }
      const row = secrets.get(ref.rowKey);
      if (!row || row.secretEnc !== ref.ciphertext) return false;
      row.secretEnc = ciphertext;
      return true;
    },
  };
  return store;
}
