/**
 * The token API described as an OpenAPI 3.1 document: every `/v1` route and the health checks,
 * with their parameters, bodies, responses, error codes and the bearer scheme. Served at
 * `GET /openapi.json` (with the instance's public URL as the server) and shipped in the package
 * as `docs/openapi.json`. A test compares the routes here with the router's, both ways, and
 * validates real responses against these schemas.
 */
import { SELLER_TOKEN_STATUSES } from '../core/token-vault.js';
import { SCOPES } from './tokens/api-keys.js';
import { SELLING_PARTNER_ID_RE as SELLER_ID } from '../core/consent.js';
import { TOKEN, USER_REF } from './http/validate.js';
import { PAGE_CURSOR_MAX_LENGTH } from '../storage/store/sellers.js';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** Error codes by HTTP status. */
type ErrorCodes = Readonly<Partial<Record<number, readonly string[]>>>;

interface Operation {
  readonly summary: string;
  readonly description: string;
  /** The API-key scope, or null for an unauthenticated route. */
  readonly scope: (typeof SCOPES)[number] | null;
  readonly params?: readonly ('id' | 'token' | 'region')[];
  readonly query?: Readonly<Record<string, JsonSchema & { readonly description: string }>>;
  readonly body?: JsonSchema;
  readonly ok: { readonly status: number; readonly description: string; readonly schema: JsonSchema };
  readonly errors: ErrorCodes;
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const str = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: 'string',
  description,
  ...extra,
});
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
const object = (properties: Record<string, JsonSchema>, required: readonly string[]): JsonSchema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const instant = (description: string): JsonSchema => str(description, { format: 'date-time' });
/** A regular expression as a JSON Schema pattern (ECMA-262 syntax, which both use). */
const pattern = (re: RegExp): string => re.source;

const REGION: JsonSchema = { type: 'string', enum: ['na', 'eu', 'fe'], description: 'The SP-API region.' };
const STATUS: JsonSchema = {
  type: 'string',
  enum: [...SELLER_TOKEN_STATUSES],
  description: 'Where the authorization stands.',
};

const AUTHORIZATION_PROPERTIES = {
  selling_partner_id: str('The selling partner id (merchant or vendor id).'),
  region: ref('Region'),
  status: ref('SellerStatus'),
  kind: { type: 'string', enum: ['seller', 'vendor'] },
  user_ref: nullable(str("The app's own user id given when the link was made.")),
  marketplace: nullable(str('The marketplace the seller was connected from (country code).')),
  authorized_at: instant('When the seller last authorized the app.'),
  reauthorize_by: instant('When the authorization lapses (365 days after authorized_at).'),
  last_refresh_at: nullable(instant('The last successful refresh of its access token.')),
  last_error: nullable(
    object({ code: str('The error code.'), message: nullable(str('What happened.')), at: instant('When.') }, [
      'code',
      'message',
      'at',
    ]),
  ),
};
const AUTHORIZATION_REQUIRED = [
  'selling_partner_id',
  'region',
  'status',
  'kind',
  'user_ref',
  'marketplace',
  'authorized_at',
  'reauthorize_by',
  'last_refresh_at',
  'last_error',
];

const SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  Error: object(
    {
      error: object(
        {
          code: str('A stable, machine-readable code (see the responses of each operation).'),
          message: str('A sentence for people; never holds a token or a secret.'),
        },
        ['code', 'message'],
      ),
    },
    ['error'],
  ),
  Region: REGION,
  SellerStatus: STATUS,
  Authorization: object(AUTHORIZATION_PROPERTIES, AUTHORIZATION_REQUIRED),
  AuthorizationDetail: object(
    {
      ...AUTHORIZATION_PROPERTIES,
      store_name: nullable(
        str('The store name SP-API reports (marketplaceParticipations); null until read.'),
      ),
      marketplaces: nullable({
        type: 'array',
        description: 'The marketplaces SP-API reports for the seller in this region; null until read.',
        items: object(
          {
            id: str('The marketplace id.'),
            country: str('Its country code.'),
            name: str('e.g. Amazon.com.'),
            participating: { type: 'boolean' },
            suspended_listings: { type: 'boolean' },
          },
          ['id', 'country', 'name', 'participating', 'suspended_listings'],
        ),
      }),
      profile_fetched_at: nullable(instant('When the profile was read.')),
    },
    [...AUTHORIZATION_REQUIRED, 'store_name', 'marketplaces', 'profile_fetched_at'],
  ),
  SellerPage: object(
    {
      items: { type: 'array', items: ref('Authorization') },
      next_cursor: nullable(str('Pass as `cursor` for the next page; null on the last page.')),
    },
    ['items', 'next_cursor'],
  ),
  Seller: object(
    {
      selling_partner_id: str('The selling partner id.'),
      status: ref('SellerStatus'),
      kind: { type: 'string', enum: ['seller', 'vendor'] },
      user_ref: nullable(str("The app's own user id.")),
      regions: { type: 'array', items: ref('Region'), minItems: 1 },
      authorizations: { type: 'array', items: ref('AuthorizationDetail'), minItems: 1 },
    },
    ['selling_partner_id', 'status', 'kind', 'user_ref', 'regions', 'authorizations'],
  ),
  AccessToken: object(
    {
      access_token: str('An LWA access token for SP-API calls of this seller (`x-amz-access-token`).'),
      expires_at: instant('When the token expires; ask again before then.'),
      region: ref('Region'),
      endpoint: str(
        'The SP-API base URL of the region (with SPAPI_AUTH_AMAZON_URL set: the emulator, as <emulator>/__amazon/<the regional host>).',
        { format: 'uri' },
      ),
    },
    ['access_token', 'expires_at', 'region', 'endpoint'],
  ),
  GrantlessToken: object(
    {
      access_token: str('An LWA access token for grantless operations of the scope.'),
      expires_at: instant('When the token expires.'),
    },
    ['access_token', 'expires_at'],
  ),
  RestrictedDataToken: object(
    {
      restricted_data_token: str('A restricted data token (`x-amz-access-token` of the restricted call).'),
      expires_at: instant('When the token expires.'),
    },
    ['restricted_data_token', 'expires_at'],
  ),
};

const SELLER_ID_PARAM = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The selling partner id.',
  schema: { type: 'string', pattern: pattern(SELLER_ID) },
} as const;
const TOKEN_PARAM = {
  name: 'token',
  in: 'path',
  required: true,
  description: 'The Appstore session token handed to your sign-in page as `spapi_pending`.',
  schema: { type: 'string', pattern: pattern(TOKEN) },
} as const;
const REGION_QUERY = {
  name: 'region',
  in: 'query',
  required: false,
  description: 'The region, required when the seller is authorized in several.',
  schema: REGION,
} as const;

// Errors any authenticated route can answer, besides its own.
const AUTH_ERRORS: ErrorCodes = {
  400: ['credentials_in_url'],
  401: ['unauthorized'],
  403: ['insufficient_scope'],
  429: ['rate_limited'],
  500: ['internal_error'],
  503: ['store_unavailable'],
};
const BODY_ERRORS: ErrorCodes = {
  400: ['invalid_json'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
};
const QUERY_ERRORS: ErrorCodes = { 400: ['invalid_parameter', 'duplicate_parameter'] };
const TOKEN_ERRORS: ErrorCodes = {
  404: ['seller_not_found'],
  409: ['seller_reauthorization_required'],
  500: ['credential_integrity_error'],
  503: ['upstream_unavailable', 'upstream_credentials_invalid', 'client_secret_expired'],
};

/** Every operation, by route pattern as the router spells it, then method. */
const OPERATIONS: Readonly<Record<string, Readonly<Record<string, Operation>>>> = {
  '/v1/connect-sessions': {
    POST: {
      summary: 'Create a connect link',
      description:
        "A single-use, 10-minute link that starts Amazon's website authorization flow in one browser. " +
        'With `selling_partner_id`, re-authorizes a known seller (another seller coming back is refused).',
      scope: 'connect',
      body: object(
        {
          user_ref: str('Your own id of the user (1-256 printable characters).', {
            pattern: pattern(USER_REF),
          }),
          marketplace: str('A country code (US, DE, JP, …) or a marketplace id.'),
          kind: { type: 'string', enum: ['seller', 'vendor'], default: 'seller' },
          return_to: nullable(
            str('Where the browser lands after consent (an allowed origin only).', { format: 'uri' }),
          ),
          selling_partner_id: nullable(str('Re-authorize this seller.', { pattern: pattern(SELLER_ID) })),
        },
        ['user_ref', 'marketplace'],
      ),
      ok: {
        status: 201,
        description: 'The link to send the browser to.',
        schema: object(
          {
            url: str('The connect link.', { format: 'uri' }),
            expires_at: instant('When the link stops working.'),
          },
          ['url', 'expires_at'],
        ),
      },
      errors: {
        400: [
          'invalid_user_ref',
          'invalid_marketplace',
          'invalid_kind',
          'invalid_return_to',
          'invalid_seller_id',
        ],
        404: ['seller_not_found'],
        409: ['seller_owned_by_other_user'],
      },
    },
  },
  '/v1/appstore-sessions/:token/confirm': {
    POST: {
      summary: 'Confirm an Appstore authorization',
      description:
        'After your sign-in page has signed the user in (Appstore Login URI flow): binds the user and ' +
        'returns where to send the browser next.',
      scope: 'connect',
      params: ['token'],
      body: object({ user_ref: str('Your own id of the signed-in user.', { pattern: pattern(USER_REF) }) }, [
        'user_ref',
      ]),
      ok: {
        status: 200,
        description: 'Where the browser goes next.',
        schema: object({ url: str('The connect link to redirect to.', { format: 'uri' }) }, ['url']),
      },
      errors: {
        400: ['invalid_user_ref', 'invalid_token'],
        404: ['link_invalid'],
        409: ['seller_owned_by_other_user'],
        410: ['link_expired', 'link_used'],
      },
    },
  },
  '/v1/sellers/:id/access-token': {
    GET: {
      summary: "Get a seller's access token",
      description:
        'From memory while fresh, else from the store, else one refresh shared by every instance. ' +
        'Never returns the refresh token. With `refused`, the SHA-256 of a token SP-API refused ' +
        '(403 "expired" or "revoked" before its expiry): when it is the token held, that token is ' +
        'dropped everywhere and one refresh is made; otherwise the newer token held is returned.',
      scope: 'tokens:read',
      params: ['id', 'region'],
      query: {
        refused: {
          type: 'string',
          pattern: '^[0-9a-f]{64}$',
          description: 'Hex SHA-256 of an access token SP-API refused (never the token itself).',
        },
      },
      ok: { status: 200, description: 'A usable access token.', schema: ref('AccessToken') },
      errors: {
        ...TOKEN_ERRORS,
        400: ['invalid_seller_id', 'invalid_region', 'region_required', 'invalid_parameter'],
      },
    },
  },
  '/v1/grantless-tokens': {
    POST: {
      summary: 'Get a grantless token',
      description: 'An access token for grantless operations (notifications, client-secret rotation).',
      scope: 'tokens:read',
      body: object(
        {
          scope: {
            type: 'string',
            enum: ['sellingpartnerapi::notifications', 'sellingpartnerapi::client_credential:rotation'],
          },
        },
        ['scope'],
      ),
      ok: { status: 200, description: 'A grantless access token.', schema: ref('GrantlessToken') },
      errors: {
        400: ['invalid_scope'],
        503: ['upstream_unavailable', 'upstream_credentials_invalid', 'client_secret_expired'],
      },
    },
  },
  '/v1/sellers/:id/restricted-data-tokens': {
    POST: {
      summary: 'Get a restricted data token',
      description:
        "The Tokens API's restricted data token for the given resources, cached per request shape.",
      scope: 'tokens:read',
      params: ['id'],
      body: {
        type: 'object',
        required: ['restrictedResources'],
        properties: {
          restrictedResources: {
            type: 'array',
            minItems: 1,
            maxItems: 50,
            items: object(
              {
                method: { type: 'string', enum: ['GET', 'PUT', 'POST', 'DELETE'] },
                path: str('An SP-API path such as /orders/v0/orders.'),
                dataElements: {
                  type: 'array',
                  items: { type: 'string', enum: ['buyerInfo', 'shippingAddress', 'buyerTaxInformation'] },
                },
              },
              ['method', 'path'],
            ),
          },
          targetApplication: str('The application id of a delegatee.'),
          region: REGION,
        },
      },
      ok: { status: 200, description: 'A restricted data token.', schema: ref('RestrictedDataToken') },
      errors: {
        ...TOKEN_ERRORS,
        400: [
          'invalid_seller_id',
          'invalid_region',
          'region_required',
          'invalid_restricted_resources',
          'invalid_target_application',
        ],
        502: ['upstream_request_failed'],
      },
    },
  },
  '/v1/sellers': {
    GET: {
      summary: 'List authorizations',
      description: 'One item per seller and region, in pages.',
      scope: 'sellers:read',
      query: {
        limit: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'Items per page.' },
        status: { ...STATUS, description: 'Only authorizations in this status.' },
        cursor: {
          type: 'string',
          maxLength: PAGE_CURSOR_MAX_LENGTH,
          description: 'The `next_cursor` of the previous page.',
        },
        search: { type: 'string', maxLength: 256, description: 'A seller id or user_ref prefix.' },
      },
      ok: { status: 200, description: 'A page of authorizations.', schema: ref('SellerPage') },
      errors: { 400: ['invalid_limit', 'invalid_status', 'invalid_cursor', 'invalid_search'] },
    },
  },
  '/v1/sellers/:id': {
    GET: {
      summary: 'Get a seller',
      description: 'The selling partner in every region: its worst status and each authorization.',
      scope: 'sellers:read',
      params: ['id'],
      ok: { status: 200, description: 'The seller.', schema: ref('Seller') },
      errors: { 400: ['invalid_seller_id'], 404: ['seller_not_found'] },
    },
    DELETE: {
      summary: 'Delete a seller',
      description:
        'Forgets the seller (in one region with `region`) and wipes its tokens; queues a `seller.deleted` webhook.',
      scope: 'sellers:write',
      params: ['id', 'region'],
      ok: {
        status: 200,
        description: 'What was deleted.',
        schema: object(
          {
            selling_partner_id: str('The selling partner id.'),
            deleted_regions: { type: 'array', items: ref('Region') },
          },
          ['selling_partner_id', 'deleted_regions'],
        ),
      },
      errors: { 400: ['invalid_seller_id', 'invalid_region'], 404: ['seller_not_found'] },
    },
  },
  '/v1/notifications': {
    POST: {
      summary: 'Hand over a client-secret notification',
      description:
        "Amazon's `APPLICATION_OAUTH_CLIENT_NEW_SECRET` or `APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY` " +
        'notification (the message body, an SQS message or an SNS envelope holding it): the new secret is ' +
        'stored encrypted and used by every instance.',
      scope: 'notifications:write',
      body: { type: 'object', description: 'The notification as Amazon delivers it.' },
      ok: {
        status: 200,
        description: 'The notification was applied (or had been already).',
        schema: object(
          {
            notification_type: str('The notification type.'),
            outcome: { type: 'string', enum: ['accepted', 'already_accepted'] },
            expires_at: nullable(instant('When the secret in question expires.')),
            previous_expires_at: instant('When the previous secret expires.'),
          },
          ['notification_type', 'outcome', 'expires_at'],
        ),
      },
      errors: {
        400: ['invalid_notification', 'unsupported_notification'],
        409: ['client_id_mismatch', 'application_id_mismatch'],
      },
    },
  },
  '/healthz': {
    GET: {
      summary: 'Liveness',
      description: 'The process is up.',
      scope: null,
      ok: { status: 200, description: 'Up.', schema: object({ status: { const: 'ok' } }, ['status']) },
      errors: {},
    },
  },
  '/readyz': {
    GET: {
      summary: 'Readiness',
      description: 'The store is reachable and migrated: send traffic.',
      scope: null,
      ok: { status: 200, description: 'Ready.', schema: object({ status: { const: 'ready' } }, ['status']) },
      errors: { 503: ['migrations_pending', 'store_unavailable'] },
    },
  },
};

/** The routes this document describes, as `METHOD /pattern` in the router's spelling. */
export function describedRoutes(): string[] {
  return Object.entries(OPERATIONS).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
}

function merge(...sets: ErrorCodes[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const set of sets) {
    for (const [status, codes] of Object.entries(set)) {
      const list = out.get(Number(status)) ?? [];
      for (const c of codes ?? []) if (!list.includes(c)) list.push(c);
      out.set(Number(status), list);
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => a - b));
}

function errorSchema(status: number, codes: readonly string[]): JsonSchema {
  return {
    description: `Error; \`error.code\` is one of: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
    ...(status === 401 ? { headers: { 'WWW-Authenticate': { schema: { type: 'string' } } } } : {}),
    ...(status === 429 || status === 503
      ? { headers: { 'Retry-After': { schema: { type: 'string' } } } }
      : {}),
    content: {
      'application/json': {
        schema: {
          allOf: [ref('Error')],
          properties: { error: { properties: { code: { enum: [...codes] } } } },
        },
      },
    },
  };
}

function operation(path: string, method: string, op: Operation): JsonSchema {
  const errors = merge(
    op.scope === null ? {} : AUTH_ERRORS,
    op.body === undefined ? {} : BODY_ERRORS,
    op.query !== undefined || op.params?.includes('region') ? QUERY_ERRORS : {},
    op.errors,
  );
  const parameters = [
    ...(op.params ?? []).map((p) =>
      p === 'id' ? SELLER_ID_PARAM : p === 'token' ? TOKEN_PARAM : REGION_QUERY,
    ),
    ...Object.entries(op.query ?? {}).map(([name, { description, ...schema }]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema,
    })),
  ];
  return {
    operationId: `${method.toLowerCase()}${path.replace(/\/:?([a-z-]+)/g, (_, s: string) => `_${s.replace(/-/g, '_')}`)}`,
    summary: op.summary,
    description: op.description,
    // OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs: the key's scope.
    security: op.scope === null ? [] : [{ apiKey: [op.scope] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body !== undefined
      ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } }
      : {}),
    responses: {
      [String(op.ok.status)]: {
        description: op.ok.description,
        content: { 'application/json': { schema: op.ok.schema } },
      },
      ...Object.fromEntries(
        [...errors].map(([status, codes]) => [String(status), errorSchema(status, codes)]),
      ),
    },
  };
}

/**
 * The OpenAPI 3.1 document; `serverUrl` (the public URL of an instance) becomes its server.
 *
 * @example
 * json(200, openApiDocument(config.publicUrl));
 */
export function openApiDocument(serverUrl?: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const [path, ops] of Object.entries(OPERATIONS)) {
    const openPath = path.replace(/:([a-z]+)/g, '{$1}');
    paths[openPath] = Object.fromEntries(
      Object.entries(ops).map(([method, op]) => [method.toLowerCase(), operation(path, method, op)]),
    );
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
      schemas: SCHEMAS,
    },
  };
}
