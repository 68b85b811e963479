/**
 * The service's own request and response shapes. Node 20's WHATWG `Request`/`Response` cost several
 * microseconds each to build, which matters on the token API's cached path (the most frequent
 * request), so handlers see a minimal request (method, path, query, a header getter, a lazy capped
 * body) and return a plain `{ status, headers, body }`. `node.ts` maps these to `node:http` without
 * copying, and {@link toFetchHandler} maps them to `Request → Response` for in-process tests.
 */

import { HTTP_ERRORS, type DetailOf, type HttpErrorCode, type HttpStatusOf } from './errors.js';

/** An incoming request as handlers see it. */
export interface ServerRequest {
  readonly method: string;
  /** The raw path, not percent-decoded (so `%2F` can never become a separator). */
  readonly path: string;
  /** The raw query string without `?` (may be empty). */
  readonly rawQuery: string;
  /** Lower-case header name → value; repeated headers joined as Node joins them. */
  header(name: string): string | undefined;
  /** The body, read at most once and capped; rejects with a 413 {@link HttpError} past the cap. */
  body(): Promise<Uint8Array>;
  /** The client address, for logs and limits only. */
  readonly remoteAddress: string;
}

/** Header values; a `string[]` becomes repeated headers (Set-Cookie). */
export type HeaderMap = Record<string, string | readonly string[]>;

/** A response as handlers build it. */
export interface ServerResponse {
  status: number;
  headers: HeaderMap;
  body: string | Uint8Array | null;
}

/** A request handler. */
export type Handler = (req: ServerRequest) => Promise<ServerResponse> | ServerResponse;

/**
 * An error that becomes a JSON `{ "error": { "code", "message" } }` response (or a page, in the
 * browser flows). Made only by {@link httpError}: `code` is one of {@link HTTP_ERRORS}, whose
 * status it always carries; the message is the registry's unless the code allows details.
 */
export class HttpError<C extends HttpErrorCode = HttpErrorCode> extends Error {
  override name = 'HttpError';
  readonly status: HttpStatusOf<C>;
  /** @internal Use {@link httpError}. */
  constructor(
    readonly code: C,
    message: string | undefined,
    readonly headers: HeaderMap,
  ) {
    super(message ?? HTTP_ERRORS[code].message);
    this.status = HTTP_ERRORS[code].status as HttpStatusOf<C>;
  }
}

/**
 * The one way to make an HTTP error: the status and default message come from the registry; a
 * message may be passed only for a code registered with `details: true` (checked by the compiler).
 *
 * @example
 * throw httpError('seller_not_found', 'No such seller in that region.');
 */
export function httpError<C extends HttpErrorCode>(
  code: C,
  message?: DetailOf<C>,
  headers: HeaderMap = {},
): HttpError<C> {
  return new HttpError<C>(code, message, headers);
}

/**
 * Largest request body accepted (JSON bodies of this API are small).
 *
 * @example
 * if (size > MAX_BODY_BYTES) throw httpError('payload_too_large');
 */
export const MAX_BODY_BYTES = 16 * 1024;
/**
 * Longest request target accepted (path + query).
 *
 * @example
 * if (path.length + query.length > MAX_URL_LENGTH) return errorResponse('uri_too_long', '…');
 */
export const MAX_URL_LENGTH = 8 * 1024;

/**
 * Headers on every response.
 *
 * @example
 * const headers = { ...BASE_HEADERS, 'content-type': 'text/plain' };
 */
export const BASE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/**
 * JSON API responses: framing and opener headers only matter for documents, so they are left out.
 *
 * @example
 * return { status: 200, headers: { ...API_HEADERS }, body };
 */
export const API_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
});

/**
 * A fresh copy of {@link API_HEADERS} with an `x-request-id` slot, built as a literal: one
 * allocation of a fixed shape, where a spread copy and the request id added later cost two shape
 * changes on the service's most frequent response.
 *
 * @example
 * return { status: 200, headers: apiHeaders(), body };
 */
export function apiHeaders(): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-request-id': '',
  };
}

/**
 * A JSON response with `Cache-Control: no-store` and the security headers.
 *
 * @example
 * return json(201, { url, expires_at });
 */
export function json(status: number, value: unknown, extra?: HeaderMap): ServerResponse {
  return {
    status,
    headers: extra ? { ...API_HEADERS, ...extra } : { ...API_HEADERS },
    body: JSON.stringify(value),
  };
}

/**
 * A JSON error response in the product's shape, with the status registered for `code`.
 *
 * @example
 * return errorResponse('seller_not_found');
 */
export function errorResponse<C extends HttpErrorCode>(
  code: C,
  message?: DetailOf<C>,
  extra?: HeaderMap,
): ServerResponse {
  return errorJson(httpError(code, message, extra ?? {}));
}

/**
 * An {@link HttpError} as the JSON response every API refusal is.
 *
 * @example
 * return errorJson(httpError('not_found'));
 */
export function errorJson(err: HttpError): ServerResponse {
  const extra = Object.keys(err.headers).length > 0 ? err.headers : undefined;
  return json(err.status, { error: { code: err.code, message: err.message } }, extra);
}

/**
 * Headers for a server-rendered page: a strict CSP that allows only the page's own nonce'd style.
 *
 * @example
 * return { status: 200, headers: pageHeaders(nonce), body: doc };
 */
export function pageHeaders(nonce: string): HeaderMap {
  return {
    ...BASE_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  };
}

/**
 * The path prefix of the public URL (`https://app.example.com/auth` → `/auth`; `''` at the root):
 * a proxy strips it before the service sees a request, so the routes never carry it, but every
 * link, form action and redirect the service sends must.
 *
 * @example
 * const base = publicPathPrefix(config.publicUrl); // '/auth'
 * html`<a href="${base}/admin">Admin</a>`;
 */
export function publicPathPrefix(publicUrl: string): string {
  return new URL(publicUrl).pathname.replace(/\/+$/, '');
}

/**
 * A redirect with the security headers (the `Location` must already be safe: built from parts).
 *
 * @example
 * return redirect(303, '/done');
 */
export function redirect(status: 302 | 303, location: string, extra?: HeaderMap): ServerResponse {
  return {
    status,
    headers: { ...BASE_HEADERS, 'cache-control': 'no-store', location, ...extra },
    body: null,
  };
}

/**
 * Reads and parses a JSON object body (capped), or throws a 400/413/415 {@link HttpError}.
 *
 * @example
 * const body = await readJsonObject(req);
 */
export async function readJsonObject(req: ServerRequest): Promise<Record<string, unknown>> {
  const type = req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw httpError('unsupported_media_type');
  }
  const bytes = await req.body();
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw httpError('invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw httpError('invalid_json', 'The body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

/**
 * Splits a raw query string once, refusing duplicated names, malformed escapes and control characters.
 *
 * @example
 * const q = parseQuery(req.rawQuery); if (q instanceof HttpError) throw q; q.get('region');
 */
export function parseQuery(rawQuery: string): Map<string, string> | HttpError {
  const out = new Map<string, string>();
  if (rawQuery === '') return out;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
      value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return httpError('invalid_parameter');
    }
    if (out.has(name)) {
      return httpError('duplicate_parameter', `The parameter ${safeName(name)} appears more than once.`);
    }
    out.set(name, value);
  }
  return out;
}

/**
 * A parameter name made safe to echo in a message (names are never secret, but may be hostile).
 *
 * @example
 * safeName('state'); // 'state'
 */
export function safeName(name: string): string {
  return /^[A-Za-z0-9_]{1,40}$/.test(name) ? name : '(unprintable)';
}

/**
 * Adapts a handler to `Request → Response`, for in-process tests and for embedding the service in
 * another fetch-style server.
 *
 * @example
 * const res = await toFetchHandler(app.handle)(new Request('http://localhost/healthz'));
 */
export function toFetchHandler(handler: Handler): (input: Request) => Promise<Response> {
  return async (input) => {
    const url = new URL(input.url);
    let consumed = false;
    const req: ServerRequest = {
      method: input.method,
      path: url.pathname,
      rawQuery: url.search.slice(1),
      header: (name) => input.headers.get(name) ?? undefined,
      body: async () => {
        if (consumed) throw new Error('body already read');
        consumed = true;
        const buf = new Uint8Array(await input.arrayBuffer());
        if (buf.byteLength > MAX_BODY_BYTES) throw httpError('payload_too_large');
        return buf;
      },
      remoteAddress: '127.0.0.1',
    };
    const res = await handler(req);
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (typeof v === 'string') headers.set(k, v);
      else for (const one of v) headers.append(k, one);
    }
    const nullBody = res.status === 204 || res.status === 304 || (res.status >= 300 && res.status < 400);
    return new Response(nullBody ? null : res.body, { status: res.status, headers });
  };
}

/**
 * Adapts a fetch-style handler (the emulator's) to a {@link Handler}, for mounting it under the
 * service in dev. Slow by design (it builds WHATWG objects) and never used on the token API.
 *
 * @example
 * createApp({ …, fallback: fromFetchHandler((r) => emulator.fetch(r), config.publicUrl) });
 */
export function fromFetchHandler(fetchHandler: (req: Request) => Promise<Response>, origin: string): Handler {
  return async (req) => {
    const headers = new Headers();
    for (const name of FORWARDED_HEADERS) {
      const v = req.header(name);
      if (v !== undefined) headers.set(name, v);
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const body = hasBody ? await req.body() : undefined;
    const res = await fetchHandler(
      new Request(`${origin}${req.path}${req.rawQuery ? `?${req.rawQuery}` : ''}`, {
        method: req.method,
        headers,
        body: body && body.byteLength > 0 ? body : undefined,
        redirect: 'manual',
      }),
    );
    const out: Record<string, string | string[]> = {};
    res.headers.forEach((v, k) => {
      if (k !== 'set-cookie' && k !== 'content-length' && k !== 'transfer-encoding') out[k] = v;
    });
    const cookies = res.headers.getSetCookie();
    if (cookies.length > 0) out['set-cookie'] = cookies;
    return { status: res.status, headers: out, body: new Uint8Array(await res.arrayBuffer()) };
  };
}

const FORWARDED_HEADERS = [
  'accept',
  'authorization',
  'content-type',
  'cookie',
  'host',
  'x-amz-access-token',
  'x-amz-date',
  'user-agent',
];
