/**
 * The service as a function from a request to a response: `createApp(deps).handle` for the
 * `node:http` adapter (`node.ts`) and `.fetch` (`Request → Response`) for in-process tests. It
 * adds request ids, size limits, security headers, JSON errors and access logs around the routes
 * of `flows.ts` and `token-api.ts`; in dev, requests no route claims go to the embedded emulator.
 */
import type { Config } from '../config.js';
import type { Store } from '../storage/store.js';
import { ApiKeyAuthenticator } from './tokens/api-keys.js';
import { AuditBuffer } from './ops/audit.js';
import type { AmazonGateway, ServiceContext } from './context.js';
import { registerDevRoutes, type DevPartner } from './dev/page.js';
import { registerFlowRoutes } from './flows/flows.js';
import {
  BASE_HEADERS,
  HttpError,
  httpError,
  MAX_BODY_BYTES,
  MAX_URL_LENGTH,
  errorResponse,
  json,
  toFetchHandler,
  type Handler,
  type ServerRequest,
  type ServerResponse,
} from './http/request.js';
import type { Logger } from './http/log.js';
import { renderHttpError, wantsJson } from './http/html.js';
import { Router } from './http/router.js';
import type { Route } from './http/route.js';
import { registerTokenRoutes } from './tokens/routes.js';
import { openApiDocument } from './openapi.js';
import { HEALTHZ, OPENAPI_JSON, READYZ } from './routes.js';
import { PARAM_RULES } from './http/validate.js';
import { RevocationFeed, type REVOCATION_POLL_MS } from './revocations.js';
import { createClientAddress } from './http/client-address.js';
import { RateLimiter, addressKey, networkKey, type LimitDecision } from './http/limits.js';
import { PendingFlowCap } from './flows/pending-cap.js';

/** What {@link createApp} needs. */
export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly amazon: AmazonGateway;
  readonly log: Logger;
  readonly now?: () => number;
  /** Dev only: the embedded emulator, answering every path no route of the service claims. */
  readonly fallback?: Handler;
  /** Dev only: the emulator's test accounts, so the start page offers only what can connect. */
  readonly devPartners?: readonly DevPartner[];
  /** How often buffered audit records are written (ms). */
  readonly auditIntervalMs?: number;
  /**
   * The audit buffer, when the caller made it first (`service.ts`: the token manager's events are
   * audited from the start); default one of its own, every `auditIntervalMs`.
   */
  readonly audit?: AuditBuffer;
  /** How often revocations by other instances are read (ms; default {@link REVOCATION_POLL_MS}). */
  readonly revocationPollMs?: number;
  /**
   * More route modules (admin dashboard, webhooks, metrics…): each registers its routes on the
   * router with the shared context. Registered after the flows and the token API.
   */
  readonly extensions?: readonly ((router: Router, ctx: ServiceContext) => void)[];
  /** Called once per request with the route pattern (never the raw path) and the status (metrics). */
  readonly onResponse?: (route: string, status: number) => void;
}

/** The service. */
export interface App {
  readonly handle: Handler;
  readonly fetch: (req: Request) => Promise<Response>;
  readonly context: ServiceContext;
  /** Every route the router holds, as (method, pattern). */
  routes(): readonly { readonly method: string; readonly pattern: string }[];
  /** The declarations of those routes (see `http/route.ts`). */
  declarations(): readonly Route[];
  /** Writes buffered audit records; call after the server stopped accepting requests. */
  close(): Promise<void>;
}

// The most frequent route logs at debug: one line per cached token would cost more than the token.
const QUIET_ROUTE = '/v1/sellers/:id/access-token';

/** The OAuth rate limit of a network, as a multiple of one address's. */
const OAUTH_NETWORK_FACTOR = 10;

/** Spends from the address's bucket, then its network's (a refused address spends nothing more). */
function takeBoth(address: RateLimiter, network: RateLimiter, client: string): LimitDecision {
  const a = address.take(addressKey(client));
  return a.allowed ? network.take(networkKey(client)) : a;
}
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ID_PREFIX = `${Math.random().toString(36).slice(2, 8)}-`;
const HSTS = 'max-age=63072000; includeSubDomains';
const CREDENTIALS_IN_QUERY = /(?:^|&)(?:api_key|apikey|key|access_token)=/i;
let idCounter = 0;

/**
 * The parts every route shares (the context routes receive), built once per service: the audit
 * buffer, the API-key authenticator, the revocation feed (started here), the client address rule
 * and the per-address limit of the browser flows. Apart from createApp, which wires routes and the
 * request pipeline around it.
 */
function serviceContext(deps: AppDeps): ServiceContext {
  const { config, store, log } = deps;
  const now = deps.now ?? Date.now;
  const audit = deps.audit ?? new AuditBuffer(store, log, deps.auditIntervalMs ?? 1000, now);
  const keys = new ApiKeyAuthenticator(store, {
    ratePerSecond: config.keyRateLimit,
    now,
    onFirstUse: (k) => audit.add({ action: 'api_key.used', actor: k.id, outcome: 'ok' }),
  });
  const revocations = new RevocationFeed(
    store,
    { apiKey: (id) => keys.forget(id), seller: (key) => deps.amazon.forget(key) },
    log,
    now,
  );
  revocations.start(deps.revocationPollMs);
  let warnedForwarded = false;
  const clientAddress = createClientAddress(config.trustedProxies, () => {
    if (warnedForwarded) return;
    warnedForwarded = true;
    // Once per process: behind a proxy that is not trusted every client has the proxy's address.
    log.warn(
      'X-Forwarded-For from a peer that is not a trusted proxy is ignored; if a reverse proxy forwards to this service, list its address in SPAPI_AUTH_TRUSTED_PROXIES',
      { variable: 'SPAPI_AUTH_TRUSTED_PROXIES' },
    );
  });
  const oauthLimiter =
    config.oauthRateLimit > 0 ? new RateLimiter({ perMinute: config.oauthRateLimit, now }) : undefined;
  // A network (IPv4 /24, IPv6 /48) gets ten addresses' worth: many addresses of one owner share it.
  const oauthNetworkLimiter =
    config.oauthRateLimit > 0
      ? new RateLimiter({ perMinute: config.oauthRateLimit * OAUTH_NETWORK_FACTOR, now })
      : undefined;
  const unlimited: LimitDecision = { allowed: true };
  const context: ServiceContext = {
    config,
    store,
    amazon: deps.amazon,
    keys,
    revocations,
    audit,
    log,
    now,
    clientAddress,
    oauthLimit: (req) =>
      oauthLimiter === undefined || oauthNetworkLimiter === undefined
        ? unlimited
        : takeBoth(oauthLimiter, oauthNetworkLimiter, clientAddress(req)),
    pendingFlows: new PendingFlowCap(store, config.maxPendingFlows, log),
  };
  return context;
}

/**
 * Builds the service.
 *
 * @example
 * const app = createApp({ config, store, amazon, log });
 * const res = await app.fetch(new Request('http://localhost/healthz'));
 */
export function createApp(deps: AppDeps): App {
  const { config, store, log } = deps;
  const context = serviceContext(deps);
  const { audit, revocations } = context;
  const router = new Router(PARAM_RULES);

  router.route(HEALTHZ, () => json(200, { status: 'ok' }));
  router.route(READYZ, async () => {
    try {
      const pending = await store.pendingMigrations();
      if (pending.length > 0) return errorResponse('migrations_pending');
      return json(200, { status: 'ready' });
    } catch {
      return errorResponse('store_unavailable');
    }
  });
  // The API description is public (it holds no secret), so other origins may read it too. It
  // describes the routes registered, all of them by the time the first request comes; encoded
  // once, since every answer writes the same bytes (some 100 KB).
  let openapi: Buffer | undefined;
  router.route(OPENAPI_JSON, () => ({
    status: 200,
    headers: {
      ...BASE_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'access-control-allow-origin': '*',
      'cross-origin-resource-policy': 'cross-origin',
    },
    body: (openapi ??= Buffer.from(JSON.stringify(openApiDocument(router.declarations(), config.publicUrl)))),
  }));
  registerFlowRoutes(router, context);
  registerTokenRoutes(router, context);
  for (const extend of deps.extensions ?? []) extend(router, context);
  if (config.mode === 'dev') registerDevRoutes(router, context, deps.devPartners);

  // HSTS only when the service is served over https (its public URL says so).
  const hsts = config.secureCookies;
  const isApi = (path: string): boolean => path.startsWith('/v1/') || path === '/v1';
  const toResponse = (req: ServerRequest, err: HttpError): ServerResponse =>
    renderHttpError(err, isApi(req.path) || wantsJson(req));

  type Routed = { res: ServerResponse; route: string };
  const routed = (res: ServerResponse, route: string): Routed => ({ res, route });

  // Synchronous when the route answers synchronously (the cached token path), so the hot path
  // costs no promise hops; a promise otherwise.
  const dispatch = (req: ServerRequest, requestId: string): Routed | Promise<Routed> => {
    if (req.path.length + req.rawQuery.length > MAX_URL_LENGTH) {
      return routed(errorResponse('uri_too_long'), '(limit)');
    }
    const length = req.header('content-length');
    if (length !== undefined && !(Number(length) <= MAX_BODY_BYTES)) {
      return routed(errorResponse('payload_too_large'), '(limit)');
    }
    const match = router.match(req.method, req.path);
    if (match.kind === 'found') {
      const route = match.ctx.route;
      if (req.rawQuery !== '' && isApi(req.path) && CREDENTIALS_IN_QUERY.test(req.rawQuery)) {
        return routed(errorResponse('credentials_in_url'), route);
      }
      // An error keeps the route pattern of the request for logs and metrics.
      let out: ServerResponse | Promise<ServerResponse>;
      try {
        out = match.handler(req, match.ctx);
      } catch (err) {
        return failed(req, requestId, err, route);
      }
      return out instanceof Promise
        ? out.then(
            (res) => routed(res, route),
            (err: unknown) => failed(req, requestId, err, route),
          )
        : routed(out, route);
    }
    if (match.kind === 'invalid') return routed(toResponse(req, match.error), match.route);
    if (match.kind === 'method_not_allowed') {
      return routed(errorResponse('method_not_allowed', undefined, { allow: match.allow }), '(method)');
    }
    const fallback = deps.fallback;
    if (fallback) return Promise.resolve(fallback(req)).then((res) => routed(res, '(emulator)'));
    return routed(errorResponse('not_found'), '(none)');
  };

  const failed = (req: ServerRequest, requestId: string, err: unknown, route = '(error)'): Routed => {
    if (err instanceof HttpError) return routed(toResponse(req, err), route);
    log.error('request failed', { request_id: requestId, error_name: (err as Error)?.name ?? 'Error' });
    return routed(toResponse(req, httpError('internal_error')), route);
  };

  const finish = (
    req: ServerRequest,
    requestId: string,
    started: number,
    { res, route }: Routed,
  ): ServerResponse => {
    deps.onResponse?.(route, res.status);
    const h = res.headers;
    h['x-request-id'] = requestId;
    if (h['referrer-policy'] === undefined) res.headers = { ...BASE_HEADERS, ...h };
    if (route === QUIET_ROUTE && res.status === 200) {
      // Quiet, but over https as strict as every other response.
      if (hsts) h['strict-transport-security'] = HSTS;
      if (log.debugEnabled)
        log.debug('request', { request_id: requestId, method: req.method, route, status: 200 });
      return res;
    }
    if (isApi(req.path)) res.headers['cache-control'] = 'no-store';
    if (hsts) res.headers['strict-transport-security'] = HSTS;
    log.info('request', {
      request_id: requestId,
      method: req.method,
      route,
      status: res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return res;
  };

  const handle: Handler = (req) => {
    const started = performance.now();
    const incoming = req.header('x-request-id');
    const requestId =
      incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : ID_PREFIX + (++idCounter).toString(36);
    let out: Routed | Promise<Routed>;
    try {
      out = dispatch(req, requestId);
    } catch (err) {
      out = failed(req, requestId, err);
    }
    if (out instanceof Promise) {
      return out.then(
        (r) => finish(req, requestId, started, r),
        (err: unknown) => finish(req, requestId, started, failed(req, requestId, err)),
      );
    }
    return finish(req, requestId, started, out);
  };

  return {
    handle,
    fetch: toFetchHandler(handle),
    context,
    routes: () => router.routes(),
    declarations: () => router.declarations(),
    close: async () => {
      await revocations.stop();
      await audit.close();
    },
  };
}
