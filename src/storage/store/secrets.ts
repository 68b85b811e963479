// The client secrets concern: LWA client secrets kept for rotation, sealed at rest.
import type { ChangeEffects } from './effects.js';

/**
 * An LWA client secret kept for rotation.
 *
 * @example
 * ```ts
 * await store.saveAppSecret({ id: randomUUID(), clientId, secret: newSecret, expiresAt: null });
 * ```
 */
export interface AppSecretInput extends ChangeEffects {
  readonly id: string;
  readonly clientId: string;
  /** Stored encrypted. */
  readonly secret: string;
  /** When the secret stops working at Amazon, or null when unknown. */
  readonly expiresAt: number | null;
}

/** A stored client secret, decrypted. */
export interface AppSecretRecord {
  readonly id: string;
  readonly clientId: string;
  readonly secret: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

/** LWA client secrets. */
export interface AppSecretStore {
  saveAppSecret(input: AppSecretInput): Promise<AppSecretRecord>;
  /** Secrets of one client id, newest first, decrypted. */
  listAppSecrets(clientId: string): Promise<AppSecretRecord[]>;
  /** Sets or changes when a secret expires (e.g. the old one once the new is accepted). */
  setAppSecretExpiry(id: string, expiresAt: number | null): Promise<boolean>;
  deleteAppSecret(id: string): Promise<boolean>;
}
