/**
 * What stands between the token manager and LWA: the app-wide 429 throttle and the circuit breaker.
 * Both are per application, not per seller, because LWA limits and fails per client id: a 429 with
 * `Retry-After` holds back every LWA call of the app until it passes, and consecutive failures open
 * the breaker so that still-valid cached tokens are served instead of calling a failing LWA.
 */
import { LwaError, isSpapiAuthError, type ErrorCode } from './errors.js';
import type { SleepFn } from './http.js';

/**
 * The app-wide LWA pause after a 429. The manager pauses it when LWA answers 429 with
 * `Retry-After` and reads it before every LWA call; give the manager your own (see
 * {@link createLwaThrottle}'s `onPause`) to share the pause between instances.
 */
export interface LwaThrottle {
  /** Epoch ms before which no LWA call is made; 0 (or a past time) when not paused. */
  pausedUntil(): number;
  /** Holds back LWA calls until `until` (epoch ms). A pause never shortens one already in force. */
  pauseUntil(until: number): void;
}

/** Options of {@link createLwaThrottle}. */
export interface LwaThrottleOptions {
  /**
   * Told of every pause that extends the current one (epoch ms), e.g. to publish it to the other
   * instances, which then call `pauseUntil` on theirs.
   */
  readonly onPause?: (until: number) => void;
}

/**
 * The in-process throttle the manager uses by default.
 *
 * @example
 * const throttle = createLwaThrottle({ onPause: (until) => cluster.publishPause(until) });
 * cluster.onPause((until) => throttle.pauseUntil(until));
 * const tokens = createTokenManager({ credentials, vault, throttle });
 */
export function createLwaThrottle(options: LwaThrottleOptions = {}): LwaThrottle {
  let until = 0;
  return {
    pausedUntil: () => until,
    pauseUntil(next) {
      if (!Number.isFinite(next) || next <= until) return;
      until = next;
      options.onPause?.(next);
    },
  };
}

/**
 * The error of a call refused because of the throttle.
 *
 * @example
 * throw throttleError(2_000);
 */
export function throttleError(retryAfterMs: number): LwaError {
  return new LwaError(
    'upstream_unavailable',
    'LWA throttled this app (429): not calling it before Retry-After',
    {
      retryAfterMs,
    },
  );
}

/**
 * The error of a call refused because the breaker is open.
 *
 * @example
 * throw breakerError(30_000);
 */
export function breakerError(retryAfterMs: number): LwaError {
  return new LwaError('upstream_unavailable', 'LWA circuit breaker is open: not calling LWA for now', {
    retryAfterMs,
  });
}

/** The state of the LWA circuit breaker. */
export interface BreakerState {
  readonly state: 'closed' | 'open' | 'half_open';
  readonly consecutiveFailures: number;
  /** Epoch ms until which no LWA call is made (open, or throttled by a 429 `Retry-After`). */
  readonly openUntil: number;
}

/** Circuit breaker bounds for LWA (one breaker for the whole app: LWA limits per client id). */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  readonly failureThreshold?: number;
  /** How long it stays open before one probe is let through. Default 30,000 ms. */
  readonly cooldownMs?: number;
}

/** What the guard reports: the breaker opening (with the failure's code) and closing. */
export type GuardEvent =
  { readonly type: 'breaker_open'; readonly code: ErrorCode } | { readonly type: 'breaker_close' };

/** Options of {@link createLwaGuard}. */
export interface LwaGuardOptions {
  readonly now: () => number;
  readonly sleep: SleepFn;
  readonly throttle: LwaThrottle;
  readonly breaker?: BreakerOptions;
  /** A retry that would have to wait past this for the throttle gives up instead. */
  readonly maxRetryWaitMs: number;
  readonly onEvent: (event: GuardEvent) => void;
}

/** The throttle and the breaker, as the manager uses them around each LWA call. */
export interface LwaGuard {
  /** For the LWA client's `onThrottle`: a 429 just arrived with this `Retry-After`. */
  onThrottle(retryAfterMs: number): void;
  /** For the LWA client's `sleep`: a retry waits for the throttle too, or gives up past the retry budget. */
  readonly sleep: SleepFn;
  /** How long the throttle still holds calls back (≤ 0: not at all). */
  throttledFor(): number;
  /** How long the breaker would refuse a call now, or undefined (does not take the half-open probe). */
  breakerBlocked(): number | undefined;
  /**
   * One LWA call through the throttle and the breaker. A 429 seen since the caller's own check (or
   * by a caller without one) is waited out when it ends before `deadline` and the caller has no
   * still-valid token to fall back on; otherwise the call is refused without counting as a failure.
   */
  call<T>(call: () => Promise<T>, deadline: number, hasStale: boolean): Promise<T>;
  /** For health pages: the breaker, open also while throttled. */
  state(): BreakerState;
}

/**
 * Creates the guard.
 *
 * @example
 * const guard = createLwaGuard({ now, sleep, throttle: createLwaThrottle(), maxRetryWaitMs: 8_000, onEvent });
 * const res = await guard.call(() => refreshAccessToken(creds, rt, { sleep: guard.sleep, onThrottle: guard.onThrottle }), deadline, false);
 */
export function createLwaGuard(options: LwaGuardOptions): LwaGuard {
  const { now, sleep, throttle, onEvent } = options;
  const threshold = options.breaker?.failureThreshold ?? 5;
  const cooldownMs = options.breaker?.cooldownMs ?? 30_000;
  const probeRetryMs = Math.max(1000, cooldownMs / 10);
  let failures = 0;
  let openUntil = 0;
  let probing = false;

  const throttledFor = (): number => throttle.pausedUntil() - now();

  const allow = (): number | undefined => {
    const t = now();
    if (t < openUntil) return openUntil - t;
    if (failures >= threshold) {
      if (probing) return probeRetryMs;
      probing = true;
    }
    return undefined;
  };
  const success = (): void => {
    const wasOpen = failures >= threshold;
    failures = 0;
    probing = false;
    if (wasOpen) onEvent({ type: 'breaker_close' });
  };
  const failure = (err: unknown): void => {
    probing = false;
    // A seller's invalid_grant or a spent code says nothing about LWA's health.
    if (
      !isSpapiAuthError(err) ||
      err.code === 'reauthorization_required' ||
      err.code === 'authorization_code_invalid'
    ) {
      return;
    }
    failures++;
    if (failures >= threshold) {
      openUntil = Math.max(openUntil, now() + cooldownMs);
      onEvent({ type: 'breaker_open', code: err.code });
    }
  };

  return {
    onThrottle: (retryAfterMs) => throttle.pauseUntil(now() + retryAfterMs),
    sleep: async (ms, signal) => {
      await sleep(ms, signal);
      const rest = throttledFor();
      if (rest > 0) {
        if (rest > options.maxRetryWaitMs) throw throttleError(rest);
        await sleep(rest, signal);
      }
    },
    throttledFor,
    breakerBlocked() {
      const t = now();
      if (t < openUntil) return openUntil - t;
      if (failures >= threshold && probing) return probeRetryMs;
      return undefined;
    },
    async call(call, deadline, hasStale) {
      const pausedFor = throttledFor();
      if (pausedFor > 0) {
        if (hasStale || now() + pausedFor > deadline) throw throttleError(pausedFor);
        await sleep(pausedFor);
      }
      const refusedFor = allow();
      if (refusedFor !== undefined) throw breakerError(refusedFor);
      try {
        const res = await call();
        success();
        return res;
      } catch (err) {
        failure(err);
        throw err;
      }
    },
    state() {
      const t = now();
      const until = Math.max(openUntil, throttle.pausedUntil());
      return Object.freeze({
        state: t < until ? 'open' : failures >= threshold ? 'half_open' : 'closed',
        consecutiveFailures: failures,
        openUntil: until,
      });
    },
  };
}
