// The leases concern: a seller's tokens and the refresh lease (the TokenVault protocol, see
// core/token-vault.ts).
import type {
  AccessToken,
  RefreshFailure,
  RefreshLease,
  SellerTokenKey,
  SellerTokenState,
} from '../../core/index.js';
import type { ChangeEffects } from './effects.js';
// Named in the TSDoc links below.
import type { StorageIntegrityError } from '../errors.js';
import type { RefreshStore } from './refresh.js';
import type { SellerStore } from './sellers.js';

/** A seller's tokens and the refresh lease, with owner, expiry and compare-and-set on the version. */
export interface LeaseStore {
  /** The decrypted tokens; throws {@link StorageIntegrityError} when a ciphertext fails authentication. */
  loadTokens(key: SellerTokenKey): Promise<SellerTokenState | null>;
  /**
   * Takes the lease for `owner` when no unexpired lease is held — by anyone, `owner` included (then
   * null): several callers in one process sharing an owner id still get one lease between them.
   * The returned `version` is the row's current one; a caller that loaded an older version should
   * re-load instead of refreshing (someone committed in between).
   */
  acquireRefreshLease(key: SellerTokenKey, owner: string, ttlMs: number): Promise<RefreshLease | null>;
  /**
   * Compare-and-set on owner and version: stores the access token — and `rotatedRefreshToken`,
   * sealed like the refresh token of {@link SellerStore.saveAuthorization}, when LWA rotated it — records
   * the refresh and releases the lease, in one write; false (nothing written) when the lease was lost.
   * A refresher's claim on the seller ({@link RefreshStore.claimRefreshDue}) is shortened in the same
   * write to half the new token's life from now, at most 30 s, so the seller is listed again before
   * its next refresh point.
   */
  commitRefresh(
    key: SellerTokenKey,
    lease: RefreshLease,
    token: AccessToken,
    rotatedRefreshToken?: string,
  ): Promise<boolean>;
  /** Releases the lease if still held by `lease.owner` at `lease.version`, recording the failure. */
  releaseRefreshLease(key: SellerTokenKey, lease: RefreshLease, failure?: RefreshFailure): Promise<void>;
  /**
   * Marks `reauthorization_required` and releases the lease if still ours at `lease.version`,
   * with its events and audit; false when the lease was lost (nothing written).
   */
  markReauthorizationRequired(
    key: SellerTokenKey,
    lease: RefreshLease,
    failure: RefreshFailure,
    effects?: ChangeEffects,
  ): Promise<boolean>;
  /** Drops the cached access token if it is still `accessToken`. */
  discardAccessToken(key: SellerTokenKey, accessToken: string): Promise<void>;
}
