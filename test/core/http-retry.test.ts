// The core's retry loop: bounded in attempts and in total time, full-jitter backoff, Retry-After.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY, backoffDelay, parseRetryAfter, withRetries } from '../../src/core/http.js';

function clock() {
  const c = { t: 0, slept: [] as number[] };
  return {
    c,
    transport: {
      now: () => c.t,
      sleep: async (ms: number) => {
        c.slept.push(ms);
        c.t += ms;
      },
      random: () => 0.5,
    },
  };
}

test('a retryable failure is retried with full-jitter backoff until an attempt succeeds', async () => {
  const { c, transport } = clock();
  let n = 0;
  const value = await withRetries(
    async () => {
      if (++n < 3) throw new Error('transient');
      return 'ok';
    },
    () => ({ retry: true }),
    { ...DEFAULT_RETRY, maxAttempts: 5 },
    transport,
  );
  assert.equal(value, 'ok');
  assert.equal(n, 3);
  assert.deepEqual(c.slept, [100, 200], 'random 0.5 of 200·2^0, then of 200·2^1');
});

test('attempts are bounded: the last error is rethrown after maxAttempts', async () => {
  const { transport } = clock();
  let n = 0;
  await assert.rejects(
    withRetries(
      async () => {
        throw new Error(`fail ${++n}`);
      },
      () => ({ retry: true }),
      { ...DEFAULT_RETRY, maxAttempts: 3 },
      transport,
    ),
    /fail 3/,
  );
  assert.equal(n, 3);
});

test('a non-retryable error ends at once; Retry-After is honoured; no retry starts past the total budget', async () => {
  const { c, transport } = clock();
  let n = 0;
  await assert.rejects(
    withRetries(
      async () => Promise.reject(new Error(`no ${++n}`)),
      () => ({ retry: false }),
      DEFAULT_RETRY,
      transport,
    ),
    /no 1/,
  );
  n = 0;
  await assert.rejects(
    withRetries(
      async () => Promise.reject(new Error(`throttled ${++n}`)),
      () => ({ retry: true, afterMs: 3_000 }),
      { ...DEFAULT_RETRY, maxAttempts: 10, maxTotalMs: 8_000 },
      transport,
    ),
    /throttled 3/,
  );
  assert.deepEqual(c.slept, [3_000, 3_000], 'a third wait would end past 8 s: the error is rethrown instead');
});

test("an aborted caller signal stops the loop with the signal's reason", async () => {
  const { transport } = clock();
  const ctl = new AbortController();
  let n = 0;
  await assert.rejects(
    withRetries(
      async () => {
        n++;
        ctl.abort(new Error('caller gave up'));
        throw new Error('transient');
      },
      () => ({ retry: true }),
      DEFAULT_RETRY,
      { ...transport, signal: ctl.signal },
    ),
    /caller gave up/,
  );
  assert.equal(n, 1);
});

test('backoff is capped, and Retry-After reads seconds or an HTTP date', () => {
  assert.equal(
    backoffDelay(10, { baseDelayMs: 200, maxDelayMs: 5_000 }, () => 0.999),
    4_995,
  );
  assert.equal(
    backoffDelay(0, { baseDelayMs: 200, maxDelayMs: 5_000 }, () => 0),
    0,
  );
  assert.equal(parseRetryAfter('3', 0), 3_000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(parseRetryAfter(new Date(1_000).toUTCString(), 4_000), 0);
  assert.equal(parseRetryAfter('soon', 0), undefined);
  assert.equal(parseRetryAfter(null, 0), undefined);
});

test('each attempt has its own timeout, which aborts a hanging attempt and is cleared once the attempt settles', async () => {
  const signals: AbortSignal[] = [];
  const hung = withRetries(
    (signal) =>
      new Promise<string>((_, reject) => {
        signals.push(signal);
        signal.addEventListener('abort', () => reject(signal.reason));
      }),
    () => ({ retry: false }),
    { ...DEFAULT_RETRY, timeoutMs: 20 },
    {},
  );
  await assert.rejects(hung, { name: 'TimeoutError' });

  const value = await withRetries(
    async (signal) => {
      signals.push(signal);
      return 'ok';
    },
    () => ({ retry: false }),
    { ...DEFAULT_RETRY, timeoutMs: 20 },
    {},
  );
  assert.equal(value, 'ok');
  // Well past the timeout: a settled attempt's timer was cleared, so its signal never fires
  // (AbortSignal.timeout would have kept it, and aborted it, until then).
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(signals[0]!.aborted, true);
  assert.equal(signals[1]!.aborted, false);
});
