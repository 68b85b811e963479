// The per-key limiters (http/limits.ts) and the client-address function (http/client-address.ts):
// token bucket arithmetic, failure backoff, bounded memory under many keys, address keys, and
// X-Forwarded-For parsing against trusted proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureThrottle, RateLimiter, addressKey } from '../../../src/server/http/limits.js';
import { expandIPv6, parseTrustedProxies } from '../../../src/common/ip-networks.js';
import { createClientAddress } from '../../../src/server/http/client-address.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('RateLimiter: a burst, then perMinute a minute, per key; Retry-After says when the next one comes', () => {
  const c = clock();
  const limiter = new RateLimiter({ perMinute: 6, burst: 3, now: c.now });
  const take = (k: string) => limiter.take(k);
  assert.ok(take('a').allowed && take('a').allowed && take('a').allowed);
  const refused = take('a');
  assert.deepEqual(refused, { allowed: false, retryAfterS: 10 });
  assert.ok(take('b').allowed, 'another key has its own bucket');
  c.advance(9_999);
  assert.equal(take('a').allowed, false);
  c.advance(1);
  assert.ok(take('a').allowed, 'one every 10 s at 6 a minute');
  assert.equal(take('a').allowed, false);
  // Idle for an hour: the bucket holds the burst, not an hour's worth.
  c.advance(3_600_000);
  for (let i = 0; i < 3; i++) assert.ok(take('a').allowed);
  assert.equal(take('a').allowed, false);
});

test('RateLimiter: the default burst is perMinute; refusals do not spend', () => {
  const c = clock();
  const limiter = new RateLimiter({ perMinute: 30, now: c.now });
  let ok = 0;
  for (let i = 0; i < 100; i++) if (limiter.take('k').allowed) ok++;
  assert.equal(ok, 30);
  c.advance(2_000);
  assert.ok(limiter.take('k').allowed, 'refused attempts did not push the next one further away');
  assert.throws(() => new RateLimiter({ perMinute: 0 }), RangeError);
});

test('RateLimiter memory is bounded: a million keys keep at most maxKeys, the least recently used forgotten first', () => {
  const c = clock();
  const limiter = new RateLimiter({ perMinute: 1, maxKeys: 1000, now: c.now });
  limiter.take('victim');
  for (let i = 0; i < 1_000_000; i++) {
    limiter.take(`k${i}`);
    if (i % 100 === 0) limiter.take('victim'); // recently used: kept
  }
  assert.equal(limiter.size, 1000);
  assert.equal(limiter.take('victim').allowed, false, 'a key in use is not forgotten');
  // k0 was forgotten; coming back, it inherits what the key it replaces had left (nothing).
  assert.equal(limiter.take('k0').allowed, false, 'forgetting hands out no fresh burst');
});

test('RateLimiter: cycling through more addresses than it remembers buys no fresh bursts; a new key starts full while memory has room', () => {
  const c = clock();
  const limiter = new RateLimiter({ perMinute: 1, burst: 30, maxKeys: 1000, now: c.now });
  let allowed = 0;
  // 2,000 addresses (twice what it remembers), each sending 40 at a time, 20 rounds (1 ms apart).
  for (let round = 0; round < 20; round++)
    for (let i = 0; i < 2000; i++)
      for (let k = 0; k < 40; k++) {
        if (limiter.take(`a${i}`).allowed) allowed++;
        c.advance(1);
      }
  // Forgotten keys starting afresh would allow 30 per address per round: 1,200,000. A key that
  // inherits a drained one gets about its refill (one a minute) instead.
  assert.ok(allowed < 100_000, `${allowed} allowed`);
  const fresh = new RateLimiter({ perMinute: 1, burst: 30, maxKeys: 1000, now: c.now });
  assert.ok(fresh.take('new').allowed, 'with room, a new key starts with its burst');
});

test('FailureThrottle: free failures, doubling lock-out up to the cap, success and time forget', () => {
  const c = clock();
  const t = new FailureThrottle({
    freeFailures: 3,
    baseLockMs: 1_000,
    maxLockMs: 5_000,
    forgetAfterMs: 60_000,
    now: c.now,
  });
  assert.deepEqual([t.failure('a'), t.failure('a')], [0, 0]);
  assert.ok(t.check('a').allowed);
  assert.equal(t.failure('a'), 1_000, 'the third failure locks');
  assert.deepEqual(t.check('a'), { allowed: false, retryAfterS: 1 });
  assert.ok(t.check('b').allowed, 'other keys are free');
  c.advance(1_000);
  assert.ok(t.check('a').allowed);
  assert.deepEqual(
    [t.failure('a'), t.failure('a'), t.failure('a'), t.failure('a')],
    [2_000, 4_000, 5_000, 5_000],
  );
  assert.deepEqual(t.check('a'), { allowed: false, retryAfterS: 5 });
  t.success('a');
  assert.ok(t.check('a').allowed);
  assert.equal(t.failure('a'), 0, 'a success starts the count afresh');
  // An hour-old failure streak is forgotten.
  t.failure('a');
  c.advance(60_000);
  assert.equal(t.failure('a'), 0);
  assert.equal(t.failure('a'), 0);
  assert.equal(t.failure('a'), 1_000);
});

test('FailureThrottle memory is bounded under many keys', () => {
  const t = new FailureThrottle({ maxKeys: 500 });
  for (let i = 0; i < 200_000; i++) t.failure(`addr${i}`);
  assert.equal(t.size, 500);
  assert.throws(() => new FailureThrottle({ baseLockMs: 10, maxLockMs: 5 }), RangeError);
});

test('addressKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2::99'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:DB8:0001:0002:ffff::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('not an address'), 'not an address');
  assert.deepEqual(expandIPv6('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(expandIPv6('64:ff9b::192.0.2.1'), [0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x201]);
  for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '1:2:3:4:5:6:7', 'g::1', '::1.2.3.256'])
    assert.equal(expandIPv6(bad), undefined, bad);
});

const req = (remoteAddress: string, xff?: string) => ({
  remoteAddress,
  header: (name: string) => (name === 'x-forwarded-for' ? xff : undefined),
});

test('client address: no trusted proxy → the peer, whatever X-Forwarded-For says', () => {
  let ignored = 0;
  const address = createClientAddress([], () => ignored++);
  assert.equal(address(req('203.0.113.5', '192.0.2.1')), '203.0.113.5');
  assert.equal(address(req('::ffff:203.0.113.5')), '203.0.113.5');
  assert.equal(ignored, 1, 'the caller hears of the ignored header');
});

test('client address: from a trusted peer, the right-most untrusted X-Forwarded-For entry', () => {
  const address = createClientAddress(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  assert.equal(address(req('127.0.0.1', '198.51.100.1')), '198.51.100.1');
  assert.equal(address(req('::ffff:127.0.0.1', '198.51.100.1')), '198.51.100.1');
  assert.equal(
    address(req('127.0.0.1', '192.0.2.66, 198.51.100.1')),
    '198.51.100.1',
    'spoofed left entries ignored',
  );
  assert.equal(address(req('127.0.0.1', '198.51.100.1, 10.1.2.3')), '198.51.100.1', 'trusted hops skipped');
  assert.equal(address(req('fd12::1', '2001:db8::7')), '2001:db8::7');
  assert.equal(address(req('127.0.0.1')), '127.0.0.1', 'no header: the peer');
  assert.equal(address(req('127.0.0.1', '10.0.0.9, 10.0.0.8')), '10.0.0.9', 'all trusted: the left-most');
  assert.equal(address(req('127.0.0.1', 'garbage, 10.0.0.8')), '10.0.0.8', 'a malformed entry ends the walk');
  assert.equal(address(req('127.0.0.1', 'garbage')), '127.0.0.1');
  assert.equal(address(req('203.0.113.5', '198.51.100.1')), '203.0.113.5', 'an untrusted peer');
  assert.equal(address(req('11.0.0.1', '198.51.100.1')), '11.0.0.1', 'outside the /8');
});

test('trusted proxy list: addresses and CIDRs of both families; malformed entries named by position only', () => {
  assert.equal(
    parseTrustedProxies(['127.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32', '0.0.0.0/0']).length,
    5,
  );
  for (const bad of ['10.0.0.0/33', '::/129', 'localhost', '10.0.0.0/8/1', '10.0.0/8', '10.0.0.0/x']) {
    assert.throws(
      () => parseTrustedProxies(['127.0.0.1', bad]),
      (e: Error) => e instanceof RangeError && e.message.includes('entry 2') && !e.message.includes(bad),
      bad,
    );
  }
});
