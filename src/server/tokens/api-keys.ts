/**
 * API keys for the token API: `spk_<id>_<secret>` where `id` is 16 hex characters (shown by
 * `keys list`, used in audit records) and `secret` is 32 random bytes base64url. The store keeps only
 * SHA-256 of the whole key and looks keys up by that digest, so no secret is ever compared byte by
 * byte. Verified keys are cached briefly in memory so the hot path does no database work; a
 * revocation takes effect within {@link KEY_CACHE_TTL_MS} on other instances (at once on this one).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyRecord, Store } from '../../storage/store.js';
import { HttpError, httpError } from '../http/request.js';

/**
 * The scopes a key may carry.
 *
 * @example
 * SCOPES.includes('tokens:read'); // true
 */
export const SCOPES = Object.freeze([
  'tokens:read',
  'sellers:read',
  'sellers:write',
  'connect',
  // POST /v1/notifications: hand Amazon's client-secret notifications to the service (rotation.ts).
  'notifications:write',
] as const);
export type Scope = (typeof SCOPES)[number];

/**
 * How long a verified key is trusted without asking the store again.
 *
 * @example
 * KEY_CACHE_TTL_MS; // 10000: a revoked key works at most this long on another instance
 */
export const KEY_CACHE_TTL_MS = 10_000;
const KEY_CACHE_MAX = 10_000;
const KEY_FORMAT = /^spk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/**
 * True when `value` is one of {@link SCOPES}.
 *
 * @example
 * isScope('tokens:read'); // true
 */
export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/**
 * Creates a new random key. The caller stores `{ id, hash }` and shows `key` once.
 *
 * @example
 * const { id, key, hash } = generateApiKey();
 * await store.createApiKey({ id, hash, name: 'billing', scopes: ['tokens:read'] });
 */
export function generateApiKey(): { id: string; key: string; hash: string } {
  const id = randomBytes(8).toString('hex');
  const key = `spk_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: hashApiKey(key) };
}

/**
 * SHA-256 of a key, hex: what the store keeps and looks up.
 *
 * @example
 * await store.findApiKeyByHash(hashApiKey(key));
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A key that passed verification. */
export interface VerifiedKey {
  readonly id: string;
  readonly scopes: ReadonlySet<string>;
}

/** Per-key token bucket: `rate` per second, burst `2 × rate`. */
class Bucket {
  tokens: number;
  last: number;
  constructor(capacity: number, now: number) {
    this.tokens = capacity;
    this.last = now;
  }
}

/**
 * Authenticates `Authorization: Bearer spk_…` headers against the store, with a short cache, scope
 * checks and a per-key rate limit.
 *
 * @example
 * const auth = new ApiKeyAuthenticator(store, { ratePerSecond: 100 });
 * const key = await auth.authenticate(req.header('authorization'), 'tokens:read');
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, { key: VerifiedKey; until: number }>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly touched = new Map<string, number>();
  private readonly now: () => number;
  private readonly rate: number;

  constructor(
    private readonly store: Pick<Store, 'findApiKeyByHash' | 'touchApiKey'>,
    opts: { ratePerSecond: number; now?: () => number; onFirstUse?: (key: VerifiedKey) => void },
  ) {
    this.now = opts.now ?? Date.now;
    this.rate = opts.ratePerSecond;
    this.onFirstUse = opts.onFirstUse;
  }

  private readonly onFirstUse: ((key: VerifiedKey) => void) | undefined;

  /**
   * Resolves to the verified key, or throws a 401/403/429 {@link HttpError}. `scope` is required
   * of the key.
   */
  async authenticate(header: string | undefined, scope: Scope): Promise<VerifiedKey> {
    return (
      this.authenticateCached(header, scope) ??
      this.check(await this.lookup(bearer(header), this.now()), scope)
    );
  }

  /**
   * The hot path: the verified key when it is in the cache (scope and rate limit checked, errors
   * thrown as in {@link authenticate}), or undefined when the store must be asked.
   */
  authenticateCached(header: string | undefined, scope: Scope): VerifiedKey | undefined {
    // Keyed by the whole header: a verified header needs no parsing again.
    const hit = header === undefined ? undefined : this.cache.get(header);
    if (hit === undefined || hit.until <= this.now()) {
      bearer(header); // a malformed header is a 401 here, before any store lookup
      return undefined;
    }
    return this.check(hit.key, scope);
  }

  private check(key: VerifiedKey, scope: Scope): VerifiedKey {
    if (!key.scopes.has(scope)) {
      throw httpError('insufficient_scope', `This API key lacks the ${scope} scope.`);
    }
    if (this.rate > 0) this.take(key.id, this.now());
    return key;
  }

  /** Forgets a key at once (after `keys revoke` in this process). */
  forget(id: string): void {
    for (const [raw, v] of this.cache) if (v.key.id === id) this.cache.delete(raw);
  }

  private async lookup(raw: string, now: number): Promise<VerifiedKey> {
    const record: ApiKeyRecord | null = await this.store.findApiKeyByHash(hashApiKey(raw));
    if (record === null || record.revokedAt !== null) {
      throw httpError('unauthorized', 'The API key is unknown or revoked.', WWW_AUTH);
    }
    const key: VerifiedKey = Object.freeze({ id: record.id, scopes: new Set(record.scopes) });
    if (this.cache.size >= KEY_CACHE_MAX) this.cache.clear();
    this.cache.set(`Bearer ${raw}`, { key, until: now + KEY_CACHE_TTL_MS });
    // last_used_at at most once a minute per key, off the request path.
    const last = this.touched.get(key.id);
    if (last === undefined || now - last > 60_000) {
      this.touched.set(key.id, now);
      if (last === undefined) this.onFirstUse?.(key);
      this.store.touchApiKey(key.id).catch(() => {});
    }
    return key;
  }

  private take(id: string, now: number): void {
    const capacity = this.rate * 2;
    let b = this.buckets.get(id);
    if (b === undefined) {
      b = new Bucket(capacity, now);
      this.buckets.set(id, b);
    } else {
      b.tokens = Math.min(capacity, b.tokens + ((now - b.last) * this.rate) / 1000);
      b.last = now;
    }
    if (b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
      throw httpError('rate_limited', 'Too many requests for this API key.', {
        'retry-after': String(retryAfter),
      });
    }
    b.tokens -= 1;
  }
}

const WWW_AUTH = { 'www-authenticate': 'Bearer' };

/** Extracts a well-formed key from an `Authorization` header or throws 401. */
function bearer(header: string | undefined): string {
  if (header === undefined || header.length > 200 || !header.startsWith('Bearer ')) {
    throw httpError('unauthorized', 'An API key is required: Authorization: Bearer spk_…', WWW_AUTH);
  }
  const raw = header.slice(7);
  if (!KEY_FORMAT.test(raw)) {
    throw httpError('unauthorized', 'The API key is malformed.', WWW_AUTH);
  }
  return raw;
}
