// The unattended-rotation concern: a cluster-wide lease (one consumer of the notification queue at a
// time), the notifications set aside because they could not be applied, and the client-secret
// rotations with their state.
import type { ChangeEffects } from './effects.js';

/** A cluster-wide lease: who holds a job, and until when. */
export interface ClusterLease {
  readonly name: string;
  readonly owner: string;
  readonly expiresAt: number;
  /** When this owner took it (kept across renewals). */
  readonly acquiredAt: number;
}

/** A notification kept aside, with why it could not be applied. */
export interface NotificationAsideInput extends ChangeEffects {
  /** The queue's message id (or the notification's id): one row per message. */
  readonly id: string;
  readonly notificationId: string | null;
  readonly notificationType: string | null;
  /** A stable code, e.g. `client_id_mismatch`. */
  readonly code: string;
  /** What went wrong, in words (never a secret). */
  readonly reason: string;
  /** The message body as received; stored encrypted (a new-secret notification holds a secret). */
  readonly body: string;
}

/** A stored notification kept aside, decrypted. */
export interface NotificationAsideRecord extends Omit<NotificationAsideInput, 'events' | 'audit'> {
  readonly setAsideAt: number;
}

/** Where an unattended rotation of one deadline stands. */
export type SecretRotationState = 'due' | 'requested' | 'installed' | 'retired' | 'failed';

/** One client-secret deadline and what the unattended rotation did about it. */
export interface SecretRotationRecord {
  readonly id: string;
  readonly clientId: string;
  /** When the secret in use stops working at Amazon. */
  readonly deadlineAt: number;
  /** `notice` (Amazon's expiry notification) or `age` (the stored secret's expiry). */
  readonly source: 'notice' | 'age';
  readonly state: SecretRotationState;
  /** Rotation requests made for this deadline. */
  readonly attempts: number;
  /** The instance that made the last request. */
  readonly owner: string | null;
  readonly requestedAt: number | null;
  readonly installedAt: number | null;
  /** Until when the replaced secret is kept (Amazon's `oldClientSecretExpiryTime`). */
  readonly oldExpiresAt: number | null;
  /** When the secret that met this deadline expires: the next deadline. */
  readonly newExpiresAt: number | null;
  readonly lastErrorCode: string | null;
  /** A failed rotation is tried again from then on. */
  readonly retryAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a state change sets besides the state (absent fields are left as they are). */
export interface SecretRotationChange {
  readonly state: SecretRotationState;
  readonly owner?: string;
  readonly requestedAt?: number;
  readonly installedAt?: number;
  readonly oldExpiresAt?: number;
  readonly newExpiresAt?: number;
  readonly lastErrorCode?: string | null;
  readonly retryAt?: number | null;
  /** Count one more rotation request. */
  readonly countAttempt?: boolean;
}

/** The lease, the notifications kept aside and the rotations. */
export interface RotationStore {
  /**
   * Takes the lease `name` for `owner` for `ttlMs` when nobody holds it, its holder's lease
   * lapsed, or `owner` holds it already (a renewal); null when another owner holds it.
   */
  acquireClusterLease(name: string, owner: string, ttlMs: number): Promise<ClusterLease | null>;
  /** Gives the lease up if `owner` holds it. */
  releaseClusterLease(name: string, owner: string): Promise<boolean>;
  /** The lease as stored (possibly lapsed), or null. */
  readClusterLease(name: string): Promise<ClusterLease | null>;

  /** Keeps a notification aside with its effects; false (nothing written) when `id` is already kept. */
  setNotificationAside(input: NotificationAsideInput): Promise<boolean>;
  /** The notifications kept aside, newest first. */
  listNotificationsAside(query?: { readonly limit?: number }): Promise<NotificationAsideRecord[]>;
  countNotificationsAside(): Promise<number>;

  /**
   * The rotation of (`clientId`, `deadlineAt`), created in state `due` (with `effects`) when absent;
   * `created` says which.
   */
  openSecretRotation(
    input: { readonly clientId: string; readonly deadlineAt: number; readonly source: 'notice' | 'age' },
    effects?: ChangeEffects,
  ): Promise<{ record: SecretRotationRecord; created: boolean }>;
  /**
   * Compare-and-set: applies `change` (and writes `effects`) only while the rotation is in one of
   * `from` — and, when `readyBy` is given, its `retryAt` is unset or not after it. Returns the
   * changed record, or null when another instance moved it first.
   */
  transitionSecretRotation(
    id: string,
    from: readonly SecretRotationState[],
    change: SecretRotationChange,
    effects?: ChangeEffects & { readonly readyBy?: number },
  ): Promise<SecretRotationRecord | null>;
  /** The rotations of a client id, latest deadline first. */
  listSecretRotations(clientId: string, limit?: number): Promise<SecretRotationRecord[]>;
}
