// The token client's hand-written types against the service's OpenAPI description (docs/openapi.json,
// itself kept equal to GET /openapi.json by test/server/openapi.test.ts): every wire interface has
// the schema's fields, each required or optional as there; the error codes are the service's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { TOKEN_API_ERROR_CODES } from '../../src/client/index.js';
import { HTTP_ERRORS } from '../../src/server/http/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
interface Schema {
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  items?: Schema;
  required?: string[];
  allOf?: Schema[];
}
const openapi = JSON.parse(readFileSync(`${root}docs/openapi.json`, 'utf8')) as {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>
  >;
  components: { schemas: Record<string, Schema> };
};

/** Each interface of src/client/wire.ts: its fields (inherited ones too) and which are optional. */
function wireInterfaces(): Map<string, Map<string, boolean>> {
  const file = `${root}src/client/wire.ts`;
  const program = ts.createProgram([file], { strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const out = new Map<string, Map<string, boolean>>();
  for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)) {
    if (!(symbol.flags & ts.SymbolFlags.Interface)) continue;
    const fields = new Map<string, boolean>();
    for (const p of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
      fields.set(p.name, (p.flags & ts.SymbolFlags.Optional) !== 0);
    }
    out.set(symbol.name, fields);
  }
  return out;
}

const SCHEMA_OF: Record<string, string> = {
  AccessTokenBody: 'AccessToken',
  GrantlessTokenBody: 'GrantlessToken',
  RestrictedDataTokenBody: 'RestrictedDataToken',
  Authorization: 'Authorization',
  AuthorizationDetail: 'AuthorizationDetail',
  SellerPage: 'SellerPage',
  Seller: 'Seller',
};

test('each wire interface has its schema’s fields, required and optional alike', () => {
  const interfaces = wireInterfaces();
  for (const [name, schemaName] of Object.entries(SCHEMA_OF)) {
    const schema = openapi.components.schemas[schemaName]!;
    assert.ok(schema, `docs/openapi.json has ${schemaName}`);
    const fields = interfaces.get(name);
    assert.ok(fields, `src/client/wire.ts has ${name}`);
    const expected = Object.keys(schema.properties ?? {})
      .map((f) => [f, !(schema.required ?? []).includes(f)])
      .sort();
    assert.deepEqual([...fields].sort(), expected, `${name} ↔ ${schemaName}`);
  }
  // The nested shapes: the last error and a profile marketplace.
  const lastError = openapi.components.schemas.Authorization!.properties!.last_error!.anyOf![0]!;
  assert.deepEqual(
    [...interfaces.get('SellerLastError')!.keys()].sort(),
    Object.keys(lastError.properties!).sort(),
  );
  const marketplace =
    openapi.components.schemas.AuthorizationDetail!.properties!.marketplaces!.anyOf![0]!.items!;
  assert.deepEqual(
    [...interfaces.get('SellerMarketplace')!.keys()].sort(),
    Object.keys(marketplace.properties!).sort(),
  );
});

/** The codes the description lists for the client's routes. */
function routeCodes(): Set<string> {
  const routes: [string, string][] = [
    ['/v1/sellers/{id}/access-token', 'get'],
    ['/v1/grantless-tokens', 'post'],
    ['/v1/sellers/{id}/restricted-data-tokens', 'post'],
    ['/v1/sellers', 'get'],
    ['/v1/sellers/{id}', 'get'],
  ];
  const codes = new Set<string>();
  for (const [path, method] of routes) {
    const op = openapi.paths[path]![method]!;
    for (const [status, r] of Object.entries(op.responses)) {
      if (status.startsWith('2')) continue;
      const schema = r.content!['application/json']!.schema as Schema & {
        properties: { error: { properties: { code: { enum: string[] } } } };
      };
      for (const c of schema.properties.error.properties.code.enum) codes.add(c);
    }
  }
  return codes;
}

test("the client's code list is every code its routes answer, each a registered code of the service", () => {
  const own = new Set(['network_error', 'timeout', 'invalid_response']);
  const listed = TOKEN_API_ERROR_CODES.filter((c) => !own.has(c));
  for (const c of listed) assert.ok(c in HTTP_ERRORS, `${c} is a service code`);
  const answered = routeCodes();
  assert.ok(answered.size > 10);
  for (const c of answered)
    assert.ok(listed.includes(c as never), `${c} (answered by a client route) is listed`);
});
