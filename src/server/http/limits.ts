/**
 * Two small per-key limiters with bounded memory, for the routes anyone can reach:
 *
 * - {@link RateLimiter}: a token bucket per key (the OAuth routes, per client address);
 * - {@link FailureThrottle}: failures per key with a doubling lock-out (password logins, per client
 *   address or per account): `check(key)` → allowed?, `failure(key)`, `success(key)`.
 *
 * Both keep at most `maxKeys` keys and forget the least recently used one first, so an attacker
 * with many addresses cannot grow them without limit. Past `maxKeys` keys, a new rate-limit key
 * inherits what was left of the one it replaces, so forgetting never hands out fresh bursts. They live in one process: with several instances the effective limit
 * is per instance. {@link addressKey} turns a client address into the key both use.
 */
import { expandIPv6, mappedIPv4 } from '../../common/ip-networks.js';

/** A limiter's answer: go on, or wait `retryAfterS` seconds (a whole number, at least 1). */
export type LimitDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterS: number };

const ALLOWED: LimitDecision = Object.freeze({ allowed: true });

/** Default of `maxKeys`: a few megabytes at most. */
export const DEFAULT_MAX_KEYS = 20_000;

/** A Map used as an LRU: reading a key moves it to the end; the first key is the least recently used. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxKeys must be a positive integer');
  }
  get size(): number {
    return this.map.size;
  }
  /** The value of `key`, now the most recently used. */
  touch(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.evictIfFull();
    this.map.set(key, value);
  }
  /** Makes room for one new key: removes and returns the least recently used value when full. */
  evictIfFull(): V | undefined {
    if (this.map.size < this.max) return undefined;
    const oldest = this.map.keys().next().value as string;
    const value = this.map.get(oldest);
    this.map.delete(oldest);
    return value;
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Sustained requests per minute per key (> 0). */
  readonly perMinute: number;
  /** Requests a key may make at once after being idle; default `perMinute`. */
  readonly burst?: number;
  /** Keys kept at most (least recently used forgotten first); default {@link DEFAULT_MAX_KEYS}. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

/**
 * A token bucket per key: `burst` requests at once, then `perMinute` a minute.
 *
 * @example
 * const limiter = new RateLimiter({ perMinute: 30 });
 * const d = limiter.take(addressKey(req.remoteAddress));
 * if (!d.allowed) return tooMany(d.retryAfterS);
 */
export class RateLimiter {
  private readonly buckets: Lru<{ tokens: number; at: number }>;
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(opts: RateLimiterOptions) {
    if (!(opts.perMinute > 0)) throw new RangeError('perMinute must be positive');
    this.perMs = opts.perMinute / 60_000;
    this.burst = opts.burst ?? opts.perMinute;
    if (!(this.burst >= 1)) throw new RangeError('burst must be at least 1');
    this.buckets = new Lru(opts.maxKeys ?? DEFAULT_MAX_KEYS);
    this.now = opts.now ?? Date.now;
  }

  /** Keys held now (at most `maxKeys`). */
  get size(): number {
    return this.buckets.size;
  }

  /** Spends one request of `key`'s bucket, or says how long until one is available. */
  take(key: string): LimitDecision {
    const at = this.now();
    let b = this.buckets.touch(key);
    if (b === undefined) {
      // A new key starts full — unless memory is full: then it starts with what the key it
      // replaces had left, so that an attacker cycling through more addresses than the limiter
      // remembers cannot turn forgetting into a fresh burst for every address.
      const evicted = this.buckets.evictIfFull();
      b = { tokens: evicted === undefined ? this.burst : this.refill(evicted, at), at };
      this.buckets.set(key, b);
    }
    b.tokens = this.refill(b, at);
    b.at = at;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return ALLOWED;
    }
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)) };
  }

  private refill(b: { tokens: number; at: number }, at: number): number {
    return Math.min(this.burst, b.tokens + Math.max(0, at - b.at) * this.perMs);
  }
}

/** Options of {@link FailureThrottle}. */
export interface FailureThrottleOptions {
  /** Failures in a row a key may have before the first lock-out; default 5. */
  readonly freeFailures?: number;
  /** The first lock-out (ms), doubled at each further failure; default 30 s. */
  readonly baseLockMs?: number;
  /** The longest lock-out (ms); default 15 minutes. */
  readonly maxLockMs?: number;
  /** A key with no failure for this long starts afresh (ms); default 1 hour. */
  readonly forgetAfterMs?: number;
  /** Keys kept at most (least recently used forgotten first); default {@link DEFAULT_MAX_KEYS}. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

/**
 * Failed attempts per key with backoff: after `freeFailures` failures in a row the key is locked
 * for `baseLockMs`, and each further failure doubles the lock-out up to `maxLockMs`. A success, or
 * `forgetAfterMs` without a failure, clears the key. Other keys are never affected.
 *
 * @example
 * const throttle = new FailureThrottle();
 * const key = addressKey(ctx.clientAddress(req));
 * const d = throttle.check(key);
 * if (!d.allowed) return tooMany(d.retryAfterS);
 * if (passwordOk) throttle.success(key); else throttle.failure(key);
 */
export class FailureThrottle {
  private readonly keys: Lru<{ failures: number; lastFailure: number; lockedUntil: number }>;
  private readonly freeFailures: number;
  private readonly baseLockMs: number;
  private readonly maxLockMs: number;
  private readonly forgetAfterMs: number;
  private readonly now: () => number;

  constructor(opts: FailureThrottleOptions = {}) {
    this.freeFailures = opts.freeFailures ?? 5;
    this.baseLockMs = opts.baseLockMs ?? 30_000;
    this.maxLockMs = opts.maxLockMs ?? 15 * 60_000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 60 * 60_000;
    if (!(this.freeFailures >= 1) || !(this.baseLockMs > 0) || !(this.maxLockMs >= this.baseLockMs)) {
      throw new RangeError('FailureThrottle: freeFailures ≥ 1 and 0 < baseLockMs ≤ maxLockMs');
    }
    this.keys = new Lru(opts.maxKeys ?? DEFAULT_MAX_KEYS);
    this.now = opts.now ?? Date.now;
  }

  /** Keys held now (at most `maxKeys`). */
  get size(): number {
    return this.keys.size;
  }

  /** Whether `key` may try now; when locked, how long until it may. Does not count as an attempt. */
  check(key: string): LimitDecision {
    const s = this.keys.touch(key);
    if (s === undefined) return ALLOWED;
    const at = this.now();
    if (s.lockedUntil > at) return { allowed: false, retryAfterS: Math.ceil((s.lockedUntil - at) / 1000) };
    return ALLOWED;
  }

  /** Records a failed attempt of `key`; returns the lock-out it now has (0 when none, ms). */
  failure(key: string): number {
    const at = this.now();
    let s = this.keys.touch(key);
    if (s === undefined || at - s.lastFailure >= this.forgetAfterMs) {
      s = { failures: 0, lastFailure: at, lockedUntil: 0 };
      this.keys.set(key, s);
    }
    s.failures++;
    s.lastFailure = at;
    if (s.failures < this.freeFailures) return 0;
    const doublings = Math.min(s.failures - this.freeFailures, 30);
    const lock = Math.min(this.maxLockMs, this.baseLockMs * 2 ** doublings);
    s.lockedUntil = at + lock;
    return lock;
  }

  /** Records a successful attempt: `key` starts afresh. */
  success(key: string): void {
    this.keys.delete(key);
  }
}

/**
 * The limit key of a client address: an IPv4 address as it is (an IPv4-mapped IPv6 address as its
 * IPv4 form), an IPv6 address as its /64 network — one host usually holds a whole /64, so keying
 * single IPv6 addresses would give it 2^64 keys. Anything else is used as it is.
 *
 * @example
 * addressKey('2001:db8:1:2:3:4:5:6'); // '2001:db8:1:2::/64'
 * addressKey('::ffff:192.0.2.7'); // '192.0.2.7'
 */
export function addressKey(address: string): string {
  const v4 = mappedIPv4(address);
  if (v4 !== undefined) return v4;
  const groups = expandIPv6(address);
  if (groups === undefined) return address;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * The network of a client address, for budgets one owner of many addresses must share: an IPv4
 * address's /24, an IPv6 address's /48 (what one site is usually given). Anything else as it is.
 *
 * @example
 * networkKey('192.0.2.7'); // '192.0.2.0/24'
 * networkKey('2001:db8:1:2::9'); // '2001:db8:1::/48'
 */
export function networkKey(address: string): string {
  const v4 = mappedIPv4(address);
  if (v4 !== undefined) return `${v4.slice(0, v4.lastIndexOf('.'))}.0/24`;
  const groups = expandIPv6(address);
  if (groups === undefined) return address;
  return `${groups
    .slice(0, 3)
    .map((g) => g.toString(16))
    .join(':')}::/48`;
}
