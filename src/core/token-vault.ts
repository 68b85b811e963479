/**
 * The seam between the token manager (core) and wherever refresh tokens live (the storage layer in
 * the service; memory for library users). The manager owns the policy — caching, margins,
 * single-flight, retries, what an LWA error means — and the vault owns durability and the
 * cluster-wide refresh lease. Every method is one atomic step in the vault.
 *
 * The protocol for one refresh of a (seller, region):
 * 1. `load` — if the shared access token is still fresh, use it (another instance refreshed it).
 * 2. `acquireLease(ttl)` — if another owner holds an unexpired lease, wait (re-`load` with backoff,
 *    and try the lease again about once a second) until a fresher token appears or the lease is
 *    ours. A lease taken on a row whose `version` differs from the one loaded means another
 *    instance wrote meanwhile: release it and look again rather than refresh a second time.
 * 3. Call LWA outside any database transaction.
 * 4. `commitRefresh` — compare-and-set on the lease and row version: a holder whose lease expired
 *    and was taken over (a paused process) cannot overwrite a newer token; it gets `false` and
 *    re-`load`s. When LWA answered the refresh with a different refresh token (rotation: Amazon
 *    does not rotate today, but a client that dropped a rotated token would lock the seller out),
 *    the manager passes it as `rotatedRefreshToken` and the vault stores it in the same
 *    compare-and-set as the access token — never one without the other.
 *    Or `releaseLease` after a transient failure, or `markReauthorizationRequired` after
 *    `invalid_grant`.
 */
import type { Region } from './marketplaces.js';

/**
 * Identifies one authorization: a selling partner in one region (each region has its own refresh token).
 *
 * @example
 * const key: SellerTokenKey = { sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' };
 */
export interface SellerTokenKey {
  readonly sellingPartnerId: string;
  readonly region: Region;
}

/**
 * An LWA access token and Amazon's expiry for it.
 *
 * @example
 * const t: AccessToken = await tokens.getAccessToken(key);
 * fetch(url, { headers: { 'x-amz-access-token': t.accessToken } }); // valid until t.expiresAt
 */
export interface AccessToken {
  readonly accessToken: string;
  /** Epoch milliseconds at which Amazon considers the token expired, computed from the time *before* the request was sent. */
  readonly expiresAt: number;
}

/**
 * Every status an authorization can have: usable, or refused by LWA (`invalid_grant`) until the
 * seller authorizes again. There is no `revoked`: Amazon answers a seller's revocation and the lapse
 * of the 365-day authorization alike (`invalid_grant`, "User may have revoked or didn't grant the
 * permission"), and documents no way to tell them apart, so both are `reauthorization_required`.
 *
 * @example
 * SELLER_TOKEN_STATUSES.includes('active'); // true
 */
export const SELLER_TOKEN_STATUSES = Object.freeze(['active', 'reauthorization_required'] as const);

/** Where an authorization stands (one of {@link SELLER_TOKEN_STATUSES}). */
export type SellerTokenStatus = (typeof SELLER_TOKEN_STATUSES)[number];

/** What the vault knows of one authorization, secrets decrypted. */
export interface SellerTokenState {
  readonly status: SellerTokenStatus;
  readonly refreshToken: string;
  /** The access token shared by every instance, or null when none was stored. */
  readonly accessToken: AccessToken | null;
  /** Row version; bumped by every write. */
  readonly version: number;
}

/** A held refresh lease. Opaque to the manager except for logging. */
export interface RefreshLease {
  readonly owner: string;
  /** The row version at the moment the lease was taken; commits compare against it. */
  readonly version: number;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/** A refresh failure as recorded on the seller (never a token or a body). */
export interface RefreshFailure {
  /** A stable error code (see docs/errors.md). */
  readonly code: string;
  readonly message?: string;
}

/**
 * Where refresh tokens live, for the token manager: {@link createMemoryTokenVault}, the service's
 * store (`createStoreTokenVault` of `spapi-auth/storage`), or your own. The protocol of one refresh
 * is described at the top of this module.
 *
 * @example
 * const tokens = createTokenManager({ credentials, vault: createMemoryTokenVault() });
 */
export interface TokenVault {
  /** The current state, or null when the vault has no such authorization. */
  load(key: SellerTokenKey): Promise<SellerTokenState | null>;
  /** Takes the refresh lease for `ttlMs`, or returns null when another owner holds an unexpired one. */
  acquireLease(key: SellerTokenKey, ttlMs: number): Promise<RefreshLease | null>;
  /**
   * Stores the new access token and releases the lease, only if the lease is still ours
   * (compare-and-set). `rotatedRefreshToken`, when given, replaces the stored refresh token in the
   * same atomic step; on a lost lease nothing is stored (`false`).
   */
  commitRefresh(
    key: SellerTokenKey,
    lease: RefreshLease,
    token: AccessToken,
    rotatedRefreshToken?: string,
  ): Promise<boolean>;
  /** Releases the lease without a new token, recording the failure. Idempotent; a lost lease is ignored. */
  releaseLease(key: SellerTokenKey, lease: RefreshLease, failure?: RefreshFailure): Promise<void>;
  /** Marks the authorization `reauthorization_required` (after `invalid_grant`) and releases the lease. */
  markReauthorizationRequired(
    key: SellerTokenKey,
    lease: RefreshLease,
    failure: RefreshFailure,
  ): Promise<void>;
  /** Drops a shared access token that SP-API rejected early (403), if it is still the stored one. */
  discardAccessToken?(key: SellerTokenKey, accessToken: string): Promise<void>;
}
