// The API keys concern: only the SHA-256 of a key is ever stored.
import type { ChangeEffects } from './effects.js';

/**
 * A new API key; only the SHA-256 of the key is ever stored.
 *
 * @example
 * ```ts
 * await store.createApiKey({ id: 'key_1', name: 'orders', hash: sha256(key), scopes: ['tokens:read'] });
 * ```
 */
export interface ApiKeyInput {
  readonly id: string;
  readonly name: string | null;
  /** SHA-256 of the full key (hex); the lookup key. */
  readonly hash: string;
  readonly scopes: readonly string[];
}

/** A stored API key. */
export interface ApiKeyRecord extends ApiKeyInput {
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/** API keys of the token API. */
export interface ApiKeyStore {
  createApiKey(input: ApiKeyInput, effects?: ChangeEffects): Promise<ApiKeyRecord>;
  /** The key with that hash, revoked or not (the caller checks `revokedAt`). */
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Records a use (cheap; callers may throttle it). */
  touchApiKey(id: string): Promise<void>;
  /** False when no such key or already revoked. */
  revokeApiKey(id: string, effects?: ChangeEffects): Promise<boolean>;
}
