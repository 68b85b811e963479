// The single-flight cache every token cache of the manager is made of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SingleFlightCache, raceSignal } from '../../src/core/single-flight.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('an entry is fresh strictly before its refresh point, and kept (stale) after it', () => {
  const clock = { t: 1000 };
  const cache = new SingleFlightCache<string>(() => clock.t);
  cache.set('a', { value: 'v1', refreshAt: 2000 });
  clock.t = 1999;
  assert.equal(cache.fresh('a')?.value, 'v1');
  clock.t = 2000;
  assert.equal(cache.fresh('a'), undefined);
  assert.equal(cache.entry('a')?.value, 'v1', 'a stale entry is still there to fall back on');
  cache.delete('a');
  assert.equal(cache.entry('a'), undefined);
});

test('concurrent loads of one key start one load and all get its value; other keys load apart', async () => {
  const cache = new SingleFlightCache<number>(() => 0);
  const gate = deferred<number>();
  let starts = 0;
  let joins = 0;
  const start = () => {
    starts++;
    return gate.promise;
  };
  const all = Array.from({ length: 100 }, () => cache.load('k', start, undefined, () => joins++));
  const other = cache.load('other', async () => 7);
  gate.resolve(42);
  assert.deepEqual(new Set(await Promise.all(all)), new Set([42]));
  assert.equal(await other, 7);
  assert.equal(starts, 1);
  assert.equal(joins, 99);
});

test('a failed load is not remembered: the next call starts a new one', async () => {
  const cache = new SingleFlightCache<string>(() => 0);
  let starts = 0;
  await assert.rejects(
    cache.load('k', async () => {
      starts++;
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await cache.load('k', async () => (starts++, 'ok')), 'ok');
  assert.equal(starts, 2);
});

test('a caller signal stops that caller only; the shared load carries on for the others', async () => {
  const cache = new SingleFlightCache<string>(() => 0);
  const gate = deferred<string>();
  const ctl = new AbortController();
  const quitter = cache.load('k', () => gate.promise, ctl.signal);
  const stayer = cache.load('k', () => gate.promise);
  ctl.abort(new Error('gave up'));
  await assert.rejects(quitter, /gave up/);
  gate.resolve('done');
  assert.equal(await stayer, 'done');
  const aborted = AbortSignal.abort(new Error('already'));
  await assert.rejects(raceSignal(Promise.resolve(1), aborted), /already/);
});

test('find and deleteWhere match on key and entry', () => {
  const cache = new SingleFlightCache<string>(() => 0);
  cache.set('na:A1:x', { value: 'rdt-1', refreshAt: 1 });
  cache.set('na:A1:y', { value: 'rdt-2', refreshAt: 1 });
  cache.set('eu:A1:x', { value: 'rdt-3', refreshAt: 1 });
  assert.equal(cache.find((_, e) => e.value === 'rdt-2')?.key, 'na:A1:y');
  assert.equal(
    cache.find((_, e) => e.value === 'nope'),
    undefined,
  );
  cache.deleteWhere((k) => k.startsWith('na:A1:'));
  assert.equal(cache.entry('na:A1:x'), undefined);
  assert.equal(cache.entry('na:A1:y'), undefined);
  assert.equal(cache.entry('eu:A1:x')?.value, 'rdt-3');
});
