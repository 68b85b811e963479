// Refresh pacing as seen from outside (docs/security.md T-C5, T-C12): the emulator's refresh counters
// read every 250 ms, and the most refreshes any window of a given length held. Counts only — the
// windows are measured between samples, so a burst shorter than a sample interval is still counted.
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { ServeProcess } from './e2e.js';

/** Milliseconds between two readings. */
export const SAMPLE_MS = 250;

/** One reading of the emulator's refresh counters. */
export interface RefreshSample {
  /** `performance.now()` when the counters were read. */
  readonly at: number;
  /** Wall clock when the counters were read (compared with stored expiry times). */
  readonly wall: number;
  /** Refresh-grant calls, every outcome. */
  readonly count: number;
  /** Successful refreshes per selling partner id. */
  readonly bySeller: Readonly<Record<string, number>>;
}

/**
 * Reads the emulator's counters every {@link SAMPLE_MS} until `done(samples)` holds or `maxMs` pass.
 *
 * @example
 * const samples = await sampleRefreshes(amazon, (s) => s.at(-1)!.count >= 300, 30_000);
 */
export async function sampleRefreshes(
  amazon: RunningEmulator,
  done: (samples: readonly RefreshSample[]) => boolean,
  maxMs: number,
): Promise<RefreshSample[]> {
  const samples: RefreshSample[] = [];
  const start = performance.now();
  for (;;) {
    const at = performance.now();
    const wall = Date.now();
    const stats = await amazon.emulator.control.stats();
    const count = Object.values(stats.token.refresh_token ?? {}).reduce((a, b) => a + b, 0);
    samples.push({ at, wall, count, bySeller: { ...stats.refresh_by_seller } });
    if (done(samples) || at - start > maxMs) return samples;
    await new Promise((r) => setTimeout(r, SAMPLE_MS - ((performance.now() - start) % SAMPLE_MS)));
  }
}

/**
 * The largest increase of `value` between two samples at most `windowMs` apart.
 *
 * @example
 * const peak = peakInWindow(samples, 1000, (s) => s.count); // refreshes in the busiest second
 */
export function peakInWindow(
  samples: readonly RefreshSample[],
  windowMs: number,
  value: (s: RefreshSample) => number,
): number {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const from = value(samples[i]!);
    for (let j = i + 1; j < samples.length && samples[j]!.at - samples[i]!.at <= windowMs; j++) {
      peak = Math.max(peak, value(samples[j]!) - from);
    }
  }
  return peak;
}

/**
 * LWA refresh attempts an instance saw fail on its side (any outcome but ok), from its /metrics:
 * such an attempt may be repeated although LWA answered it, so it may add a refresh at the emulator.
 *
 * @example
 * const failed = (await Promise.all(instances.map(lwaRefreshFailures))).reduce((a, b) => a + b, 0);
 */
export async function lwaRefreshFailures(instance: ServeProcess): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^spapi_auth_lwa_calls_total\{([^}]*)\} (\d+)$/gm)) {
    if (m[1]!.includes('grant="refresh_token"') && !m[1]!.includes('outcome="ok"')) n += Number(m[2]);
  }
  return n;
}
