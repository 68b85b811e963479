// Tokens and the refresh lease over SQL: every change is a compare-and-set on lease owner and row
// version, so a lost lease writes nothing.
import type {
  AccessToken,
  RefreshFailure,
  RefreshLease,
  SellerTokenKey,
  SellerTokenState,
} from '../../core/index.js';
import {
  assertLeaseRequest,
  assertRotatedRefreshToken,
  assertSellerKey,
  assertTime,
  sellerRowKey,
} from '../shared.js';
import type { LeaseStore, SellerStatus } from '../store.js';
import type { Row, SqlContext, SqlValue } from './driver.js';
import { num, strOrNull } from './values.js';
import { writeEffects } from './effects.js';
import { REFRESH_TOKEN_FINGERPRINT, selectSeller } from './sellers.js';

/** The LeaseStore methods over the SQL driver. */
export function leaseMethods(ctx: SqlContext): LeaseStore {
  const { db, now, sealer } = ctx;
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
    if (
      typeof lease?.owner !== 'string' ||
      !Number.isSafeInteger(lease.version) ||
      !Number.isSafeInteger(lease.expiresAt)
    ) {
      throw new TypeError('lease must come from acquireRefreshLease');
    }
  }

  // A lease is its owner, the row version and its expiry: a holder whose lease expired and was
  // taken again — by another process or by its own (same owner, same version) — no longer holds it.
  const HELD =
    'selling_partner_id = ? AND region = ? AND lease_owner = ? AND version = ? AND lease_expires_at = ?';
  const held = (key: SellerTokenKey, lease: RefreshLease): SqlValue[] => [
    key.sellingPartnerId,
    key.region,
    lease.owner,
    lease.version,
    lease.expiresAt,
  ];

  return {
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
      const refreshFingerprint =
        rotatedRefreshToken === undefined
          ? null
          : sealer.fingerprint(REFRESH_TOKEN_FINGERPRINT, rotatedRefreshToken);
      // A refresher's claim on this seller ends soon after the refresh: held to the end of its
      // batch, it would hide a short-lived token past its next refresh point (requests would then
      // refresh it on demand, in bursts). Kept a little (half the new token's life, at most
      // 30 s) so another instance does not list the seller again before this one has planned it.
      const hold = claimHoldUntil(at, token.expiresAt);
      const changed = await db.run(
        `UPDATE sellers SET access_token_enc = ?, access_token_expires_at = ?, last_refresh_at = ?,
           refresh_token_enc = COALESCE(?, refresh_token_enc),
           refresh_token_fingerprint = COALESCE(?, refresh_token_fingerprint),
           refresh_claim_until = CASE WHEN refresh_claim_until > ? THEN ? ELSE refresh_claim_until END,
           last_error_code = NULL, last_error_message = NULL, last_error_at = NULL,
           lease_owner = NULL, lease_expires_at = NULL, version = version + 1, updated_at = ?
         WHERE ${HELD}`,
        [accessEnc, token.expiresAt, at, refreshEnc, refreshFingerprint, hold, hold, at, ...held(key, lease)],
      );
      return changed === 1;
    },

    async releaseRefreshLease(key, lease, failure?: RefreshFailure) {
      assertSellerKey(key);
      checkLease(lease);
      const at = now();
      const params = held(key, lease);
      const where = `WHERE ${HELD}`;
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
           WHERE ${HELD}`,
          [failure.code, failure.message ?? null, at, at, ...held(key, lease)],
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
  };
}

/** The longest a refresher's claim outlives the refresh it was taken for (ms). */
const CLAIM_HOLD_MAX_MS = 30_000;

/** Until when a claim stays after a refresh at `at` that got a token expiring at `expiresAt`. */
function claimHoldUntil(at: number, expiresAt: number): number {
  return at + Math.floor(Math.min(CLAIM_HOLD_MAX_MS, Math.max(0, (expiresAt - at) / 2)));
}
