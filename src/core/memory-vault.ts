/**
 * A {@link TokenVault} in memory, for library users without the service: the app adds refresh
 * tokens (from the code exchange or self-authorization) and the token manager does the rest.
 * Leases work within one process (single-flight already covers that); use the service's store for
 * several processes.
 */
import type { Region } from './marketplaces.js';
import type {
  AccessToken,
  RefreshFailure,
  RefreshLease,
  SellerTokenKey,
  SellerTokenState,
  SellerTokenStatus,
  TokenVault,
} from './token-vault.js';
import { randomToken } from './state.js';

interface Row {
  status: SellerTokenStatus;
  refreshToken: string;
  accessToken: AccessToken | null;
  version: number;
  lease: RefreshLease | null;
  lastFailure: RefreshFailure | null;
}

/**
 * The memory vault: a {@link TokenVault} plus the app-side methods.
 *
 * @example
 * const vault: MemoryTokenVault = createMemoryTokenVault();
 * vault.put({ sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' }, refreshToken);
 * vault.inspect({ sellingPartnerId: 'A1EXAMPLESELLER', region: 'na' })?.status; // 'active'
 */
export interface MemoryTokenVault extends TokenVault {
  /** Adds or replaces a seller's refresh token (re-authorization): status back to `active`. */
  put(key: SellerTokenKey, refreshToken: string): void;
  /** Forgets a seller. */
  delete(key: SellerTokenKey): boolean;
  /** Status and last refresh failure of a seller, or undefined. */
  inspect(key: SellerTokenKey): { status: SellerTokenStatus; lastFailure: RefreshFailure | null } | undefined;
}

const k = (key: SellerTokenKey): string => `${key.region satisfies Region}:${key.sellingPartnerId}`;

/**
 * Creates a memory vault.
 *
 * @example
 * const vault = createMemoryTokenVault();
 * vault.put({ sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' }, refreshToken);
 * const tokens = createTokenManager({ credentials, vault });
 */
export function createMemoryTokenVault(options: { readonly now?: () => number } = {}): MemoryTokenVault {
  const now = options.now ?? Date.now;
  const rows = new Map<string, Row>();
  const owner = `memory-${randomToken(8)}`;
  // The store's rules (the vault contract): a lease is its owner, the row version it was taken at
  // and its expiry (so a paused holder whose lease was taken again holds nothing), and it locks the
  // row whatever the status (the manager reads the status).
  const holds = (row: Row | undefined, lease: RefreshLease): row is Row =>
    row !== undefined &&
    row.lease !== null &&
    row.lease.owner === lease.owner &&
    row.lease.version === lease.version &&
    row.lease.expiresAt === lease.expiresAt;
  const snapshot = (row: Row): SellerTokenState =>
    Object.freeze({
      status: row.status,
      refreshToken: row.refreshToken,
      accessToken: row.accessToken,
      version: row.version,
    });
  return {
    put(key, refreshToken) {
      if (typeof refreshToken !== 'string' || refreshToken.length === 0)
        throw new TypeError('refreshToken is required');
      const row = rows.get(k(key));
      rows.set(k(key), {
        status: 'active',
        refreshToken,
        accessToken: null,
        version: (row?.version ?? 0) + 1,
        lease: null,
        lastFailure: null,
      });
    },
    delete: (key) => rows.delete(k(key)),
    inspect(key) {
      const row = rows.get(k(key));
      return row && { status: row.status, lastFailure: row.lastFailure };
    },
    async load(key) {
      const row = rows.get(k(key));
      return row === undefined ? null : snapshot(row);
    },
    async acquireLease(key, ttlMs) {
      const row = rows.get(k(key));
      if (row === undefined) return null;
      if (row.lease !== null && row.lease.expiresAt > now()) return null;
      row.lease = Object.freeze({ owner, version: row.version, expiresAt: now() + ttlMs });
      return row.lease;
    },
    async commitRefresh(key, lease, token, rotatedRefreshToken) {
      const row = rows.get(k(key));
      if (!holds(row, lease) || row.version !== lease.version) return false;
      row.accessToken = token;
      if (rotatedRefreshToken !== undefined) row.refreshToken = rotatedRefreshToken;
      row.version++;
      row.lease = null;
      row.lastFailure = null;
      return true;
    },
    async releaseLease(key, lease, failure) {
      const row = rows.get(k(key));
      if (!holds(row, lease)) return;
      row.lease = null;
      if (failure) row.lastFailure = failure;
    },
    async markReauthorizationRequired(key, lease, failure) {
      const row = rows.get(k(key));
      if (!holds(row, lease)) return;
      row.status = 'reauthorization_required';
      row.accessToken = null;
      row.lease = null;
      row.lastFailure = failure;
      row.version++;
    },
    async discardAccessToken(key, accessToken) {
      const row = rows.get(k(key));
      // No version bump: a refresh in flight may still commit its newer token.
      if (row?.accessToken?.accessToken === accessToken) row.accessToken = null;
    },
  };
}
