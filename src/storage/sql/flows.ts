// OAuth transactions and single-use sessions over SQL: consumed by one conditional UPDATE, so one
// concurrent consumer wins.
import {
  assertRegion,
  assertSessionType,
  assertTime,
  DEFAULT_PURGE_GRACE_MS,
  DELIVERED_EVENT_RETENTION_MS,
  toJson,
} from '../shared.js';
import type {
  ConsumeResult,
  FlowStore,
  OAuthTransaction,
  OAuthTransactionInput,
  SessionInput,
  SessionRecord,
  SessionType,
} from '../store.js';
import type { Row, SqlContext, SqlValue } from './driver.js';
import { num, numOrNull, strOrNull } from './values.js';

/** Rows deleted per table by one `trimPendingFlows` call at most (the caller trims often). */
const TRIM_BATCH = 100_000;

/** The FlowStore methods over the SQL driver. */
export function flowMethods(ctx: SqlContext): FlowStore {
  const { db, now, sealer } = ctx;
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

  /** Inserts a transaction; `ifAbsent`: a row already under its state hash is kept, unchanged. */
  async function insertTransaction(input: OAuthTransactionInput, ifAbsent: boolean): Promise<void> {
    assertRegion(input.region);
    assertTime(input.expiresAt, 'expiresAt');
    const verifierEnc =
      input.pkceVerifier === null
        ? null
        : sealer.seal('oauth_transactions', 'pkce_verifier', input.stateHash, input.pkceVerifier);
    await db.run(
      `INSERT INTO oauth_transactions (state_hash, binding_hash, flow, kind, marketplace, region, user_ref, return_to,
           expected_selling_partner_id, pkce_verifier_enc, created_at, expires_at, consumed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)${ifAbsent ? ' ON CONFLICT DO NOTHING' : ''}`,
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
  }

  /** Inserts a session; `ifAbsent` as for {@link insertTransaction}. */
  async function insertSession(input: SessionInput, ifAbsent: boolean): Promise<void> {
    assertSessionType(input.type);
    assertTime(input.expiresAt, 'expiresAt');
    const payloadEnc = sealer.seal('connect_sessions', 'payload', input.tokenHash, toJson(input.payload));
    await db.run(
      `INSERT INTO connect_sessions (token_hash, type, payload_enc, created_at, expires_at, consumed_at)
         VALUES (?, ?, ?, ?, ?, NULL)${ifAbsent ? ' ON CONFLICT DO NOTHING' : ''}`,
      [input.tokenHash, input.type, payloadEnc, now(), input.expiresAt],
    );
  }

  const methods: FlowStore = {
    createOAuthTransaction: (input) => insertTransaction(input, false),

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

    createSession: (input) => insertSession(input, false),

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

    async trimPendingFlows(keep: number) {
      if (!Number.isSafeInteger(keep) || keep < 0)
        throw new RangeError('keep must be a non-negative integer');
      // The newest `keep` by (created_at, key) stay; at most TRIM_BATCH older ones go per call.
      // Website-flow transactions are never trimmed: each comes from a connect link made with an
      // API key (or by an operator), so an anonymous flood cannot add any.
      let n = await db.run(
        `DELETE FROM oauth_transactions WHERE state_hash IN (
           SELECT state_hash FROM oauth_transactions WHERE consumed_at IS NULL AND flow <> 'website'
           ORDER BY created_at DESC, state_hash DESC LIMIT ? OFFSET ?)`,
        [TRIM_BATCH, keep],
      );
      n += await db.run(
        `DELETE FROM connect_sessions WHERE token_hash IN (
           SELECT token_hash FROM connect_sessions WHERE type = 'appstore' AND consumed_at IS NULL
           ORDER BY created_at DESC, token_hash DESC LIMIT ? OFFSET ?)`,
        [TRIM_BATCH, keep],
      );
      return n;
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

    carriedMac: (purpose, body, kid = sealer.activeKid()) =>
      sealer.fingerprintWith(`carried.${purpose}`, body, kid),

    // Insert-if-absent, then the one conditional UPDATE of consume: of any number of claims of one
    // state (on any instance), exactly one finds the row unconsumed.
    async claimOAuthTransaction(input) {
      await insertTransaction(input, true);
      return methods.consumeOAuthTransaction(input.stateHash, input.bindingHash);
    },

    async claimSession(input) {
      await insertSession(input, true);
      return methods.consumeSession(input.tokenHash, input.type);
    },
  };
  return methods;
}
