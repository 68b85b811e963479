/**
 * The OpenAPI 3.1 document and the README's route table, both generated from the route
 * declarations (`http/route.ts`): each API route with its path parameters (the router's rules),
 * query, body, responses and error codes (their statuses from the registry, `http/errors.ts`), and
 * the bearer scheme. Served at `GET /openapi.json` (with the instance's public URL as the server)
 * and shipped in the package as `docs/openapi.json` (`npm run openapi` rewrites it and the README's
 * table; a test fails when either is stale).
 */
import { SCOPES } from './tokens/api-keys.js';
import { HTTP_ERRORS, type HttpErrorCode } from './http/errors.js';
import type { Route } from './http/route.js';
import { ERROR_BODY } from './http/schemas.js';
import { PARAM_RULES } from './http/validate.js';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it), or any JSON value of the document. */
export type JsonSchema = Readonly<Record<string, unknown>>;

// Refusals implied by what a route takes, besides its own; every request may meet the size limits,
// checked before it is routed (a Content-Length past the body limit, a URL past its limit).
const LIMIT_ERRORS: readonly HttpErrorCode[] = ['payload_too_large', 'uri_too_long'];
const AUTH_ERRORS: readonly HttpErrorCode[] = [
  'credentials_in_url',
  'unauthorized',
  'insufficient_scope',
  'rate_limited',
  'internal_error',
  'store_unavailable',
];
// A body that arrives too slowly is refused while it is read (408), before the handler runs.
const BODY_ERRORS: readonly HttpErrorCode[] = [
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
  'request_timeout',
];
const QUERY_ERRORS: readonly HttpErrorCode[] = ['invalid_parameter', 'duplicate_parameter'];

/** The parameter names of a route pattern, in order. */
const pathParams = (path: string): string[] =>
  path
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1));

/**
 * Every code a route can answer, by status: its own, those of its path parameters, those its API
 * key, body and query imply, and the size limits.
 *
 * @example
 * routeErrors(GET_SELLER).get(404); // ['seller_not_found']
 */
export function routeErrors(route: Route): Map<number, HttpErrorCode[]> {
  const codes = new Set<HttpErrorCode>([
    ...LIMIT_ERRORS,
    ...(route.scope === null ? [] : AUTH_ERRORS),
    ...(route.body === undefined ? [] : BODY_ERRORS),
    ...(route.query === undefined ? [] : QUERY_ERRORS),
    ...pathParams(route.path).map((p) => PARAM_RULES[p]!.code),
    ...route.errors,
  ]);
  const out = new Map<number, HttpErrorCode[]>();
  for (const code of codes) {
    const status = HTTP_ERRORS[code].status;
    out.set(status, [...(out.get(status) ?? []), code]);
  }
  return new Map([...out].sort(([a], [b]) => a - b));
}

/** A JSON copy of a TypeBox schema (no symbol keys), its `$id` schemas moved into `components`. */
function hoist(schema: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(schema)) return schema.map((s) => hoist(s, components));
  if (schema === null || typeof schema !== 'object') return schema;
  const { $id, ...rest } = schema as Record<string, unknown>;
  const out = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, hoist(v, components)]));
  if (typeof $id !== 'string') return out;
  components[$id] = out;
  return { $ref: `#/components/schemas/${$id}` };
}

function refusals(status: number, codes: readonly string[]): JsonSchema {
  return {
    description: `Error; \`error.code\` is one of: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
    ...(status === 401 ? { headers: { 'WWW-Authenticate': { schema: { type: 'string' } } } } : {}),
    ...(status === 429 || status === 503
      ? { headers: { 'Retry-After': { schema: { type: 'string' } } } }
      : {}),
    content: {
      'application/json': {
        schema: {
          allOf: [{ $ref: '#/components/schemas/Error' }],
          properties: { error: { properties: { code: { enum: [...codes] } } } },
        },
      },
    },
  };
}

function operation(route: Route, components: Record<string, unknown>): JsonSchema {
  const parameters = [
    ...pathParams(route.path).map((name) => ({
      name,
      in: 'path',
      required: true,
      description: PARAM_RULES[name]!.description,
      schema: { type: 'string', pattern: PARAM_RULES[name]!.pattern.source },
    })),
    ...Object.entries(route.query ?? {}).map(([name, schema]) => {
      const { description, ...rest } = hoist(schema, components) as Record<string, unknown>;
      return { name, in: 'query', required: false, description, schema: rest };
    }),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(route.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema === undefined
        ? {}
        : { content: { 'application/json': { schema: hoist(r.schema, components) } } }),
    };
  }
  for (const [status, codes] of routeErrors(route)) responses[String(status)] = refusals(status, codes);
  const { method, path } = route;
  return {
    operationId: `${method.toLowerCase()}${path.replace(/\/:?([a-z-]+)/g, (_, s: string) => `_${s.replace(/-/g, '_')}`)}`,
    summary: route.summary,
    description: route.description,
    // OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs: the key's scope.
    security: route.scope === null ? [] : [{ apiKey: [route.scope] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body !== undefined
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: hoist(route.body, components) } },
          },
        }
      : {}),
    responses,
  };
}

/**
 * The OpenAPI 3.1 document of the API routes among `routes`; `serverUrl` (the public URL of an
 * instance) becomes its server.
 *
 * @example
 * json(200, openApiDocument(DOCUMENTED_ROUTES, config.publicUrl));
 */
export function openApiDocument(routes: readonly Route[], serverUrl?: string): JsonSchema {
  const components: Record<string, unknown> = {};
  hoist(ERROR_BODY, components);
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes.filter((r) => r.audience === 'api')) {
    const openPath = route.path.replace(/:([a-z]+)/g, '{$1}');
    (paths[openPath] ??= {})[route.method.toLowerCase()] = operation(route, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'spapi-auth token API',
      version: '1',
      description:
        'Connect links, Amazon Selling Partner API tokens and sellers for your other services. Every call takes an API key (`spapi-auth keys create --scopes …`) as a bearer token; each operation\'s `security` names the scope the key needs. Errors are `{ "error": { "code", "message" } }`; every `/v1` response carries `Cache-Control: no-store`.',
    },
    ...(serverUrl !== undefined ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: `An API key \`spk_…\`; scopes: ${SCOPES.join(', ')}.`,
        },
      },
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

/** The markers around the generated route table in README.md. */
export const ROUTE_TABLE_MARKERS = [
  '<!-- routes:begin (npm run openapi) -->',
  '<!-- routes:end -->',
] as const;

/**
 * The README's route table (Markdown) of the API and browser routes among `routes`.
 *
 * @example
 * routeTable(DOCUMENTED_ROUTES).startsWith('| route | scope | what |'); // true
 */
export function routeTable(routes: readonly Route[]): string {
  const rows = routes
    .filter((r) => r.audience !== 'internal')
    .map((r) => {
      const query = Object.keys(r.query ?? {});
      const shown = query.length === 0 ? '' : `[?${query.map((q) => `${q}=`).join('&')}]`;
      const what = r.description.replace(/\|/g, '\\|').replace(/\n/g, ' ');
      return `| \`${r.method} ${r.path}${shown}\` | ${r.scope === null ? '—' : `\`${r.scope}\``} | ${what} |`;
    });
  return ['| route | scope | what |', '|---|---|---|', ...rows].join('\n');
}

/**
 * `readme` with the text between the route-table markers replaced by {@link routeTable}.
 *
 * @example
 * writeFileSync('README.md', withRouteTable(readFileSync('README.md', 'utf8'), DOCUMENTED_ROUTES));
 */
export function withRouteTable(readme: string, routes: readonly Route[]): string {
  const [begin, end] = ROUTE_TABLE_MARKERS;
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${begin} … ${end} markers`);
  return `${readme.slice(0, from + begin.length)}\n\n${routeTable(routes)}\n\n${readme.slice(to)}`;
}
