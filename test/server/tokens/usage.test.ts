// The hot set's "last used" recorder: coalesced, batched writes (no store write per token request).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SellerTokenKey } from '../../../src/core/token-vault.js';
import { createLogger } from '../../../src/server/http/log.js';
import { createUsageRecorder, usageIntervalMs } from '../../../src/server/tokens/usage.js';

const log = createLogger({ sink: () => undefined });

function recorder(intervalMs = 1000) {
  const clock = { t: 1_000_000 };
  const writes: { keys: SellerTokenKey[]; at: number }[] = [];
  const usage = createUsageRecorder({
    write: async (keys, at) => void writes.push({ keys: [...keys], at }),
    log,
    intervalMs,
    now: () => clock.t,
    timer: false,
  });
  return { clock, writes, usage };
}

test('usage: many requests for a seller in one interval → one write; the next interval → one more', async () => {
  const { clock, writes, usage } = recorder();
  for (let i = 0; i < 1000; i++) usage.touch('A1HOT', 'na');
  usage.touch('A1OTHER', 'eu');
  await usage.flush();
  assert.equal(writes.length, 1, 'one batch');
  assert.deepEqual(writes[0]!.keys, [
    { sellingPartnerId: 'A1HOT', region: 'na' },
    { sellingPartnerId: 'A1OTHER', region: 'eu' },
  ]);
  // Still inside the interval of the first use: nothing new to write.
  clock.t += 999;
  usage.touch('A1HOT', 'na');
  await usage.flush();
  assert.equal(writes.length, 1);
  clock.t += 1;
  const firstUse = clock.t;
  for (let i = 0; i < 10; i++) usage.touch('A1HOT', 'na');
  clock.t += 500;
  await usage.flush();
  assert.equal(writes.length, 2);
  assert.deepEqual(writes[1]!.keys, [{ sellingPartnerId: 'A1HOT', region: 'na' }]);
  assert.equal(writes[1]!.at, firstUse, 'stored with the first use of the batch, not the flush time');
  // The same seller id in another region is another seller.
  usage.touch('A1HOT', 'fe');
  await usage.close();
  assert.deepEqual(writes[2]!.keys, [{ sellingPartnerId: 'A1HOT', region: 'fe' }]);
});

test('usage: a failed write is logged and dropped, never thrown at the caller', async () => {
  const lines: string[] = [];
  const usage = createUsageRecorder({
    write: async () => {
      throw new Error('database down');
    },
    log: createLogger({ sink: (l) => void lines.push(l) }),
    intervalMs: 1000,
    timer: false,
  });
  usage.touch('A1', 'na');
  await usage.flush();
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /recording token use failed/);
  assert.doesNotMatch(lines[0]!, /database down/);
});

test('usage: the interval is a tenth of the idle window, from 1 s to 60 s', () => {
  assert.equal(usageIntervalMs(7200), 60_000);
  assert.equal(usageIntervalMs(40), 4_000);
  assert.equal(usageIntervalMs(1), 1_000);
});
