/**
 * The token API for the app's own services: access tokens, grantless tokens, restricted data
 * tokens and the sellers list. `GET /v1/sellers/:id/access-token` is the service's most frequent
 * request: with a cached token it does no database work (the API key, the seller's region and the
 * token all come from memory) and reuses the serialised body while the token is unchanged.
 */
import { createHash } from 'node:crypto';
import { withProfiles } from '../domain/profile.js';
import { SELLER_TOKEN_STATUSES } from '../../core/token-vault.js';
import type { AccessToken, Region } from '../../core/index.js';
import { GRANTLESS_SCOPES, RETIRED_GRANTLESS_SCOPES } from '../../core/scopes.js';
import type { VerifiedKey } from './api-keys.js';
import { deleteSellerAuthorizations } from '../sellers/delete.js';
import { sellerDetailJson, sellerJson } from '../sellers/json.js';
import type { SellerStatus } from '../../storage/store.js';
import { tokenApiError } from './api-errors.js';
import { isRdtMethod, type RestrictedDataTokenRequest } from '../../core/rdt.js';
import type { ServiceContext } from '../context.js';
import {
  HttpError,
  httpError,
  apiHeaders,
  json,
  type ServerRequest,
  type ServerResponse,
} from '../http/request.js';
import type { Router } from '../http/router.js';
import { isVisibleAscii, PRINTABLE_ASCII_CLASS } from '../../core/printable.js';
import { PAGE_CURSOR_SHAPE } from '../../storage/store/sellers.js';
import { coded, defineRoute } from '../http/route.js';
import {
  PARTNER_KIND,
  REGION,
  SELLER_STATUS,
  described,
  instant,
  nullable,
  object,
  oneOf,
  str,
} from '../http/schemas.js';
import { Type } from '@sinclair/typebox';

const REGION_CACHE_TTL_MS = 30_000;
const CACHE_MAX = 50_000;

/** The grantless scopes the API hands out: Amazon's, less those whose API is gone. */
const SERVED_SCOPES: readonly string[] = Object.freeze(
  GRANTLESS_SCOPES.filter((s) => !RETIRED_GRANTLESS_SCOPES.includes(s)),
);

const REGION_QUERY = coded(
  'invalid_region',
  described(REGION, 'The region, required when the seller is authorized in several.'),
);
// Refusals of every route that finds a seller's token.
const TOKEN_ERRORS = [
  'invalid_seller_id',
  'invalid_region',
  'region_required',
  'seller_not_found',
  'seller_reauthorization_required',
  'credential_integrity_error',
  'upstream_unavailable',
  'upstream_credentials_invalid',
  'client_secret_expired',
] as const;

const ACCESS_TOKEN = object(
  {
    access_token: str('An LWA access token for SP-API calls of this seller (`x-amz-access-token`).'),
    expires_at: instant('When the token expires; ask again before then.'),
    region: REGION,
    endpoint: str(
      'The SP-API base URL of the region (with SPAPI_AUTH_AMAZON_URL set: the emulator, as <emulator>/__amazon/<the regional host>).',
      { format: 'uri' },
    ),
  },
  { $id: 'AccessToken' },
);

/** `GET /v1/sellers/:id/access-token`: the service's most frequent request. */
export const GET_ACCESS_TOKEN = defineRoute({
  method: 'GET',
  path: '/v1/sellers/:id/access-token',
  scope: 'tokens:read',
  audience: 'api',
  summary: "Get a seller's access token",
  description:
    '`{ access_token, expires_at, region, endpoint }` from memory while fresh, else from the store, else one refresh ' +
    'per seller shared by every instance; never the refresh token. `refused=<hex SHA-256>` of a token SP-API refused ' +
    '(403 "expired" or "revoked" before its expiry) drops that token everywhere if it is the one held (never ' +
    'another) and refreshes once; otherwise the newer token held is returned.',
  query: {
    region: REGION_QUERY,
    refused: coded(
      'invalid_parameter',
      str('Hex SHA-256 of an access token SP-API refused (never the token itself).', {
        pattern: '^[0-9a-f]{64}$',
      }),
      'refused must be the hex SHA-256 of an access token.',
    ),
  },
  responses: { 200: { description: 'A usable access token.', schema: ACCESS_TOKEN } },
  errors: [...TOKEN_ERRORS, 'invalid_parameter'],
  // HEAD would release (and audit) a token only to drop the body: 405 instead.
  head: false,
});

/** `POST /v1/grantless-tokens`. */
export const POST_GRANTLESS_TOKEN = defineRoute({
  method: 'POST',
  path: '/v1/grantless-tokens',
  scope: 'tokens:read',
  audience: 'api',
  summary: 'Get a grantless token',
  description:
    '`{ access_token, expires_at }` for grantless operations: `sellingpartnerapi::notifications` or ' +
    '`sellingpartnerapi::client_credential:rotation`.',
  body: object({
    scope: coded('invalid_scope', oneOf(SERVED_SCOPES), `scope must be one of ${SERVED_SCOPES.join(', ')}.`),
  }),
  bodyError: 'invalid_scope',
  responses: {
    200: {
      description: 'A grantless access token.',
      schema: object(
        {
          access_token: str('An LWA access token for grantless operations of the scope.'),
          expires_at: instant('When the token expires.'),
        },
        { $id: 'GrantlessToken' },
      ),
    },
  },
  errors: ['invalid_scope', 'upstream_unavailable', 'upstream_credentials_invalid', 'client_secret_expired'],
});

// Open, as Amazon's Tokens API takes it: other properties of a resource are ignored.
const RESTRICTED_RESOURCE = Type.Object({
  method: oneOf(['GET', 'PUT', 'POST', 'DELETE']),
  path: str('An SP-API path such as /orders/v0/orders.', { pattern: '^/[A-Za-z0-9/_{}.-]{1,511}$' }),
  dataElements: Type.Optional(Type.Array(oneOf(['buyerInfo', 'shippingAddress', 'buyerTaxInformation']))),
});

/** `POST /v1/sellers/:id/restricted-data-tokens`. */
export const POST_RESTRICTED_DATA_TOKEN = defineRoute({
  method: 'POST',
  path: '/v1/sellers/:id/restricted-data-tokens',
  scope: 'tokens:read',
  audience: 'api',
  summary: 'Get a restricted data token',
  description:
    "`{ restricted_data_token, expires_at }`: the Tokens API's restricted data token for the given resources, " +
    'cached per request shape.',
  // parseRdtRequest then refuses `..` in a path.
  body: Type.Object({
    restrictedResources: coded(
      'invalid_restricted_resources',
      Type.Array(RESTRICTED_RESOURCE, { minItems: 1, maxItems: 50 }),
      'restrictedResources must be 1 to 50 resources, each with a method (GET, PUT, POST or DELETE), an SP-API path such as /orders/v0/orders, and dataElements among buyerInfo, shippingAddress and buyerTaxInformation.',
    ),
    targetApplication: Type.Optional(
      coded('invalid_target_application', str('The application id of a delegatee.')),
    ),
    region: Type.Optional(coded('invalid_region', REGION)),
  }),
  bodyError: 'invalid_restricted_resources',
  responses: {
    200: {
      description: 'A restricted data token.',
      schema: object(
        {
          restricted_data_token: str(
            'A restricted data token (`x-amz-access-token` of the restricted call).',
          ),
          expires_at: instant('When the token expires.'),
        },
        { $id: 'RestrictedDataToken' },
      ),
    },
  },
  errors: [
    ...TOKEN_ERRORS,
    'invalid_restricted_resources',
    'invalid_target_application',
    'upstream_request_failed',
  ],
});

const AUTHORIZATION_PROPERTIES = {
  selling_partner_id: str('The selling partner id (merchant or vendor id).'),
  region: REGION,
  status: SELLER_STATUS,
  kind: PARTNER_KIND,
  user_ref: nullable(str("The app's own user id given when the link was made.")),
  marketplace: nullable(str('The marketplace the seller was connected from (country code).')),
  authorized_at: instant('When the seller last authorized the app.'),
  reauthorize_by: instant('When the authorization lapses (365 days after authorized_at).'),
  last_refresh_at: nullable(instant('The last successful refresh of its access token.')),
  last_error: nullable(
    object({ code: str('The error code.'), message: nullable(str('What happened.')), at: instant('When.') }),
  ),
};
const AUTHORIZATION = object(AUTHORIZATION_PROPERTIES, { $id: 'Authorization' });
const AUTHORIZATION_DETAIL = object(
  {
    ...AUTHORIZATION_PROPERTIES,
    store_name: nullable(str('The store name SP-API reports (marketplaceParticipations); null until read.')),
    marketplaces: nullable(
      Type.Array(
        object({
          id: str('The marketplace id.'),
          country: str('Its country code.'),
          name: str('e.g. Amazon.com.'),
          participating: Type.Boolean(),
          suspended_listings: Type.Boolean(),
        }),
        { description: 'The marketplaces SP-API reports for the seller in this region; null until read.' },
      ),
    ),
    profile_fetched_at: nullable(instant('When the profile was read.')),
  },
  { $id: 'AuthorizationDetail' },
);

/** `GET /v1/sellers`. */
export const LIST_SELLERS = defineRoute({
  method: 'GET',
  path: '/v1/sellers',
  scope: 'sellers:read',
  audience: 'api',
  summary: 'List authorizations',
  description:
    'One item per seller and region, in pages: status, region, kind, user_ref, authorized_at, reauthorize_by, ' +
    'last_refresh_at, last_error.',
  query: {
    limit: coded(
      'invalid_limit',
      Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Items per page.' }),
    ),
    status: coded(
      'invalid_status',
      described(SELLER_STATUS, 'Only authorizations in this status.'),
      `status must be ${SELLER_TOKEN_STATUSES.join(' or ')}.`,
    ),
    cursor: coded('invalid_cursor', str('The `next_cursor` of the previous page.', PAGE_CURSOR_SHAPE)),
    search: coded(
      'invalid_search',
      str('A seller id or user_ref prefix.', {
        minLength: 1,
        maxLength: 256,
        pattern: `^[${PRINTABLE_ASCII_CLASS}]*$`,
      }),
      'search must be printable text of up to 256 characters.',
    ),
  },
  responses: {
    200: {
      description: 'A page of authorizations.',
      schema: object(
        {
          items: Type.Array(AUTHORIZATION),
          next_cursor: nullable(str('Pass as `cursor` for the next page; null on the last page.')),
        },
        { $id: 'SellerPage' },
      ),
    },
  },
  errors: ['invalid_limit', 'invalid_status', 'invalid_cursor', 'invalid_search'],
});

/** `GET /v1/sellers/:id`. */
export const GET_SELLER = defineRoute({
  method: 'GET',
  path: '/v1/sellers/:id',
  scope: 'sellers:read',
  audience: 'api',
  summary: 'Get a seller',
  description:
    'The selling partner in every region: its worst status and each authorization, with the `store_name` and ' +
    '`marketplaces` (`id`, `country`, `name`, `participating`, `suspended_listings`) read from SP-API right after ' +
    'consent (a grant that works only in another region is refused: `409 region_mismatch`).',
  responses: {
    200: {
      description: 'The seller.',
      schema: object(
        {
          selling_partner_id: str('The selling partner id.'),
          status: SELLER_STATUS,
          kind: PARTNER_KIND,
          user_ref: nullable(str("The app's own user id.")),
          regions: Type.Array(REGION, { minItems: 1 }),
          authorizations: Type.Array(AUTHORIZATION_DETAIL, { minItems: 1 }),
        },
        { $id: 'Seller' },
      ),
    },
  },
  errors: ['invalid_seller_id', 'seller_not_found'],
});

/** `DELETE /v1/sellers/:id`. */
export const DELETE_SELLER = defineRoute({
  method: 'DELETE',
  path: '/v1/sellers/:id',
  scope: 'sellers:write',
  audience: 'api',
  summary: 'Delete a seller',
  description:
    'Forgets the seller (in one region with `region`) and wipes its tokens; queues a `seller.deleted` webhook.',
  query: { region: coded('invalid_region', described(REGION, 'Only this region.')) },
  responses: {
    200: {
      description: 'What was deleted.',
      schema: object({
        selling_partner_id: str('The selling partner id.'),
        deleted_regions: Type.Array(REGION),
      }),
    },
  },
  errors: ['invalid_seller_id', 'invalid_region', 'seller_not_found'],
});

/**
 * The token API's declarations, in the order they are registered.
 *
 * @example
 * for (const r of TOKEN_ROUTES) console.log(r.method, r.path);
 */
export const TOKEN_ROUTES = [
  GET_ACCESS_TOKEN,
  POST_GRANTLESS_TOKEN,
  POST_RESTRICTED_DATA_TOKEN,
  LIST_SELLERS,
  GET_SELLER,
  DELETE_SELLER,
] as const;

/**
 * Registers the token API routes on `router`.
 *
 * @example
 * const { forgetSeller } = registerTokenRoutes(router, context);
 */
/** One refresh forced by a `?refused=` report per seller and region in this interval, per instance. */
export const FORCED_REFRESH_INTERVAL_MS = 60_000;
/** Sellers remembered for that spacing; past it, those whose interval has ended are forgotten first. */
const FORCED_REFRESH_KEYS = 10_000;

/**
 * Whether an event for `key` may happen now: at most one per `intervalMs`. Memory is bounded: past
 * `maxKeys`, keys whose interval has ended are dropped, and if none has, the event is refused (the
 * safe answer: the report is not honoured, nothing is refreshed).
 */
export function spacedEvents(
  intervalMs: number,
  maxKeys: number,
): { take(key: string, now: number): boolean } {
  const last = new Map<string, number>();
  return {
    take(key, now) {
      const at = last.get(key);
      if (at !== undefined && now - at < intervalMs) return false;
      if (at === undefined && last.size >= maxKeys) {
        for (const [k, t] of last) if (now - t >= intervalMs) last.delete(k);
        if (last.size >= maxKeys) return false;
      }
      last.set(key, now);
      return true;
    },
  };
}

export function registerTokenRoutes(router: Router, ctx: ServiceContext): { forgetSeller(id: string): void } {
  // Three groups in the order they were always registered: the access-token hot path with its
  // caches, the tokens minted per request (grantless, RDT), and the sellers resource. The caches
  // belong to the first; the others only resolve a region through it or drop a seller from it.
  const { regionOf, forgetSeller } = registerAccessTokenRoute(router, ctx);
  registerMintedTokenRoutes(router, ctx, regionOf);
  registerSellerRoutes(router, ctx, forgetSeller);
  return { forgetSeller };
}

/** The seller's region: the query's `region`, else the only region the seller is authorized in. */
type RegionOf = (id: string, asked: Region | undefined) => Promise<Region>;

/**
 * `GET /v1/sellers/:id/access-token` and the caches that let it answer from memory: each seller's
 * regions (30 s) and the serialised body per token.
 */
function registerAccessTokenRoute(
  router: Router,
  ctx: ServiceContext,
): { regionOf: RegionOf; forgetSeller(id: string): void } {
  const { store, amazon, keys, audit } = ctx;
  const regionCache = new Map<string, { regions: readonly Region[]; until: number }>();
  // Per region, keyed by seller id: no key string is built per request.
  const bodyCache: Record<
    Region,
    Map<string, { token: string; expiresAt: number; body: string; length: string }>
  > = Object.assign(Object.create(null) as object, {
    na: new Map(),
    eu: new Map(),
    fe: new Map(),
  });

  const regionsOf = async (id: string): Promise<readonly Region[]> => {
    const now = ctx.now();
    const hit = regionCache.get(id);
    if (hit !== undefined && hit.until > now) return hit.regions;
    const regions = (await store.findSellers(id)).map((s) => s.region);
    if (regionCache.size >= CACHE_MAX) regionCache.clear();
    if (regions.length > 0) regionCache.set(id, { regions, until: now + REGION_CACHE_TTL_MS });
    return regions;
  };

  const regionOf: RegionOf = async (id, asked) => {
    if (asked !== undefined) return asked;
    const regions = await regionsOf(id);
    if (regions.length === 0) throw httpError('seller_not_found');
    if (regions.length > 1) {
      throw httpError(
        'region_required',
        'The seller is authorized in several regions: pass ?region=na|eu|fe.',
      );
    }
    return regions[0]!;
  };

  // The body's Content-Length is kept with it, so the adapter does not measure the body again
  // on every response.
  const tokenResponse = (id: string, region: Region, t: AccessToken): ServerResponse => {
    const { body, length } = tokenBody(id, region, t);
    const headers = apiHeaders();
    headers['content-length'] = length;
    return { status: 200, headers, body };
  };

  const tokenBody = (
    id: string,
    region: Region,
    t: AccessToken,
  ): { readonly body: string; readonly length: string } => {
    const cache = bodyCache[region];
    const hit = cache.get(id);
    if (hit !== undefined && hit.token === t.accessToken && hit.expiresAt === t.expiresAt) return hit;
    const body = JSON.stringify({
      access_token: t.accessToken,
      expires_at: iso(t.expiresAt),
      region,
      endpoint: amazon.endpoint(region),
    });
    if (cache.size >= CACHE_MAX) cache.clear();
    const entry = {
      token: t.accessToken,
      expiresAt: t.expiresAt,
      body,
      length: String(Buffer.byteLength(body)),
    };
    cache.set(id, entry);
    return entry;
  };

  const forgetSeller = (id: string): void => {
    regionCache.delete(id);
    for (const r of ['na', 'eu', 'fe'] as const) bodyCache[r].delete(id);
  };

  // A key holder who reports every token it gets as refused would otherwise make one LWA refresh per
  // report; one forced refresh per seller and region per interval bounds that (a report inside the
  // interval gets the token held, and SP-API's answer to it goes back to the caller).
  const forcedRefreshes = spacedEvents(FORCED_REFRESH_INTERVAL_MS, FORCED_REFRESH_KEYS);

  /**
   * The seller's token; when the caller says SP-API refused the token held (its fingerprint), that
   * token is dropped here and in the store first, so one refresh replaces it (concurrent reports of
   * the same token find the new one and drop nothing).
   */
  const currentToken = async (key: { sellingPartnerId: string; region: Region }, refused?: string) => {
    const token = await amazon.getAccessToken(key);
    if (refused === undefined || amazon.invalidateAccessToken === undefined) return token;
    if (createHash('sha256').update(token.accessToken).digest('hex') !== refused) return token;
    if (!forcedRefreshes.take(`${key.sellingPartnerId}:${key.region}`, ctx.now())) return token;
    await amazon.invalidateAccessToken(key, token.accessToken);
    return amazon.getAccessToken(key);
  };

  const releaseSlow = async (
    req: ServerRequest,
    id: string,
    verified: VerifiedKey | undefined,
  ): Promise<ServerResponse> => {
    // A key verified (and charged to its rate limit) by the fast path is not checked twice.
    const key = verified ?? (await keys.authenticate(req.header('authorization'), GET_ACCESS_TOKEN.scope));
    let region: Region | undefined;
    try {
      const query = GET_ACCESS_TOKEN.readQuery(req.rawQuery);
      const refused = query.refused;
      region = await regionOf(id, query.region);
      const token = await currentToken({ sellingPartnerId: id, region }, refused);
      audit.release(key.id, id, region);
      return tokenResponse(id, region, token);
    } catch (err) {
      const e = tokenApiError(err);
      audit.add({
        action: 'token.released',
        actor: key.id,
        sellingPartnerId: id,
        region: region ?? null,
        outcome: e.code,
      });
      if (e.code === 'seller_not_found' || e.code === 'seller_reauthorization_required') forgetSeller(id);
      throw e;
    }
  };

  // The hot path: key, region and token all in memory → answered synchronously, no promise, no
  // store call. Anything missing → the general path above.
  router.route(GET_ACCESS_TOKEN, (req, { params }) => {
    const id = params.id!;
    const key = keys.authenticateCached(req.header('authorization'), GET_ACCESS_TOKEN.scope);
    if (key !== undefined && req.rawQuery === '') {
      const hit = regionCache.get(id);
      if (hit !== undefined && hit.regions.length === 1 && hit.until > ctx.now()) {
        const region = hit.regions[0]!;
        const token = amazon.peekAccessToken(id, region);
        if (token !== undefined) {
          audit.release(key.id, id, region);
          return tokenResponse(id, region, token);
        }
      }
    }
    return releaseSlow(req, id, key);
  });
  return { regionOf, forgetSeller };
}

/** Tokens minted per request, never cached here: grantless tokens and restricted data tokens. */
function registerMintedTokenRoutes(router: Router, ctx: ServiceContext, regionOf: RegionOf): void {
  const { amazon, keys, audit } = ctx;

  router.route(POST_GRANTLESS_TOKEN, async (req) => {
    const key = await keys.authenticate(req.header('authorization'), POST_GRANTLESS_TOKEN.scope);
    const { scope } = await POST_GRANTLESS_TOKEN.readBody(req);
    try {
      const t = await amazon.getGrantlessToken(scope);
      audit.add({ action: 'grantless_token.released', actor: key.id, outcome: 'ok', details: { scope } });
      return json(200, { access_token: t.accessToken, expires_at: iso(t.expiresAt) });
    } catch (err) {
      const e = tokenApiError(err);
      audit.add({ action: 'grantless_token.released', actor: key.id, outcome: e.code, details: { scope } });
      throw e;
    }
  });

  router.route(POST_RESTRICTED_DATA_TOKEN, async (req, { params }) => {
    const key = await keys.authenticate(req.header('authorization'), POST_RESTRICTED_DATA_TOKEN.scope);
    const body = await POST_RESTRICTED_DATA_TOKEN.readBody(req);
    const request = parseRdtRequest(body);
    const id = params.id!;
    const region = body.region ?? (await regionOf(id, undefined));
    try {
      const t = await amazon.getRestrictedDataToken({ sellingPartnerId: id, region }, request);
      audit.add({ action: 'rdt.released', actor: key.id, sellingPartnerId: id, region, outcome: 'ok' });
      return json(200, { restricted_data_token: t.restrictedDataToken, expires_at: iso(t.expiresAt) });
    } catch (err) {
      const e = tokenApiError(err);
      audit.add({ action: 'rdt.released', actor: key.id, sellingPartnerId: id, region, outcome: e.code });
      throw e;
    }
  });
}

/** The sellers resource: the list (keyset pages), one seller with its profiles, and delete. */
function registerSellerRoutes(router: Router, ctx: ServiceContext, forgetSeller: (id: string) => void): void {
  const { store, amazon, keys } = ctx;
  router.route(LIST_SELLERS, async (req) => {
    await keys.authenticate(req.header('authorization'), LIST_SELLERS.scope);
    // readQuery applies the declared default of `limit`.
    const { limit, status, cursor, search } = LIST_SELLERS.readQuery(req.rawQuery);
    const pageResult = await store
      .listSellers({ limit, cursor: cursor ?? null, status: status as SellerStatus | undefined, search })
      .catch((err: unknown) => {
        // Every other argument was checked: a TypeError is the store refusing the cursor's shape.
        if (err instanceof TypeError) throw httpError('invalid_cursor');
        throw tokenApiError(err);
      });
    return json(200, { items: pageResult.items.map(sellerJson), next_cursor: pageResult.nextCursor });
  });

  router.route(GET_SELLER, async (req, { params }) => {
    await keys.authenticate(req.header('authorization'), GET_SELLER.scope);
    const records = await store.findSellers(params.id!).catch((err: unknown) => {
      throw tokenApiError(err);
    });
    if (records.length === 0) throw httpError('seller_not_found');
    return json(200, await withProfiles(store, sellerDetailJson(records), records));
  });

  router.route(DELETE_SELLER, async (req, { params }) => {
    const key = await keys.authenticate(req.header('authorization'), DELETE_SELLER.scope);
    const id = params.id!;
    const only = DELETE_SELLER.readQuery(req.rawQuery).region;
    const { found, deleted } = await deleteSellerAuthorizations(store, id, {
      actor: key.id,
      now: ctx.now,
      tokens: amazon,
      ...(only === undefined ? {} : { region: only }),
    });
    if (found.length === 0) throw httpError('seller_not_found');
    forgetSeller(id);
    ctx.log.info('seller deleted', { seller_id: id, key_id: key.id, count: deleted.length });
    return json(200, { selling_partner_id: id, deleted_regions: deleted });
  });
}

const DATA_ELEMENTS = new Set(['buyerInfo', 'shippingAddress', 'buyerTaxInformation']);

/**
 * Validates a restricted data token request body (Tokens API 2021-03-01 shape).
 *
 * @example
 * parseRdtRequest({ restrictedResources: [{ method: 'GET', path: '/orders/v0/orders' }] });
 */
export function parseRdtRequest(body: Record<string, unknown>): RestrictedDataTokenRequest {
  const bad = (msg: string): HttpError => httpError('invalid_restricted_resources', msg);
  const list = body.restrictedResources;
  if (!Array.isArray(list) || list.length === 0 || list.length > 50) {
    throw bad('restrictedResources must be an array of 1 to 50 resources.');
  }
  const restrictedResources = list.map((r: unknown) => {
    if (r === null || typeof r !== 'object') throw bad('Each restricted resource must be an object.');
    const { method, path, dataElements } = r as Record<string, unknown>;
    if (!isRdtMethod(method)) throw bad('method must be GET, PUT, POST or DELETE.');
    if (typeof path !== 'string' || !/^\/[A-Za-z0-9/_{}.-]{1,511}$/.test(path) || path.includes('..')) {
      throw bad('path must be an SP-API path such as /orders/v0/orders.');
    }
    if (dataElements === undefined) return { method, path };
    if (
      !Array.isArray(dataElements) ||
      !dataElements.every((d) => typeof d === 'string' && DATA_ELEMENTS.has(d))
    ) {
      throw bad('dataElements must list buyerInfo, shippingAddress or buyerTaxInformation.');
    }
    return { method, path, dataElements: dataElements as string[] };
  });
  const target = body.targetApplication;
  if (target !== undefined && !isVisibleAscii(target, 256)) {
    throw httpError('invalid_target_application');
  }
  return target === undefined ? { restrictedResources } : { restrictedResources, targetApplication: target };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
