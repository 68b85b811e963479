/**
 * One LWA 429 pause for every instance of the service. LWA throttles per client id, so a 429 seen by
 * one instance applies to all of them: the instance that sees it publishes the end of its
 * `Retry-After` (a row in the store, raised never lowered), and every instance reads that row every
 * `pollMs` into memory, where the token manager's throttle check reads it synchronously
 * ({@link LwaThrottle}). Another instance thus stops calling LWA within one poll of the 429.
 */
import type { LwaThrottle } from '../../core/token-manager.js';
import type { Logger } from '../http/log.js';

/** The store's cluster-state row that holds the LWA 429 pause. */
export const LWA_THROTTLE = 'lwa_throttle';

/** Where the pause lives: the store's cluster-state row. */
export interface ThrottleBackend {
  /** Raises the stored pause end to `untilMs` (keeps a later one). */
  publish(untilMs: number): Promise<void>;
  /** The stored pause end (epoch ms; 0 when none). */
  read(): Promise<number>;
}

/** Options of {@link createClusterThrottle}. */
export interface ClusterThrottleOptions {
  readonly backend: ThrottleBackend;
  readonly log: Logger;
  /** How often the stored pause is read; default 500 ms. */
  readonly pollMs?: number;
  readonly now?: () => number;
}

/** An {@link LwaThrottle} over the store, with a poll loop to stop on shutdown. */
export interface ClusterThrottle extends LwaThrottle {
  /** Reads the stored pause now (the poll does it every `pollMs`). */
  poll(): Promise<void>;
  /** Stops polling and waits for a publish in flight. */
  close(): Promise<void>;
}

/**
 * Builds the shared throttle and starts polling.
 *
 * @example
 * const throttle = createClusterThrottle({ backend: storeThrottleBackend(store), log });
 * createTokenManager({ ...options, throttle });
 */
export function createClusterThrottle(opts: ClusterThrottleOptions): ClusterThrottle {
  const { backend, log } = opts;
  const now = opts.now ?? Date.now;
  let until = 0;
  let publishing: Promise<void> = Promise.resolve();
  let published = 0;

  const poll = async (): Promise<void> => {
    try {
      until = Math.max(until, await backend.read());
    } catch (err) {
      log.warn('reading the cluster LWA throttle failed', { error_name: (err as Error)?.name ?? 'Error' });
    }
  };
  const timer = setInterval(() => void poll(), opts.pollMs ?? 500);
  timer.unref();
  void poll();

  return {
    pausedUntil: () => until,
    pauseUntil(untilMs) {
      if (!Number.isFinite(untilMs)) return;
      until = Math.max(until, untilMs);
      // One write per new pause end, not one per call that saw the same 429.
      if (untilMs <= published || untilMs <= now()) return;
      published = untilMs;
      publishing = publishing.then(() =>
        backend.publish(untilMs).catch((err: unknown) => {
          log.warn('publishing the LWA throttle to the cluster failed', {
            error_name: (err as Error)?.name ?? 'Error',
          });
        }),
      );
    },
    poll,
    async close() {
      clearInterval(timer);
      await publishing;
    },
  };
}
