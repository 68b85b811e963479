// The SP-API slice: access-token checks, Amazon's error list, token
// buckets, and four operations (on the sandbox hosts: their static cases, sandbox.ts).
import { findMarketplace, spapiRegionOfHost } from '../core/marketplaces.js';
import {
  BadRequest,
  json,
  mediaType,
  opaqueToken,
  parseJsonObject,
  readText,
  requestId,
  spapiError,
} from './http.js';
import type { AccessRecord, EmulatorState } from './state.js';
import { NEW_SECRET_LIFE_MS, OLD_SECRET_GRACE_MS, RDT_TTL_S } from './state.js';
import type { SpapiOperation } from './types.js';
import { answerSandbox, isSandboxHost, SANDBOX_RATE } from './sandbox.js';

/** The SP-API routes, by path: method → operation. */
export const SPAPI_ROUTES: Readonly<Record<string, { method: string; operation: SpapiOperation }>> =
  Object.freeze({
    '/sellers/v1/marketplaceParticipations': { method: 'GET', operation: 'getMarketplaceParticipations' },
    '/tokens/2021-03-01/restrictedDataToken': { method: 'POST', operation: 'createRestrictedDataToken' },
    '/orders/v0/orders': { method: 'GET', operation: 'getOrders' },
    '/applications/2023-11-30/clientSecret': { method: 'POST', operation: 'rotateApplicationClientSecret' },
  });

const denied = (details: string) =>
  spapiError(403, 'Unauthorized', 'Access to requested resource is denied.', details);

function ok(body: unknown, rate: number): Response {
  return json(200, body, { 'x-amzn-requestid': requestId(), 'x-amzn-ratelimit-limit': String(rate) });
}

type Auth = { ok: true; token: AccessRecord } | { ok: false; response: Response };

function authenticate(request: Request, url: URL, state: EmulatorState): Auth {
  const value = request.headers.get('x-amz-access-token');
  if (value === null || value === '')
    return { ok: false, response: denied('Access token is missing in the request header.') };
  const token = state.accessTokens.get(value);
  if (!token)
    return { ok: false, response: denied('The access token you provided is revoked, malformed or invalid.') };
  if (token.expiresAt <= state.now())
    return { ok: false, response: denied('The access token you provided has expired.') };
  const app = state.appByClientId(token.clientId);
  if (!app)
    return { ok: false, response: denied('The access token you provided is revoked, malformed or invalid.') };
  // The app's client secret behind the token passed its deadline (rotation: seven days after the
  // new one was made): SP-API refuses the still-unexpired token with this detail (reported in
  // selling-partner-api-models#4489 and PipedreamHQ/pipedream#16843).
  if (token.secret.expiresAt !== null && token.secret.expiresAt <= state.now())
    return { ok: false, response: denied('The LWA secret token you provided has expired.') };
  // A token is regional: another region's endpoint refuses it with an empty details field (the body
  // reported in selling-partner-api-models#854 and #4825, where Amazon's support answers that each
  // region needs its own refresh token).
  const region = spapiRegionOfHost(url.hostname);
  if (region !== undefined && token.region !== undefined && token.region !== region) {
    return { ok: false, response: denied('') };
  }
  return { ok: true, token };
}

/**
 * Retail domain suffix, currency and `defaultLanguageCode` per country, as marketplaceParticipations
 * returns them (`<language>_<country>`, Amazon's form: `en_US` in the Sellers model, `en_GB`,
 * `de_DE`, `fr_BE`, `en_CA`, … in captured responses; the rest follow the same form).
 */
const RETAIL: Readonly<Record<string, readonly [string, string, string]>> = {
  CA: ['ca', 'CAD', 'en_CA'],
  US: ['com', 'USD', 'en_US'],
  MX: ['com.mx', 'MXN', 'es_MX'],
  BR: ['com.br', 'BRL', 'pt_BR'],
  IE: ['ie', 'EUR', 'en_IE'],
  ES: ['es', 'EUR', 'es_ES'],
  UK: ['co.uk', 'GBP', 'en_GB'],
  FR: ['fr', 'EUR', 'fr_FR'],
  BE: ['com.be', 'EUR', 'fr_BE'],
  NL: ['nl', 'EUR', 'nl_NL'],
  DE: ['de', 'EUR', 'de_DE'],
  IT: ['it', 'EUR', 'it_IT'],
  SE: ['se', 'SEK', 'sv_SE'],
  ZA: ['co.za', 'ZAR', 'en_ZA'],
  PL: ['pl', 'PLN', 'pl_PL'],
  EG: ['eg', 'EGP', 'ar_EG'],
  TR: ['com.tr', 'TRY', 'tr_TR'],
  SA: ['sa', 'SAR', 'ar_SA'],
  AE: ['ae', 'AED', 'en_AE'],
  IN: ['in', 'INR', 'en_IN'],
  SG: ['sg', 'SGD', 'en_SG'],
  AU: ['com.au', 'AUD', 'en_AU'],
  JP: ['co.jp', 'JPY', 'ja_JP'],
};

function marketplaceParticipations(token: AccessRecord, state: EmulatorState, rate: number): Response {
  const seller = state.sellers.get(token.sellingPartnerId!);
  const payload = (seller?.marketplaces ?? [])
    .map((code) => findMarketplace(code))
    .filter((m) => m !== undefined && m.region === token.region)
    .map((m) => ({
      marketplace: {
        id: m!.marketplaceId,
        countryCode: m!.countryCode === 'UK' ? 'GB' : m!.countryCode,
        name: `Amazon.${RETAIL[m!.countryCode]?.[0] ?? m!.countryCode.toLowerCase()}`,
        defaultCurrencyCode: RETAIL[m!.countryCode]?.[1] ?? 'USD',
        defaultLanguageCode: RETAIL[m!.countryCode]?.[2] ?? 'en_US',
        domainName: `www.amazon.${RETAIL[m!.countryCode]?.[0] ?? m!.countryCode.toLowerCase()}`,
      },
      participation: { isParticipating: true, hasSuspendedListings: false },
      // Amazon's MarketplaceParticipation carries the seller's store name per marketplace.
      storeName: seller?.name ?? token.sellingPartnerId!,
    }));
  return ok({ payload }, rate);
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE']);
const DATA_ELEMENTS: ReadonlySet<string> = new Set(['buyerInfo', 'shippingAddress', 'buyerTaxInformation']);

async function restrictedDataToken(
  request: Request,
  token: AccessRecord,
  state: EmulatorState,
  rate: number,
): Promise<Response> {
  // The Tokens API model's 400: code InvalidRequest (not the InvalidInput other APIs use).
  const invalid = (details: string) =>
    spapiError(400, 'InvalidRequest', 'Request is missing or has invalid parameters', details, {
      'x-amzn-ratelimit-limit': String(rate),
    });
  // The Tokens API model lists 200, 400, 401, 403, 404, 415, 429, 500 and 503 only: a payload that
  // is not JSON is its 415 ("The request payload is in an unsupported format."), and an oversized
  // body its 400 (it lists no 413).
  const type = mediaType(request);
  if (type !== '' && type !== 'application/json')
    return spapiError(415, 'UnsupportedMediaType', 'The request payload is in an unsupported format.', '');
  let body: Record<string, unknown>;
  try {
    body = parseJsonObject(await readText(request, state.maxBodyBytes));
  } catch (err) {
    if (err instanceof BadRequest) return invalid(err.message);
    throw err;
  }
  const resources = body.restrictedResources;
  if (!Array.isArray(resources) || resources.length === 0) return invalid('Resource not provided.');
  if (resources.length > 50) return invalid('At most 50 restricted resources are allowed.');
  const parsed: { method: string; path: string; dataElements: string[] }[] = [];
  for (const r of resources as unknown[]) {
    if (r === null || typeof r !== 'object') return invalid('Each restricted resource must be an object.');
    const { method, path, dataElements } = r as Record<string, unknown>;
    if (typeof method !== 'string' || !METHODS.has(method)) return invalid('Invalid or missing method.');
    if (typeof path !== 'string' || !path.startsWith('/') || path.length > 1024)
      return invalid('Invalid or missing path.');
    if (
      dataElements !== undefined &&
      (!Array.isArray(dataElements) ||
        !dataElements.every((d) => typeof d === 'string' && DATA_ELEMENTS.has(d)))
    ) {
      return invalid('Invalid dataElements.');
    }
    parsed.push({ method, path, dataElements: (dataElements as string[] | undefined) ?? [] });
  }
  if (body.targetApplication !== undefined && typeof body.targetApplication !== 'string')
    return invalid('Invalid targetApplication.');
  const rdt = opaqueToken('Atz.sprdt|', 200);
  state.rememberAccess(rdt, {
    kind: 'rdt',
    clientId: token.clientId,
    secret: token.secret,
    sellingPartnerId: token.sellingPartnerId,
    region: token.region,
    scopes: [],
    refreshToken: token.refreshToken,
    expiresAt: state.now() + RDT_TTL_S * 1000,
    resources: parsed,
  });
  return ok({ restrictedDataToken: rdt, expiresIn: RDT_TTL_S }, rate);
}

/** Whether an RDT resource path (which may use `{orderId}`-style placeholders) covers `path`. */
function pathMatches(pattern: string, path: string): boolean {
  const a = pattern.split('/');
  const b = path.split('/');
  return a.length === b.length && a.every((seg, i) => seg === b[i] || /^\{[^}]+\}$/.test(seg));
}

/** ISO 8601 in UTC as getOrders takes it: a date, or a date and time with an optional `Z`. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?Z?)?$/;

/**
 * getOrders' query rules from the Orders v0 model: "Either the CreatedAfter parameter or the
 * LastUpdatedAfter parameter is required. Both cannot be empty. The date must be in ISO 8601
 * format."; the date combinations and MaxResultsPerPage below, on the emulator's clock.
 * Amazon's answer to a missing filter is a bare InvalidInput (developer reports of getOrders 400s);
 * to a bad date, "Invalid date-time field(s) [createdAfter]." (selling-partner-api-models#1437).
 */
function ordersQueryError(q: URLSearchParams, now: number): { message: string; details: string } | undefined {
  const fields = ['CreatedAfter', 'CreatedBefore', 'LastUpdatedAfter', 'LastUpdatedBefore'] as const;
  const bad = fields.filter((f) => {
    const v = q.get(f);
    return v !== null && (!ISO_UTC.test(v) || Number.isNaN(Date.parse(v)));
  });
  if (bad.length > 0) {
    const names = bad.map((f) => f[0]!.toLowerCase() + f.slice(1));
    return {
      message: 'This is an invalid input',
      details: `Invalid date-time field(s) [${names.join(', ')}].`,
    };
  }
  if (!q.get('CreatedAfter') && !q.get('LastUpdatedAfter')) {
    return { message: NOT_VALID, details: 'Either CreatedAfter or LastUpdatedAfter is required.' };
  }
  // "You could specify CreatedBefore but not provide LastUpdatedAfter or LastUpdatedBefore when
  // CreatedAfter is specified." (the Orders v0 model, CreatedAfter)
  if (q.get('CreatedAfter') && (q.get('LastUpdatedAfter') || q.get('LastUpdatedBefore')))
    return { message: NOT_VALID, details: '' };
  // "if specified, CreatedBefore should be equal to or after the CreatedAfter date and at least 2
  // minutes before the current time" (the model; LastUpdatedBefore likewise).
  for (const [after, before] of [
    ['CreatedAfter', 'CreatedBefore'],
    ['LastUpdatedAfter', 'LastUpdatedBefore'],
  ] as const) {
    const b = q.get(before);
    if (!b) continue;
    const a = q.get(after);
    if (a && utcMs(b) < utcMs(a)) return { message: NOT_VALID, details: '' };
    if (utcMs(b) > now - TWO_MINUTES_MS) return { message: TOO_RECENT, details: '' };
  }
  // "Value must be 1 - 100. Default 100." (the model, MaxResultsPerPage)
  const size = q.get('MaxResultsPerPage');
  if (size !== null && !(/^\d{1,3}$/.test(size) && Number(size) >= 1 && Number(size) <= 100))
    return { message: NOT_VALID, details: '' };
  return undefined;
}

/** Amazon's generic getOrders 400 (selling-partner-api-models#974, #2233). */
const NOT_VALID = 'The input you have submitted is not valid. Please check your input and try again.';
/** Its 400 for a `…Before` date less than two minutes old (as reported in airbytehq/airbyte#52592). */
const TOO_RECENT =
  'The input you have submitted is not valid. Note that the error may be due to a systematic delay in data retrieval. The most updated data is 2 minutes after an order is created or last updated. If you set the CreatedBefore or LastUpdatedBefore parameters, please provide a date that is at least 2 minutes before current time and try again.';
const TWO_MINUTES_MS = 120_000;

/** An ISO_UTC date in epoch ms: a time without `Z` is UTC too (Date.parse would read it as local). */
function utcMs(value: string): number {
  return Date.parse(value.includes('T') && !value.endsWith('Z') ? `${value}Z` : value);
}

function orders(url: URL, token: AccessRecord, state: EmulatorState, rate: number): Response {
  let elements: ReadonlySet<string> = new Set();
  if (token.kind === 'rdt') {
    const resource = token.resources?.find((r) => r.method === 'GET' && pathMatches(r.path, url.pathname));
    if (!resource) return denied('The restricted data token does not cover this operation.');
    elements = new Set(resource.dataElements);
  }
  const ids = (url.searchParams.get('MarketplaceIds') ?? '').split(',').filter((s) => s !== '');
  if (ids.length === 0)
    return spapiError(400, 'InvalidInput', 'Missing required parameter MarketplaceIds', '');
  if (ids.length > 50) return spapiError(400, 'InvalidInput', 'At most 50 MarketplaceIds are allowed', '');
  const refused = ordersQueryError(url.searchParams, state.now());
  if (refused !== undefined)
    return spapiError(400, 'InvalidInput', refused.message, refused.details, {
      'x-amzn-ratelimit-limit': String(rate),
    });
  const seller = state.sellers.get(token.sellingPartnerId!);
  const mine = new Set((seller?.marketplaces ?? []).map((c) => findMarketplace(c)?.marketplaceId));
  for (const id of ids) {
    if (!mine.has(id))
      return spapiError(
        400,
        'InvalidInput',
        'Invalid MarketplaceIds',
        `${id} is not a marketplace of the seller`,
      );
  }
  const base = Date.UTC(2026, 0, 1);
  const list = ids.flatMap((marketplaceId, m) =>
    [0, 1].map((n) => {
      const order: Record<string, unknown> = {
        AmazonOrderId: `902-${String(1000000 + m * 10 + n).padStart(7, '0')}-${String(5550000 + n).padStart(7, '0')}`,
        PurchaseDate: new Date(base + (m * 2 + n) * 3_600_000).toISOString(),
        LastUpdateDate: new Date(base + (m * 2 + n) * 3_600_000 + 60_000).toISOString(),
        OrderStatus: n === 0 ? 'Shipped' : 'Unshipped',
        FulfillmentChannel: 'MFN',
        MarketplaceId: marketplaceId,
        OrderTotal: {
          CurrencyCode: RETAIL[findMarketplace(marketplaceId)?.countryCode ?? 'US']?.[1] ?? 'USD',
          Amount: n === 0 ? '19.99' : '5.00',
        },
        NumberOfItemsShipped: n === 0 ? 1 : 0,
        NumberOfItemsUnshipped: n === 0 ? 0 : 1,
      };
      // Buyer data only under an RDT that asked for it (the Tokens API use case guide).
      if (elements.has('buyerInfo')) {
        order.BuyerInfo = {
          BuyerEmail: `buyer${m}${n}@marketplace.amazon.example`,
          BuyerName: `Test Buyer ${m}${n}`,
        };
      }
      if (elements.has('shippingAddress')) {
        order.ShippingAddress = {
          Name: `Test Buyer ${m}${n}`,
          AddressLine1: '1 Emulator Way',
          City: 'Seattle',
          PostalCode: '98109',
          CountryCode: 'US',
        };
      }
      return order;
    }),
  );
  return ok({ payload: { Orders: list, CreatedBefore: new Date(state.now()).toISOString() } }, rate);
}

/** The Application Management model's 400 (its example: no `details`). */
export const NOT_ENROLLED =
  'Application is not enrolled for rotation notification. Please update application notification preference in Developer console.';

function rotateClientSecret(token: AccessRecord, state: EmulatorState, rate: number): Response {
  const app = state.appByClientId(token.clientId)!;
  // "Developers must register a destination queue in the developer console before calling this
  // operation" (the model): without one, its 400, and no new secret.
  if (app.notificationQueue === null)
    return spapiError(400, 'InvalidInput', NOT_ENROLLED, null, { 'x-amzn-ratelimit-limit': String(rate) });
  const now = state.now();
  const newSecret = `amzn1.oa2-cs.v1.${state.randomId(32).replace(/[-_]/g, '0')}`;
  const oldExpiry = now + OLD_SECRET_GRACE_MS;
  const newExpiry = now + NEW_SECRET_LIFE_MS;
  for (const s of app.secrets) if (s.expiresAt === null || s.expiresAt > oldExpiry) s.expiresAt = oldExpiry;
  app.secrets.push({ secret: newSecret, expiresAt: newExpiry, expiryNoticeSent: false });
  state.queueNotification('APPLICATION_OAUTH_CLIENT_NEW_SECRET', app.id, {
    applicationOAuthClientNewSecret: {
      clientId: app.clientId,
      newClientSecret: newSecret,
      newClientSecretExpiryTime: new Date(newExpiry).toISOString(),
      oldClientSecretExpiryTime: new Date(oldExpiry).toISOString(),
    },
  });
  // The Application Management model: 204, and the secret is not in the response.
  return new Response(null, {
    status: 204,
    headers: { 'x-amzn-requestid': requestId(), 'x-amzn-ratelimit-limit': String(rate) },
  });
}

/** The path a request is counted under: the route, or `<unknown>` so garbage paths cannot grow the table. */
export function spapiStatsPath(pathname: string): string {
  return pathname in SPAPI_ROUTES ? pathname : '<unknown>';
}

const NOT_SELLER = 'The access token you provided is not a selling partner access token.';

/** Whether the kind of token may call the operation: a denial, or undefined. */
function permitted(operation: SpapiOperation, token: AccessRecord): Response | undefined {
  switch (operation) {
    case 'getMarketplaceParticipations':
    case 'createRestrictedDataToken':
      return token.kind === 'seller' ? undefined : denied(NOT_SELLER);
    case 'getOrders':
      return token.kind === 'grantless' ? denied(NOT_SELLER) : undefined;
    case 'rotateApplicationClientSecret':
      return token.kind === 'grantless' &&
        token.scopes.includes('sellingpartnerapi::client_credential:rotation')
        ? undefined
        : denied(
            'The access token you provided does not have the sellingpartnerapi::client_credential:rotation scope.',
          );
  }
}

/** Answers one SP-API request. */
export async function handleSpapi(request: Request, url: URL, state: EmulatorState): Promise<Response> {
  const route = SPAPI_ROUTES[url.pathname];
  if (!route) return spapiError(404, 'NotFound', 'Resource not found', '');
  if (request.method !== route.method) {
    // The Tokens API model lists no 405: another method on its path is a resource that does not exist.
    if (route.operation === 'createRestrictedDataToken')
      return spapiError(404, 'NotFound', 'Resource not found', '');
    return spapiError(
      405,
      'MethodNotAllowed',
      `Method ${request.method} is not allowed on this resource`,
      '',
      { allow: route.method },
    );
  }
  // "The Selling Partner API will reject a User-Agent header if it is longer than 500 characters" (SP-API's User-Agent rule).
  if ((request.headers.get('user-agent') ?? '').length > 500) {
    return spapiError(400, 'InvalidInput', 'The User-Agent header is longer than 500 characters', '');
  }
  const auth = authenticate(request, url, state);
  if (!auth.ok) return auth.response;
  const token = auth.token;
  const refused = permitted(route.operation, token);
  if (refused) return refused; // authorization comes before throttling, so a refused call costs no quota
  const caller =
    token.sellingPartnerId === undefined
      ? `app:${token.clientId}`
      : `${token.clientId}:${token.sellingPartnerId}:${token.region}`;
  // The sandbox hosts have their own usage plan and answer with the models' canned cases.
  const sandbox = isSandboxHost(url.hostname);
  const rate = sandbox ? SANDBOX_RATE : state.rates[route.operation];
  if (!state.takeBucket(route.operation, sandbox ? `sandbox ${caller}` : caller, rate)) {
    // Whether Amazon sends Retry-After on 429 is undocumented: it does not here. Nor
    // x-amzn-RateLimit-Limit: "For this status code, the rate limit header is deprecated and no
    // longer returned" (the Tokens API model's 429, also its 415, 500 and 503).
    return spapiError(429, 'QuotaExceeded', 'You exceeded your quota for the requested resource.', '');
  }
  if (sandbox) return answerSandbox(route.operation, request, url, state.maxBodyBytes);
  try {
    switch (route.operation) {
      case 'getMarketplaceParticipations':
        return marketplaceParticipations(token, state, rate.rate);
      case 'createRestrictedDataToken':
        return await restrictedDataToken(request, token, state, rate.rate);
      case 'getOrders':
        return orders(url, token, state, rate.rate);
      case 'rotateApplicationClientSecret':
        return rotateClientSecret(token, state, rate.rate);
    }
  } catch (err) {
    if (err instanceof BadRequest) {
      return spapiError(
        err.status,
        err.status === 413 ? 'RequestEntityTooLarge' : 'InvalidInput',
        err.message,
        '',
      );
    }
    throw err;
  }
}
