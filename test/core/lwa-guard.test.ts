// The LWA throttle (a 429's Retry-After holds every call back) and the circuit breaker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthorizationError, LwaError } from '../../src/core/errors.js';
import {
  createLwaGuard,
  createLwaThrottle,
  type GuardEvent,
  type LwaThrottle,
} from '../../src/core/lwa-guard.js';

function setup(over: { throttle?: LwaThrottle; threshold?: number } = {}) {
  const clock = { t: 1_000_000 };
  const slept: number[] = [];
  const events: GuardEvent[] = [];
  const guard = createLwaGuard({
    now: () => clock.t,
    sleep: async (ms) => {
      slept.push(ms);
      clock.t += ms;
    },
    throttle: over.throttle ?? createLwaThrottle(),
    breaker: { failureThreshold: over.threshold ?? 3, cooldownMs: 30_000 },
    maxRetryWaitMs: 8_000,
    onEvent: (e) => events.push(e),
  });
  return { clock, slept, events, guard };
}
const down = () => new LwaError('upstream_unavailable', 'LWA 503', { status: 503 });

test('the throttle only ever extends its pause, and tells onPause of each extension', () => {
  const seen: number[] = [];
  const throttle = createLwaThrottle({ onPause: (until) => seen.push(until) });
  assert.equal(throttle.pausedUntil(), 0);
  throttle.pauseUntil(5_000);
  throttle.pauseUntil(3_000);
  throttle.pauseUntil(Number.NaN);
  throttle.pauseUntil(9_000);
  assert.equal(throttle.pausedUntil(), 9_000);
  assert.deepEqual(seen, [5_000, 9_000]);
});

test('a 429 seen by the LWA client pauses every call: waited out within the deadline, refused past it or with a stale token', async () => {
  const { guard, clock, slept } = setup();
  guard.onThrottle(2_000);
  assert.equal(guard.throttledFor(), 2_000);
  let calls = 0;
  const call = async () => ++calls;
  await assert.rejects(
    guard.call(call, clock.t + 60_000, true),
    (e: unknown) => e instanceof LwaError && e.retryAfterMs === 2_000,
  );
  await assert.rejects(guard.call(call, clock.t + 1_000, false), /throttled/);
  assert.equal(calls, 0, 'no call while paused');
  assert.equal(await guard.call(call, clock.t + 60_000, false), 1);
  assert.deepEqual(slept, [2_000]);
  assert.equal(guard.state().state, 'closed');
});

test("a retry's sleep waits for the pause too, and gives up when the pause outlasts the retry budget", async () => {
  const { guard, slept } = setup();
  await guard.sleep(100);
  assert.deepEqual(slept, [100]);
  guard.onThrottle(3_000);
  await guard.sleep(100);
  assert.deepEqual(slept, [100, 100, 2_900]);
  guard.onThrottle(60_000);
  await assert.rejects(guard.sleep(100), /throttled/);
});

test('a pause imposed from outside (another instance) holds calls back, and shows as open', async () => {
  const throttle = createLwaThrottle();
  const { guard, clock } = setup({ throttle });
  throttle.pauseUntil(clock.t + 5_000);
  assert.equal(guard.state().state, 'open');
  assert.equal(guard.state().openUntil, clock.t + 5_000);
  await assert.rejects(
    guard.call(async () => 1, clock.t + 1_000, false),
    /throttled/,
  );
});

test('the breaker opens after the threshold of failures, lets one probe through after the cooldown, and closes on success', async () => {
  const { guard, clock, events } = setup({ threshold: 3 });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      guard.call(async () => Promise.reject(down()), Infinity, false),
      /LWA 503/,
    );
  }
  assert.deepEqual(events, [{ type: 'breaker_open', code: 'upstream_unavailable' }]);
  assert.equal(guard.state().state, 'open');
  assert.equal(guard.breakerBlocked(), 30_000);
  let calls = 0;
  await assert.rejects(
    guard.call(async () => ++calls, Infinity, false),
    /circuit breaker is open/,
  );
  assert.equal(calls, 0);
  clock.t += 30_000;
  assert.equal(guard.state().state, 'half_open');
  assert.equal(guard.breakerBlocked(), undefined, 'looking does not take the probe');
  const gate: { release?: () => void } = {};
  const probe = guard.call(
    () => new Promise<number>((res) => (gate.release = () => res(++calls))),
    Infinity,
    false,
  );
  await assert.rejects(
    guard.call(async () => ++calls, Infinity, false),
    /circuit breaker is open/,
    'one probe at a time',
  );
  assert.equal(guard.breakerBlocked(), 3_000);
  gate.release!();
  assert.equal(await probe, 1);
  assert.equal(guard.state().state, 'closed');
  assert.deepEqual(events.at(-1), { type: 'breaker_close' });
});

test("a seller's invalid_grant and errors that are not the library's do not count as LWA failures", async () => {
  const { guard } = setup({ threshold: 1 });
  await assert.rejects(
    guard.call(
      async () => Promise.reject(new AuthorizationError('reauthorization_required', 'x')),
      Infinity,
      false,
    ),
  );
  await assert.rejects(guard.call(async () => Promise.reject(new Error('a bug')), Infinity, false));
  assert.equal(guard.state().consecutiveFailures, 0);
  assert.equal(guard.state().state, 'closed');
});
