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
import { isRegion } from '../../core/marketplaces.js';
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
  parseQuery,
  readJsonObject,
  type ServerRequest,
  type ServerResponse,
} from '../http/request.js';
import type { Router } from '../http/router.js';
import { isPrintableAscii, isVisibleAscii } from '../../core/printable.js';
import { isPageCursorShape } from '../../storage/store/sellers.js';

const REGION_CACHE_TTL_MS = 30_000;
const CACHE_MAX = 50_000;

/** The grantless scopes the API hands out: Amazon's, less those whose API is gone. */
const SERVED_SCOPES: readonly string[] = Object.freeze(
  GRANTLESS_SCOPES.filter((s) => !RETIRED_GRANTLESS_SCOPES.includes(s)),
);

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
type RegionOf = (id: string, rawQuery: string) => Promise<Region>;

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

  const regionOf: RegionOf = async (id, rawQuery) => {
    if (rawQuery !== '') {
      const q = parseQuery(rawQuery);
      if (q instanceof HttpError) throw q;
      const r = q.get('region');
      if (r !== undefined) {
        if (!isRegion(r)) throw httpError('invalid_region');
        return r;
      }
    }
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

  /** `?refused=`: the hex SHA-256 of a token SP-API refused, or undefined. */
  const refusedOf = (rawQuery: string): string | undefined => {
    if (rawQuery === '') return undefined;
    const q = parseQuery(rawQuery);
    if (q instanceof HttpError) throw q;
    const fp = q.get('refused');
    if (fp !== undefined && !/^[0-9a-f]{64}$/.test(fp))
      throw httpError('invalid_parameter', 'refused must be the hex SHA-256 of an access token.');
    return fp;
  };

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
    const key = verified ?? (await keys.authenticate(req.header('authorization'), 'tokens:read'));
    let region: Region | undefined;
    try {
      const refused = refusedOf(req.rawQuery);
      region = await regionOf(id, req.rawQuery);
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
  router.add(
    'GET',
    '/v1/sellers/:id/access-token',
    (req, { params }) => {
      const id = params.id!;
      const key = keys.authenticateCached(req.header('authorization'), 'tokens:read');
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
      // HEAD would release (and audit) a token only to drop the body: 405 instead.
    },
    { head: false },
  );
  return { regionOf, forgetSeller };
}

/** Tokens minted per request, never cached here: grantless tokens and restricted data tokens. */
function registerMintedTokenRoutes(router: Router, ctx: ServiceContext, regionOf: RegionOf): void {
  const { amazon, keys, audit } = ctx;

  router.add('POST', '/v1/grantless-tokens', async (req) => {
    const key = await keys.authenticate(req.header('authorization'), 'tokens:read');
    const body = await readJsonObject(req);
    const scope = body.scope;
    if (typeof scope !== 'string' || !SERVED_SCOPES.includes(scope)) {
      throw httpError('invalid_scope', `scope must be one of ${SERVED_SCOPES.join(', ')}.`);
    }
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

  router.add('POST', '/v1/sellers/:id/restricted-data-tokens', async (req, { params }) => {
    const key = await keys.authenticate(req.header('authorization'), 'tokens:read');
    const body = await readJsonObject(req);
    const request = parseRdtRequest(body);
    const id = params.id!;
    let region: Region;
    if (body.region !== undefined) {
      if (!isRegion(body.region)) throw httpError('invalid_region');
      region = body.region;
    } else {
      region = await regionOf(id, '');
    }
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
  router.add('GET', '/v1/sellers', async (req) => {
    await keys.authenticate(req.header('authorization'), 'sellers:read');
    const { limit, status, cursor, search } = sellerListQuery(req.rawQuery);
    const pageResult = await store
      .listSellers({ limit, cursor: cursor ?? null, status: status as SellerStatus | undefined, search })
      .catch((err: unknown) => {
        // Every other argument was checked: a TypeError is the store refusing the cursor's shape.
        if (err instanceof TypeError) throw httpError('invalid_cursor');
        throw tokenApiError(err);
      });
    return json(200, { items: pageResult.items.map(sellerJson), next_cursor: pageResult.nextCursor });
  });

  router.add('GET', '/v1/sellers/:id', async (req, { params }) => {
    await keys.authenticate(req.header('authorization'), 'sellers:read');
    const records = await store.findSellers(params.id!).catch((err: unknown) => {
      throw tokenApiError(err);
    });
    if (records.length === 0) throw httpError('seller_not_found');
    return json(200, await withProfiles(store, sellerDetailJson(records), records));
  });

  router.add('DELETE', '/v1/sellers/:id', async (req, { params }) => {
    const key = await keys.authenticate(req.header('authorization'), 'sellers:write');
    const id = params.id!;
    const q = parseQuery(req.rawQuery);
    if (q instanceof HttpError) throw q;
    const only = q.get('region');
    if (only !== undefined && !isRegion(only)) throw httpError('invalid_region');
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

const STATUSES: ReadonlySet<string> = new Set(SELLER_TOKEN_STATUSES);
const DATA_ELEMENTS = new Set(['buyerInfo', 'shippingAddress', 'buyerTaxInformation']);

/** The list's query, checked: `limit` 1 to 500 (default 50), a status, an opaque cursor, a search prefix. */
function sellerListQuery(rawQuery: string): {
  limit: number;
  status: string | undefined;
  cursor: string | undefined;
  search: string | undefined;
} {
  const q = parseQuery(rawQuery);
  if (q instanceof HttpError) throw q;
  const limitRaw = q.get('limit');
  let limit = 50;
  if (limitRaw !== undefined) {
    if (!/^\d{1,3}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 500) {
      throw httpError('invalid_limit');
    }
    limit = Number(limitRaw);
  }
  const status = q.get('status');
  if (status !== undefined && !STATUSES.has(status)) {
    throw httpError('invalid_status', `status must be ${SELLER_TOKEN_STATUSES.join(' or ')}.`);
  }
  const cursor = q.get('cursor');
  if (cursor !== undefined && !isPageCursorShape(cursor)) {
    throw httpError('invalid_cursor');
  }
  const search = q.get('search');
  if (search !== undefined && !isPrintableAscii(search, 256)) {
    throw httpError('invalid_search', 'search must be printable text of up to 256 characters.');
  }
  return { limit, status, cursor, search };
}

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
