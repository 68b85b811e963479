// The OpenAPI document: it describes exactly the routes the router holds (every /v1 route and the
// health checks, both ways), the shipped docs/openapi.json is the generated one, and real responses
// of the service — successes and refusals — match the schemas and the listed error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HTTP_ERRORS } from '../../src/server/http/errors.js';
import { openApiDocument, routeTable, withRouteTable } from '../../src/server/openapi.js';
import { DOCUMENTED_ROUTES } from '../../src/server/routes.js';
import { SCOPES } from '../../src/server/tokens/api-keys.js';
import { requestClientSecretRotation } from '../../src/server/ops/rotation.js';
import { responseChecker } from '../helpers/openapi-responses.js';
import { Browser, PUBLIC_URL, api, connectSeller } from '../helpers/service.js';
import { makeOpsService, type OpsService, testOpsService } from '../helpers/ops-service.js';

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  servers?: { url: string }[];
};

const document = (): Doc => openApiDocument(DOCUMENTED_ROUTES) as Doc;
const describedRoutes = (): string[] =>
  DOCUMENTED_ROUTES.filter((r) => r.audience === 'api').map((r) => `${r.method} ${r.path}`);

/** Validates a response body against the document's schema for (route pattern, method, status). */
function responseValidator(
  doc: Doc,
): (pattern: string, method: string, status: number, body: unknown) => void {
  const check = responseChecker(doc);
  return (pattern, method, status, body) => {
    try {
      check(pattern, method, status, body);
    } catch (err) {
      assert.fail((err as Error).message);
    }
  };
}

/** The routes the running service serves that the document must cover. */
function servedRoutes(svc: OpsService): string[] {
  return svc.app
    .routes()
    .filter((r) => r.pattern.startsWith('/v1/') || r.pattern === '/healthz' || r.pattern === '/readyz')
    .map((r) => `${r.method} ${r.pattern}`);
}

test('openapi: every /v1 route is described and every described route exists', async (t) => {
  const svc = await testOpsService(t);
  const served = servedRoutes(svc);
  const described = describedRoutes();
  assert.ok(served.length >= 9, `the router lists the API routes (${served.join(', ')})`);
  const undescribed = served.filter((r) => !described.includes(r));
  const phantom = described.filter((r) => !served.includes(r));
  assert.deepEqual(
    undescribed,
    [],
    'routes without a declaration in DOCUMENTED_ROUTES (src/server/routes.ts)',
  );
  assert.deepEqual(phantom, [], 'described routes the router does not have');
});

test('openapi: docs/openapi.json is the generated document (npm run openapi)', () => {
  const shipped = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
  assert.deepEqual(shipped, openApiDocument(DOCUMENTED_ROUTES));
});

test("openapi: the README's route table is generated from the declarations (npm run openapi)", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(
    readme.includes(routeTable(DOCUMENTED_ROUTES)),
    'README.md route table is stale: npm run openapi',
  );
  assert.equal(withRouteTable(readme, DOCUMENTED_ROUTES), readme);
  for (const r of DOCUMENTED_ROUTES.filter((d) => d.audience !== 'internal')) {
    assert.ok(readme.includes(`\`${r.method} ${r.path}`), `${r.method} ${r.path} is in the table`);
  }
});

test('openapi: every route the service registers is a declaration; every declared scope is an API-key scope', async (t) => {
  const svc = await testOpsService(t, { env: { SPAPI_AUTH_ADMIN_PASSWORD: 'a-long-admin-password' } });
  const held = svc.app.routes().map((r) => `${r.method} ${r.pattern}`);
  const declared = svc.app.declarations().map((r) => `${r.method} ${r.path}`);
  assert.ok(held.length > 30, `the router holds the routes (${held.length})`);
  assert.deepEqual(held, declared, 'routes registered without a declaration (router.route)');
  for (const r of DOCUMENTED_ROUTES) {
    assert.ok(declared.includes(`${r.method} ${r.path}`), r.path);
    if (r.scope !== null) assert.ok((SCOPES as readonly string[]).includes(r.scope), `${r.path}: ${r.scope}`);
  }
});

test('openapi: every error code it lists is registered in HTTP_ERRORS with that status', () => {
  const doc = document();
  const registry = HTTP_ERRORS as Readonly<Record<string, { status: number }>>;
  const wrong: string[] = [];
  let listed = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const [status, response] of Object.entries(op.responses)) {
        const schema = (response as { content: Record<string, { schema: Record<string, unknown> }> }).content[
          'application/json'
        ]!.schema as { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } };
        for (const code of schema.properties?.error?.properties?.code?.enum ?? []) {
          listed++;
          if (registry[code]?.status !== Number(status)) wrong.push(`${method} ${path} ${status} ${code}`);
        }
      }
    }
  }
  assert.ok(listed > 50, `the document lists the error codes (${listed})`);
  assert.deepEqual(wrong, []);
});

test('openapi: GET /openapi.json serves the document with this instance as its server; every schema compiles', async (t) => {
  const svc = await testOpsService(t);
  const res = await svc.app.fetch(new Request(`${PUBLIC_URL}/openapi.json`));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const doc = (await res.json()) as Doc & { openapi: string };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(doc.servers, [{ url: PUBLIC_URL }]);
  assert.deepEqual({ ...doc, servers: undefined }, { ...document(), servers: undefined });
  // Every $ref resolves and every schema is valid JSON Schema 2020-12.
  const check = responseValidator(doc);
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const status of Object.keys(op.responses)) {
        const pattern = path.replace(/\{([a-z]+)\}/g, ':$1');
        assert.throws(() => check(pattern, method, Number(status), Symbol('not json')), /does not match/);
      }
    }
  }
});

const SIGNIN_URL = 'https://app.example.com/signin';

test('openapi: real responses of every operation match their schemas, refusals their error codes', async () => {
  const svc = await makeOpsService({ env: { SPAPI_AUTH_SIGNIN_URL: SIGNIN_URL } });
  const doc = document();
  const check = responseValidator(doc);
  const seen = new Set<string>();
  const call = async (
    pattern: string,
    method: string,
    path: string,
    body?: unknown,
    key: string | null = svc.apiKey,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await api(svc, method, path, body, key);
    const json = (await res.json()) as Record<string, unknown>;
    check(pattern, method, res.status, json);
    if (res.status < 300) seen.add(`${method} ${pattern}`);
    return { status: res.status, json };
  };
  try {
    await connectSeller(svc, { userRef: 'openapi-user' });
    const id = 'A1EMUSELLERNA01';
    assert.equal((await call('/healthz', 'GET', '/healthz', undefined, null)).status, 200);
    assert.equal((await call('/readyz', 'GET', '/readyz', undefined, null)).status, 200);
    const created = await call('/v1/connect-sessions', 'POST', '/v1/connect-sessions', {
      user_ref: 'openapi-user',
      marketplace: 'DE',
    });
    assert.equal(created.status, 201);
    assert.equal((await call('/v1/sellers', 'GET', '/v1/sellers?limit=10')).status, 200);
    assert.equal((await call('/v1/sellers/:id', 'GET', `/v1/sellers/${id}`)).status, 200);
    assert.equal(
      (await call('/v1/sellers/:id/access-token', 'GET', `/v1/sellers/${id}/access-token`)).status,
      200,
    );
    assert.equal(
      (
        await call('/v1/grantless-tokens', 'POST', '/v1/grantless-tokens', {
          scope: 'sellingpartnerapi::notifications',
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await call(
          '/v1/sellers/:id/restricted-data-tokens',
          'POST',
          `/v1/sellers/${id}/restricted-data-tokens`,
          {
            restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo'] }],
          },
        )
      ).status,
      200,
    );

    // The Appstore confirmation: Amazon → the Login URI → the app's sign-in page with a pending session.
    const start = `${svc.config.amazonUrl}/appstore/authorize?application_id=${svc.config.applicationId}`;
    const { url: signin } = await new Browser(svc).follow(start, (u) => u.startsWith(SIGNIN_URL));
    const pending = new URL(signin).searchParams.get('spapi_pending');
    const confirmed = await call(
      '/v1/appstore-sessions/:token/confirm',
      'POST',
      `/v1/appstore-sessions/${pending}/confirm`,
      { user_ref: 'openapi-user' },
    );
    assert.equal(confirmed.status, 200);

    // A client-secret notification as Amazon queues it after a rotation request.
    await requestClientSecretRotation({ amazon: svc.amazon, fetch: (r) => svc.emulator.fetch(r) });
    const notification = (await svc.emulator.control.notifications()).at(-1);
    const notificationsKey = await svc.key(['notifications:write']);
    const accepted = await call(
      '/v1/notifications',
      'POST',
      '/v1/notifications',
      notification,
      notificationsKey,
    );
    assert.equal(accepted.status, 200);

    // Refusals: each status and code must be the document's for that operation.
    const codeOf = (r: { json: Record<string, unknown> }): string => (r.json.error as { code: string }).code;
    assert.equal(codeOf(await call('/v1/sellers', 'GET', '/v1/sellers', undefined, null)), 'unauthorized');
    assert.equal(codeOf(await call('/v1/sellers', 'GET', '/v1/sellers?limit=0')), 'invalid_limit');
    assert.equal(
      codeOf(await call('/v1/sellers/:id', 'GET', '/v1/sellers/AUNKNOWN0000001')),
      'seller_not_found',
    );
    assert.equal(
      codeOf(await call('/v1/sellers/:id/access-token', 'GET', '/v1/sellers/-bad/access-token')),
      'invalid_seller_id',
    );
    assert.equal(
      codeOf(await call('/v1/sellers/:id/access-token', 'GET', `/v1/sellers/${id}/access-token?region=xx`)),
      'invalid_region',
    );
    assert.equal(
      codeOf(await call('/v1/grantless-tokens', 'POST', '/v1/grantless-tokens', { scope: 'other' })),
      'invalid_scope',
    );
    const readOnly = await svc.key(['sellers:read']);
    assert.equal(
      codeOf(await call('/v1/sellers/:id', 'DELETE', `/v1/sellers/${id}`, undefined, readOnly)),
      'insufficient_scope',
    );
    assert.equal(
      codeOf(
        await call('/v1/connect-sessions', 'POST', '/v1/connect-sessions', {
          user_ref: 'u',
          marketplace: 'XX',
        }),
      ),
      'invalid_marketplace',
    );
    assert.equal(
      codeOf(
        await call(
          '/v1/notifications',
          'POST',
          '/v1/notifications',
          { notificationType: 'OTHER', payload: {} },
          notificationsKey,
        ),
      ),
      'unsupported_notification',
    );
    assert.equal(
      codeOf(
        await call(
          '/v1/sellers/:id/restricted-data-tokens',
          'POST',
          `/v1/sellers/${id}/restricted-data-tokens`,
          { restrictedResources: [] },
        ),
      ),
      'invalid_restricted_resources',
    );
    assert.equal(
      codeOf(
        await call(
          '/v1/appstore-sessions/:token/confirm',
          'POST',
          `/v1/appstore-sessions/${'A'.repeat(43)}/confirm`,
          { user_ref: 'u' },
        ),
      ),
      'link_invalid',
    );

    // Deleting last: the seller is gone afterwards.
    assert.equal((await call('/v1/sellers/:id', 'DELETE', `/v1/sellers/${id}`)).status, 200);

    const missing = describedRoutes().filter((r) => !seen.has(r));
    assert.deepEqual(missing, [], 'operations whose success response was not validated');
  } finally {
    await svc.close();
  }
});
