// The router over raw paths: literals match exactly, parameters pass their rule before any handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from '../../../src/server/http/router.js';
import { json } from '../../../src/server/http/request.js';
import { PARAM_RULES } from '../../../src/server/http/validate.js';

const ok = (name: string) => () => json(200, { name });

function router(): Router {
  return new Router(PARAM_RULES)
    .add('GET', '/v1/sellers', ok('list'))
    .add('GET', '/v1/sellers/:id', ok('one'))
    .add('DELETE', '/v1/sellers/:id', ok('delete'))
    .add('GET', '/v1/sellers/:id/access-token', ok('token'))
    .add('GET', '/connect/:token', ok('connect'));
}

test('literal and parameter segments match; the route pattern and raw parameters come with the handler', () => {
  const m = router().match('GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
  assert.equal(m.kind, 'found');
  if (m.kind !== 'found') return;
  assert.equal(m.ctx.route, '/v1/sellers/:id/access-token');
  assert.deepEqual(m.ctx.params, { id: 'A1EMUSELLERNA01' });
  assert.equal(router().match('GET', '/v1/sellers').kind, 'found');
  const head = router().match('HEAD', '/v1/sellers/A1');
  assert.equal(head.kind, 'found', 'HEAD is answered by the GET route');
});

test('a GET route registered with head: false answers HEAD with 405 and Allow: GET', () => {
  const r = new Router(PARAM_RULES).add('GET', '/v1/sellers/:id/access-token', ok('token'), { head: false });
  const m = r.match('HEAD', '/v1/sellers/A1/access-token');
  assert.equal(m.kind, 'method_not_allowed');
  if (m.kind === 'method_not_allowed') assert.equal(m.allow, 'GET');
  assert.equal(r.match('GET', '/v1/sellers/A1/access-token').kind, 'found');
});

test('a parameter that breaks its rule is a 400 with the rule code, before any handler runs', () => {
  for (const path of [
    '/v1/sellers/..%2F..',
    '/v1/sellers/A1%2FB',
    "/v1/sellers/A1'OR'1",
    '/v1/sellers/-A1',
  ]) {
    const m = router().match('GET', path);
    assert.equal(m.kind, 'invalid', path);
    if (m.kind !== 'invalid') continue;
    assert.equal(m.error.status, 400);
    assert.equal(m.error.code, 'invalid_seller_id');
    assert.equal(m.route, '/v1/sellers/:id');
  }
  const token = router().match('GET', '/connect/short');
  assert.equal(token.kind === 'invalid' && token.error.code, 'invalid_token');
});

test('another method on a known path is 405 with Allow; unknown paths and segment counts are not found', () => {
  const m = router().match('POST', '/v1/sellers/A1');
  assert.equal(m.kind, 'method_not_allowed');
  assert.equal(m.kind === 'method_not_allowed' && m.allow, 'GET, DELETE');
  for (const path of ['/v1/seller', '/v1/sellers/A1/access-token/x', '/', '', '/v1/sellers/A1/refresh']) {
    assert.equal(router().match('GET', path).kind, 'not_found', path);
  }
  // A literal must match whole: a prefix or a longer segment is another path.
  assert.equal(router().match('GET', '/v1/sellersX').kind, 'not_found');
  assert.equal(router().match('GET', '/v1/sellers/A1/access-tokens').kind, 'not_found');
});

test('a pattern with a parameter that has no rule is refused at registration; routes() lists what was added', () => {
  assert.throws(() => new Router({}).add('GET', '/x/:nope', ok('x')), /no rule for parameter :nope/);
  assert.deepEqual(
    router()
      .routes()
      .map((r) => `${r.method} ${r.pattern}`),
    [
      'GET /v1/sellers',
      'GET /v1/sellers/:id',
      'DELETE /v1/sellers/:id',
      'GET /v1/sellers/:id/access-token',
      'GET /connect/:token',
    ],
  );
});

test('a found match is kept per method and path, frozen; refusals are not kept; past the bound every path still matches', () => {
  const r = router();
  const a = r.match('GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
  const b = r.match('GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
  assert.equal(a, b, 'the same path twice: the kept match');
  assert.ok(
    Object.isFrozen(a) && a.kind === 'found' && Object.isFrozen(a.ctx) && Object.isFrozen(a.ctx.params),
  );
  const other = r.match('GET', '/v1/sellers/A2EMUSELLERNA02/access-token');
  assert.ok(other.kind === 'found' && other.ctx.params.id === 'A2EMUSELLERNA02');
  const del = r.match('DELETE', '/v1/sellers/A1EMUSELLERNA01');
  assert.ok(del.kind === 'found' && del.ctx.route === '/v1/sellers/:id');
  assert.equal(r.match('GET', '/v1/sellers/A1EMUSELLERNA01').kind, 'found', 'GET, not the DELETE kept');
  assert.equal(r.match('PUT', '/v1/sellers/A1EMUSELLERNA01').kind, 'method_not_allowed');
  assert.equal(r.match('GET', '/v1/sellers/..%2F/access-token').kind, 'invalid');
  // Thousands of distinct paths (more than are kept): each still gets its own parameters.
  for (let i = 0; i < 10_000; i++) {
    const id = `A${i.toString().padStart(12, '0')}`;
    const m = r.match('GET', `/v1/sellers/${id}/access-token`);
    assert.ok(m.kind === 'found' && m.ctx.params.id === id, id);
  }
  const again = r.match('GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
  assert.ok(again.kind === 'found' && again.ctx.params.id === 'A1EMUSELLERNA01');
});
