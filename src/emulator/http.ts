// Response builders and request-body reading shared by the emulator's endpoints.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** Thrown while reading a request: becomes an error response in the endpoint's own dialect. */
export class BadRequest extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function requestId(): string {
  return randomUUID();
}

/** A random opaque token: a prefix and URL-safe characters, as long as Amazon's (350+ characters). */
export function opaqueToken(prefix: string, bytes = 264): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

/** Compares two secrets in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function sha256Base64url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function html(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *",
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      ...headers,
    },
  });
}

export function redirect(location: string, status = 302): Response {
  return new Response(null, { status, headers: { location, 'cache-control': 'no-store' } });
}

/** Reads the body as text, refusing more than `maxBytes` (by header, then by counting). */
export async function readText(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    throw new BadRequest(413, 'request_too_large', `The request body exceeds ${maxBytes} bytes`);
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        // Not awaited: a cancelled branch of a tee (the in-process fetch keeps a copy) settles only
        // when the other branch is cancelled too.
        reader.cancel().catch(() => undefined);
        throw new BadRequest(413, 'request_too_large', `The request body exceeds ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof BadRequest) throw err;
    throw new BadRequest(400, 'malformed_body', 'The request body could not be read');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BadRequest(400, 'malformed_body', 'The request body is not valid UTF-8');
  }
}

/** The media type of a request, lower-cased, without parameters. */
export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Parses a JSON object body; anything else is a 400. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest(400, 'malformed_json', 'The request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequest(400, 'malformed_json', 'The request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Increments a nested counter `table[a][b]`. */
export function bump(table: Record<string, Record<string, number>>, a: string, b: string): void {
  const row = (table[a] ??= {});
  row[b] = (row[b] ?? 0) + 1;
}

/** The `x-amzn-errortype` SP-API sends with each status. */
const ERROR_TYPES: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  405: 'MethodNotAllowedException',
  413: 'RequestEntityTooLargeException',
  415: 'UnsupportedMediaTypeException',
  429: 'ThrottlingException',
  500: 'InternalFailure',
};

/** Amazon's error list `{ "errors": [ { code, message, details } ] }` with its headers (SP-API's response format). */
export function spapiError(
  status: number,
  code: string,
  message: string,
  details: string | null = '',
  headers: Record<string, string> = {},
): Response {
  return json(
    status,
    { errors: [{ code, message, ...(details === null ? {} : { details }) }] },
    {
      'x-amzn-requestid': requestId(),
      'x-amzn-errortype': ERROR_TYPES[status] ?? 'InternalFailure',
      ...headers,
    },
  );
}
