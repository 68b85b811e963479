// The emulator as a function from Request to an outcome, and the in-process `fetch` built on it.
import {
  handleAppstoreAuthorize,
  handleAppstoreConfirm,
  handleConsent,
  handleConsentDecision,
} from './consent.js';
import { CONTROL_PREFIX, createControlClient, handleControl, type EmulatorControl } from './control.js';
import {
  cannedResponse,
  endlessStream,
  isCanned,
  type Fault,
  type FaultTarget,
  type Outcome,
} from './faults.js';
import { AMAZON_HOST_HEADER, AMAZON_HOST_PATH } from '../core/marketplaces.js';
import { html, sleep, spapiError } from './http.js';
import { handleToken, lwaError, parseTokenRequest } from './lwa.js';
import { handleSpapi, spapiStatsPath } from './spapi.js';
import type { EmulatorSnapshot } from './snapshot.js';
import { handleSqs, sqsOperation } from './sqs.js';
import { EmulatorState, type EmulatorTokenStatus } from './state.js';
import type { EmulatorOptions } from './types.js';

/** The in-process fetch: the signature of the global `fetch`. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** An emulator instance. */
export interface Emulator {
  /**
   * Answers a request as Amazon would, in-process: any host works, the path decides. Socket faults
   * are imitated as undici shows them (reset → `TypeError('fetch failed')`; hang → settles only when
   * the request's signal aborts; trickle → a body that yields one byte per interval). Redirects are
   * handled per `init.redirect` like the global fetch: `manual` returns them, `error` rejects, and
   * `follow` re-enters the emulator for its own origin and uses the global fetch for other origins.
   */
  readonly fetch: FetchLike;
  /** The control API, in-process. */
  readonly control: EmulatorControl;
  /**
   * The raw outcome for a request; the node adapter performs socket faults with it. `signal`
   * (default `request.signal`) ends delays and hangs when the caller gives up.
   */
  handle(request: Request, signal?: AbortSignal): Promise<Outcome>;
  /**
   * The whole mutable state, JSON-safe, for `createEmulator({ state })` (or a file:
   * `createPersistentEmulator`). It holds the issued tokens: keep it private.
   */
  snapshot(): EmulatorSnapshot;
  /** What a refresh token, access token or RDT issued here is now (a quick look, no request counted). */
  tokenStatus(token: string): EmulatorTokenStatus;
}

const GRANT_LABELS: ReadonlySet<string> = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
]);

function isConsentPath(path: string): boolean {
  return (
    path === '/apps/authorize/consent' ||
    path === '/appstore/authorize' ||
    path.startsWith('/apps/authorize/confirm/')
  );
}

/** The label an outcome is counted under. */
function outcomeLabel(outcome: Outcome): string {
  return outcome.kind === 'response' ? String(outcome.response.status) : outcome.kind;
}

/** What Amazon's endpoint says with an error status: LWA's and SP-API's error bodies (SP-API's response format). */
const SPAPI_FAULT_ERRORS: Readonly<Record<number, readonly [string, string]>> = {
  400: ['InvalidInput', 'The input you have submitted is not valid. Please check your input and try again.'],
  403: ['Unauthorized', 'Access to requested resource is denied.'],
  404: ['NotFound', 'Resource not found'],
  413: ['RequestEntityTooLarge', 'The request size exceeded the maximum accepted size.'],
  415: ['UnsupportedMediaType', 'The request payload is in an unsupported format.'],
  429: ['QuotaExceeded', 'You exceeded your quota for the requested resource.'],
  500: ['InternalFailure', 'We encountered an internal error. Please try again.'],
  503: ['ServiceUnavailable', 'Service is temporarily unavailable. Please try again.'],
};

function lwaFaultError(status: number): Response {
  if (status === 401) return lwaError(401, 'invalid_client', 'Client authentication failed');
  if (status === 503)
    return lwaError(503, 'temporarily_unavailable', 'The service is temporarily unavailable');
  if (status >= 500) return lwaError(status, 'server_error', 'The server encountered an internal error');
  return lwaError(status, 'invalid_request', 'The request could not be processed');
}

/**
 * A fault given only a status (4xx/5xx) answers with the endpoint's own error: body, content type
 * and `x-amzn-RequestId` as Amazon sends them; the fault's headers are laid over it.
 */
function faultResponse(fault: Fault, target: FaultTarget): Response {
  const status = fault.status;
  const bare = fault.body === undefined && fault.body_base64 === undefined && !fault.endless;
  if (!bare || status === undefined || status < 400 || target === 'sqs') return cannedResponse(fault);
  let response: Response;
  if (target === 'token') response = lwaFaultError(status);
  else if (target === 'consent')
    response = html(
      status,
      '<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>',
    );
  else {
    const [code, message] = SPAPI_FAULT_ERRORS[status] ?? SPAPI_FAULT_ERRORS[status < 500 ? 400 : 500]!;
    response = spapiError(status, code, message, '');
  }
  for (const [k, v] of Object.entries(fault.headers ?? {})) response.headers.set(k, v);
  return response;
}

async function applyFault(
  fault: Fault,
  target: FaultTarget,
  signal: AbortSignal,
  real: () => Promise<Response>,
): Promise<Outcome> {
  if (fault.delay_ms !== undefined) await sleep(fault.delay_ms, signal);
  if (fault.reset) return { kind: 'reset' };
  if (fault.hang) return { kind: 'hang' };
  const response = isCanned(fault) ? faultResponse(fault, target) : await real();
  return {
    kind: 'response',
    response,
    ...(fault.trickle_ms === undefined ? {} : { trickleMs: fault.trickle_ms }),
    ...(fault.endless ? { endless: true } : {}),
  };
}

function methodNotAllowed(target: FaultTarget, allow: string): Response {
  const headers = { allow };
  if (target === 'token') {
    const r = lwaError(405, 'invalid_request', 'The request method is not supported');
    r.headers.set('allow', allow);
    return r;
  }
  if (target === 'consent')
    return html(405, '<!doctype html><title>Method not allowed</title><p>Method not allowed.</p>', headers);
  return spapiError(405, 'MethodNotAllowed', 'Method not allowed', '', headers);
}

function internalError(target: FaultTarget): Response {
  if (target === 'token') return lwaError(500, 'server_error', 'The server encountered an internal error');
  if (target === 'consent') return html(500, '<!doctype html><title>Error</title><p>Internal error.</p>');
  return spapiError(500, 'InternalFailure', 'We encountered an internal error. Please try again.', '');
}

async function route(
  request: Request,
  url: URL,
  state: EmulatorState,
  signal: AbortSignal,
): Promise<Outcome> {
  const path = url.pathname;
  const sqs = sqsOperation(request);
  if (sqs !== undefined) {
    // SQS: the operation is in X-Amz-Target, not the path (a fault's `path` matches the operation name).
    const fault = state.takeFault('sqs', { path: sqs });
    const real = () => handleSqs(request, sqs, new URL(request.url).origin, state, signal);
    const result = fault
      ? await applyFault(fault, 'sqs', signal, real)
      : { kind: 'response' as const, response: await real() };
    state.countSqs(sqs, outcomeLabel(result));
    return result;
  }
  if (path === '/auth/o2/token') {
    if (request.method !== 'POST') {
      state.countToken('<none>', 'invalid_request');
      return { kind: 'response', response: methodNotAllowed('token', 'POST') };
    }
    const parsed = await parseTokenRequest(request, state);
    const grant = parsed.ok ? parsed.params.grant_type : undefined;
    const label = grant === undefined ? '<none>' : GRANT_LABELS.has(grant) ? grant : '<other>';
    if (!parsed.ok) {
      state.countToken(label, 'invalid_request');
      return { kind: 'response', response: parsed.response };
    }
    let outcome = 'ok';
    const fault = state.takeFault('token', { grantType: grant, path });
    const real = async () => {
      const r = await handleToken(request, parsed.params, state, signal);
      outcome = r.outcome;
      return r.response;
    };
    if (!fault) {
      const response = await real();
      state.countToken(label, outcome);
      return { kind: 'response', response };
    }
    const result = await applyFault(fault, 'token', signal, real);
    state.countToken(
      label,
      isCanned(fault) || result.kind !== 'response' ? `fault:${outcomeLabel(result)}` : outcome,
    );
    return result;
  }

  if (isConsentPath(path)) {
    const real = async (): Promise<Response> => {
      if (path === '/apps/authorize/consent') {
        if (request.method === 'GET') return handleConsent(request, url, state);
        if (request.method === 'POST') return handleConsentDecision(request, url, state);
        return methodNotAllowed('consent', 'GET, POST');
      }
      if (request.method !== 'GET') return methodNotAllowed('consent', 'GET');
      if (path === '/appstore/authorize') return handleAppstoreAuthorize(request, url, state);
      let appId: string;
      try {
        appId = decodeURIComponent(path.slice('/apps/authorize/confirm/'.length));
      } catch {
        appId = '';
      }
      return handleAppstoreConfirm(request, url, state, appId);
    };
    const fault = state.takeFault('consent', { path });
    if (!fault) return { kind: 'response', response: await real() };
    const result = await applyFault(fault, 'consent', signal, real);
    state.countConsent(`fault:${outcomeLabel(result)}`);
    return result;
  }

  const statsPath = spapiStatsPath(path);
  const fault = state.takeFault('spapi', { path });
  const real = () => handleSpapi(request, url, state);
  const result = fault
    ? await applyFault(fault, 'spapi', signal, real)
    : { kind: 'response' as const, response: await real() };
  state.countSpapi(statsPath, outcomeLabel(result));
  return result;
}

/** A one-byte-per-interval copy of `body` that stops when `signal` aborts. */
function trickle(
  body: ReadableStream<Uint8Array> | null,
  ms: number,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body?.getReader();
  let buffer: Uint8Array = new Uint8Array(0);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        while (buffer.byteLength === 0) {
          const next = reader ? await reader.read() : { done: true as const, value: undefined };
          if (next.done) return controller.close();
          buffer = next.value;
        }
        try {
          await sleep(ms, signal);
        } catch (reason) {
          await reader?.cancel().catch(() => undefined);
          return controller.error(reason);
        }
        controller.enqueue(buffer.slice(0, 1));
        buffer = buffer.subarray(1);
      },
      async cancel(reason) {
        await reader?.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Decodes `content-encoding` as undici's fetch does, so an in-process gzip bomb inflates as it is read. */
function decoded(response: Response): Response {
  const encoding = (response.headers.get('content-encoding') ?? '').trim().toLowerCase();
  if (!response.body || (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate'))
    return response;
  const format = encoding === 'deflate' ? 'deflate' : 'gzip';
  const body = response.body.pipeThrough(
    new DecompressionStream(format) as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function fetchFailed(message: string): TypeError {
  return new TypeError('fetch failed', {
    cause: Object.assign(new Error(message), { code: 'UND_ERR_SOCKET' }),
  });
}

/** The hosts a client may name in `x-amzn-emulator-host`: LWA and the SP-API endpoints. */
const NAMEABLE_HOST = /^(?:api\.amazon\.com|(?:sandbox\.)?sellingpartnerapi-(?:na|eu|fe)\.amazon\.com)$/i;

/**
 * The URL a request is answered for. A client configured with `amazonUrl` sends Amazon's requests
 * to the emulator's own origin and names the real host in `x-amzn-emulator-host`; the emulator then
 * answers as that host (a region's endpoint refuses another region's token). A request that reached
 * an Amazon host by name (in-process, or a socket opened for the real `Host`) keeps its host.
 */
function amazonHostUrl(request: Request, url: URL): URL {
  // The path form (`/__amazon/<host>/…`): a base URL handed to a program that sends no header.
  if (url.pathname.startsWith(AMAZON_HOST_PATH)) {
    const rest = url.pathname.slice(AMAZON_HOST_PATH.length);
    const slash = rest.indexOf('/');
    const host = slash === -1 ? rest : rest.slice(0, slash);
    if (NAMEABLE_HOST.test(host)) return asHost(url, host, slash === -1 ? '/' : rest.slice(slash));
  }
  const named = request.headers.get(AMAZON_HOST_HEADER);
  if (named === null || !NAMEABLE_HOST.test(named) || NAMEABLE_HOST.test(url.hostname)) return url;
  // The URL's own path and query kept as they are (a path such as `//x` must not become a host).
  return asHost(url, named, url.pathname);
}

function asHost(url: URL, host: string, pathname: string): URL {
  const routed = new URL(url.href);
  routed.protocol = 'https:';
  routed.hostname = host.toLowerCase();
  routed.port = '';
  routed.pathname = pathname;
  return routed;
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * Creates an offline Amazon: consent pages, the Appstore hop, the LWA token endpoint, a slice of
 * SP-API and the control API, answering in-process. `startEmulator` serves the same on a port.
 *
 * @example
 * ```ts
 * import { createEmulator, DEV_APPLICATION, DEV_CLIENT_SECRET } from 'spapi-auth/emulator';
 * const emulator = createEmulator({ tokenTtlS: 60 });
 * await emulator.control.consentMode('auto');
 * const res = await emulator.fetch('https://api.amazon.com/auth/o2/token', {
 *   method: 'POST',
 *   body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'sellingpartnerapi::notifications',
 *     client_id: DEV_APPLICATION.clientId, client_secret: DEV_CLIENT_SECRET }),
 * });
 * ```
 */
export function createEmulator(options: EmulatorOptions = {}): Emulator {
  const state = new EmulatorState(options);

  async function handle(request: Request, signal: AbortSignal = request.signal): Promise<Outcome> {
    try {
      return await answer(request, signal);
    } finally {
      options.onChange?.();
    }
  }

  async function answer(request: Request, signal: AbortSignal): Promise<Outcome> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return {
        kind: 'response',
        response: spapiError(400, 'InvalidInput', 'The request URL is malformed', ''),
      };
    }
    url = amazonHostUrl(request, url);
    state.deliverDueNotices(); // Amazon's 90-day expiry notice, once the clock reaches it
    if (url.pathname.startsWith(CONTROL_PREFIX) || url.pathname === CONTROL_PREFIX.slice(0, -1)) {
      return {
        kind: 'response',
        response: await handleControl(request, url.pathname.slice(CONTROL_PREFIX.length), state),
      };
    }
    state.stats.requests += 1;
    try {
      return await route(request, url, state, signal);
    } catch (err) {
      if (signal.aborted) throw err; // the caller gave up during a delay; nothing to answer
      const target: FaultTarget =
        url.pathname === '/auth/o2/token' ? 'token' : isConsentPath(url.pathname) ? 'consent' : 'spapi';
      return { kind: 'response', response: internalError(target) };
    }
  }

  const fetch: FetchLike = async (input, init) => {
    let request = input instanceof Request && init === undefined ? input : new Request(input, init);
    // The caller's own signal when given: a Request's copy of it follows it only through a weak
    // reference in undici, and can miss the abort after a garbage collection.
    const signal = init?.signal ?? request.signal;
    for (let hops = 0; ; hops++) {
      if (signal.aborted) throw signal.reason;
      // A copy in case a 307/308 must replay the body; the handler consumes the original.
      const copy = request.body !== null ? request.clone() : null;
      const outcome = await handle(request, signal);
      if (outcome.kind === 'reset') throw fetchFailed('other side closed');
      if (outcome.kind === 'hang') {
        return new Promise<Response>((_, reject) => {
          if (signal.aborted) return reject(signal.reason);
          // An open socket keeps a real client's process alive while it waits; so does this timer
          // (an AbortSignal.timeout alone would not, and the wait would silently end the process).
          const keepAlive = setInterval(() => undefined, 60_000);
          signal.addEventListener(
            'abort',
            () => {
              clearInterval(keepAlive);
              reject(signal.reason);
            },
            { once: true },
          );
        });
      }
      let response = outcome.response;
      if (outcome.endless) {
        await response.body?.cancel();
        response = new Response(endlessStream(), { status: response.status, headers: response.headers });
      }
      if (outcome.trickleMs !== undefined) {
        response = new Response(trickle(response.body, outcome.trickleMs, signal), {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      }
      response = decoded(response);
      const location = response.headers.get('location');
      if (!REDIRECTS.has(response.status) || location === null || request.redirect === 'manual')
        return response;
      if (request.redirect === 'error' || hops >= 20) {
        await response.body?.cancel();
        throw new TypeError('fetch failed', { cause: new Error('unexpected redirect') });
      }
      const next = new URL(location, request.url);
      const keepBody = response.status === 307 || response.status === 308;
      const method =
        keepBody || request.method === 'GET' || request.method === 'HEAD' ? request.method : 'GET';
      const body = keepBody && copy !== null ? await copy.arrayBuffer() : null;
      const nextInit: RequestInit = {
        method,
        headers: request.headers,
        signal,
        redirect: 'follow',
        ...(body ? { body } : {}),
      };
      if (next.origin !== new URL(request.url).origin) return globalThis.fetch(next, nextInit);
      request = new Request(next, nextInit);
    }
  };

  const control = createControlClient('http://emulator.invalid', (input, init) => fetch(input, init));
  return {
    fetch,
    control,
    handle,
    snapshot: () => state.snapshot(),
    tokenStatus: (token) => state.tokenStatus(token),
  };
}
