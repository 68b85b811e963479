// Route declarations: a body is checked by the validator compiled from its declaration, each
// mismatching property refusing with the code it names (x-error, with its precise message if one
// was given), else the route's bodyError; the router registers a declaration's method, path and
// HEAD rule and lists it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { HTTP_ERRORS } from '../../../src/server/http/errors.js';
import { HttpError, json, type ServerRequest } from '../../../src/server/http/request.js';
import { coded, defineRoute } from '../../../src/server/http/route.js';
import { Router } from '../../../src/server/http/router.js';
import { oneOf } from '../../../src/server/http/schemas.js';
import { PARAM_RULES } from '../../../src/server/http/validate.js';

const ROUTE = defineRoute({
  method: 'POST',
  path: '/v1/things/:id',
  scope: 'connect',
  audience: 'internal',
  summary: 'A thing',
  description: 'A thing.',
  body: Type.Object({
    scope: coded('invalid_scope', oneOf(['a', 'b']), 'scope must be a or b.'),
    kind: Type.Optional(coded('invalid_kind', oneOf(['seller', 'vendor']))),
    count: Type.Optional(Type.Integer({ minimum: 1 })),
  }),
  bodyError: 'invalid_json',
  responses: { 200: { description: 'Done.' } },
  errors: ['invalid_scope', 'invalid_kind'],
});

function request(body: unknown, method = 'POST'): ServerRequest {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return {
    method,
    path: '/v1/things/A1EMUSELLERNA01',
    rawQuery: '',
    header: (name) => (name === 'content-type' ? 'application/json' : undefined),
    body: async () => bytes,
    remoteAddress: '127.0.0.1',
  };
}

async function refusal(body: unknown): Promise<{ code: string; message: string }> {
  const err = await ROUTE.readBody(request(body)).then(
    () => assert.fail('the body was accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HttpError);
  return { code: err.code, message: err.message };
}

test('a declared body: a matching one is returned as it came, each mismatch refuses with its code', async () => {
  assert.deepEqual(await ROUTE.readBody(request({ scope: 'a', kind: 'vendor', extra: 1 })), {
    scope: 'a',
    kind: 'vendor',
    extra: 1,
  });
  assert.deepEqual(await refusal({ scope: 'c' }), {
    code: 'invalid_scope',
    message: 'scope must be a or b.',
  });
  assert.deepEqual(await refusal({}), { code: 'invalid_scope', message: 'scope must be a or b.' });
  assert.deepEqual(await refusal({ scope: 'a', kind: 'other' }), {
    code: 'invalid_kind',
    message: HTTP_ERRORS.invalid_kind.message,
  });
  // A property without a code of its own: the route's bodyError, with the registry's message.
  assert.deepEqual(await refusal({ scope: 'a', count: 0 }), {
    code: 'invalid_json',
    message: HTTP_ERRORS.invalid_json.message,
  });
});

test('a coded copy keeps the named component unchanged: no $id, the code in x-error', () => {
  const named = oneOf(['x'], { $id: 'Named' });
  const copy = coded('invalid_kind', named);
  assert.equal((copy as { $id?: string }).$id, undefined);
  assert.equal((copy as { 'x-error'?: string })['x-error'], 'invalid_kind');
  assert.equal(named.$id, 'Named');
  assert.equal((named as { 'x-error'?: string })['x-error'], undefined);
});

test('the router registers a declaration: its method and path, HEAD off when declared, listed once', async () => {
  const GET_THING = defineRoute({
    method: 'GET',
    path: '/v1/things/:id',
    scope: null,
    audience: 'internal',
    summary: 'Get a thing',
    description: 'Get a thing.',
    responses: { 200: { description: 'The thing.' } },
    errors: [],
    head: false,
  });
  const router = new Router(PARAM_RULES)
    .route(GET_THING, (_req, { params }) => json(200, { id: params.id }))
    .route(ROUTE, () => json(200, {}));
  const found = router.match('GET', '/v1/things/A1EMUSELLERNA01');
  assert.equal(found.kind, 'found');
  assert.equal(router.match('HEAD', '/v1/things/A1EMUSELLERNA01').kind, 'method_not_allowed');
  assert.equal(router.match('GET', '/v1/things/-bad').kind, 'invalid');
  assert.deepEqual(
    router.declarations().map((r) => `${r.method} ${r.path}`),
    ['GET /v1/things/:id', 'POST /v1/things/:id'],
  );
});

test('a declaration naming an unregistered error code is refused at once', () => {
  assert.throws(
    () =>
      defineRoute({
        method: 'GET',
        path: '/x',
        scope: null,
        audience: 'internal',
        summary: 'x',
        description: 'x',
        responses: {},
        errors: ['no_such_code' as 'not_found'],
      }),
    /unknown code no_such_code/,
  );
});

test('a declared query: each parameter checked by its schema (numbers read as numbers), its code or invalid_parameter, a default, the rest ignored', () => {
  const LIST = defineRoute({
    method: 'GET',
    path: '/v1/things',
    scope: 'connect',
    audience: 'internal',
    summary: 'Things',
    description: 'Things.',
    query: {
      limit: coded('invalid_limit', Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
      kind: coded('invalid_status', oneOf(['seller', 'vendor']), 'kind must be seller or vendor.'),
      tag: Type.String({ pattern: '^[a-z]+$' }),
    },
    responses: { 200: { description: 'Done.' } },
    errors: ['invalid_limit', 'invalid_status'],
  });
  assert.deepEqual(LIST.readQuery(''), { limit: 50 });
  assert.deepEqual(LIST.readQuery('limit=7&kind=vendor&tag=ab&other=%20x'), {
    limit: 7,
    kind: 'vendor',
    tag: 'ab',
  });
  const refusal = (raw: string): [string, string] => {
    try {
      LIST.readQuery(raw);
    } catch (err) {
      assert.ok(err instanceof HttpError);
      return [err.code, err.message];
    }
    assert.fail(`${raw} was accepted`);
  };
  for (const raw of ['limit=0', 'limit=501', 'limit=5.5', 'limit=+5', 'limit=', 'limit=abc'])
    assert.equal(refusal(raw)[0], 'invalid_limit', raw);
  assert.deepEqual(refusal('kind=Seller'), ['invalid_status', 'kind must be seller or vendor.']);
  assert.deepEqual(refusal('tag=A'), ['invalid_parameter', 'The query parameter tag is not valid.']);
  assert.equal(refusal('kind=seller&kind=vendor')[0], 'duplicate_parameter');
  assert.equal(refusal('tag=%zz')[0], 'invalid_parameter');
});
