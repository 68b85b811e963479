// The revocations concern: what every instance must stop accepting at once.

/**
 * What a revocation is about: `admin_session` (subject: the session id), `api_key` (the key id),
 * `seller` (`<selling partner id>:<region>`).
 */
export type RevocationKind = 'admin_session' | 'api_key' | 'seller';

/** A recorded revocation. */
export interface RevocationRecord {
  readonly kind: RevocationKind;
  readonly subject: string;
  /** When it was recorded (the writer's clock, epoch ms). */
  readonly revokedAt: number;
  /** After this time the row may be purged (what it revoked has expired by then). */
  readonly expiresAt: number;
}

/**
 * Revocations shared by every instance on the store. `revokeApiKey` and `deleteSeller` record
 * theirs in their own transaction; admin logout records its session through {@link recordRevocation}.
 *
 * @example
 * ```ts
 * await store.recordRevocation({ kind: 'admin_session', subject: session.id, expiresAt: session.expiresAt });
 * const fresh = await store.listRevocations(lastSeen - 5000);
 * ```
 */
export interface RevocationStore {
  /** Records (or renews) a revocation and purges the expired ones. */
  recordRevocation(input: {
    readonly kind: RevocationKind;
    readonly subject: string;
    readonly expiresAt: number;
  }): Promise<void>;
  /** The revocations recorded at or after `since` that have not expired, oldest first. */
  listRevocations(since: number): Promise<RevocationRecord[]>;
  /** Whether a revocation of `subject` is recorded and not expired. */
  isRevoked(kind: RevocationKind, subject: string): Promise<boolean>;
}
