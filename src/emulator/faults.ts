// Faults: canned misbehaviour the control API queues for the next matching requests.
import { BadRequest } from './http.js';

/** Which endpoints a fault applies to. */
export type FaultTarget = 'token' | 'spapi' | 'consent' | 'sqs';

/**
 * A fault as posted to `POST /__emulator/faults` (wire names, snake_case).
 *
 * - `status` / `body` / `body_base64` / `headers`: answer this instead of the real response
 *   (status defaults to 500 when a body or headers are given without one).
 * - `delay_ms`: wait first (then the canned or the real response).
 * - `hang`: never answer; the caller must give up.
 * - `reset`: destroy the connection (in-process: reject like undici, `TypeError('fetch failed')`).
 * - `trickle_ms`: send the (canned or real) body one byte per `trickle_ms`.
 * - `endless`: a body that never ends (status 200 unless given), as fast as the client reads.
 * - `count`: how many matching requests it applies to (default 1; 0 = every one until cleared).
 * - `grant_type` (token) / `path` (spapi, consent: a path prefix; sqs: the operation name, e.g.
 *   `ReceiveMessage`, as a prefix): narrow what it matches.
 */
export interface FaultSpec {
  readonly target: FaultTarget;
  readonly status?: number;
  readonly body?: unknown;
  readonly body_base64?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly delay_ms?: number;
  readonly hang?: boolean;
  readonly reset?: boolean;
  readonly trickle_ms?: number;
  readonly endless?: boolean;
  readonly count?: number;
  readonly grant_type?: string;
  readonly path?: string;
}

/** A queued fault with its remaining count (`Infinity` for "until cleared"). */
export interface Fault extends FaultSpec {
  readonly id: number;
  remaining: number;
}

/**
 * What the emulator decided for one request. The in-process `fetch` imitates socket faults; the
 * node adapter really performs them on the connection.
 */
export type Outcome =
  | {
      readonly kind: 'response';
      readonly response: Response;
      readonly trickleMs?: number;
      /** The body never ends (the response's own body is a placeholder). */
      readonly endless?: boolean;
    }
  | { readonly kind: 'reset' }
  | { readonly kind: 'hang' };

const TARGETS: ReadonlySet<string> = new Set(['token', 'spapi', 'consent', 'sqs']);
const KEYS: ReadonlySet<string> = new Set([
  'target',
  'status',
  'body',
  'body_base64',
  'headers',
  'delay_ms',
  'hang',
  'reset',
  'trickle_ms',
  'endless',
  'count',
  'grant_type',
  'path',
]);

function invalid(message: string): never {
  throw new BadRequest(400, 'invalid_fault', message);
}

function nonNegativeInt(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    invalid(`${name} must be an integer between 0 and ${max}`);
  }
  return value;
}

/** Validates a posted fault; a bad one is a 400 `invalid_fault` naming the field. */
export function parseFault(input: Record<string, unknown>, id: number): Fault {
  for (const key of Object.keys(input)) if (!KEYS.has(key)) invalid(`unknown field ${key}`);
  const target = input.target;
  if (typeof target !== 'string' || !TARGETS.has(target))
    invalid('target must be token, spapi, consent or sqs');
  const status = nonNegativeInt(input.status, 'status', 599);
  if (status !== undefined && status < 200) invalid('status must be between 200 and 599');
  const headers = input.headers;
  if (headers !== undefined) {
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers))
      invalid('headers must be an object');
    for (const [k, v] of Object.entries(headers)) {
      if (typeof v !== 'string') invalid(`header ${k} must be a string`);
      try {
        new Headers({ [k]: v });
      } catch {
        invalid(`header ${k} is not a valid HTTP header`);
      }
    }
  }
  if (input.body_base64 !== undefined) {
    if (typeof input.body_base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(input.body_base64)) {
      invalid('body_base64 must be base64');
    }
    if (input.body !== undefined) invalid('give body or body_base64, not both');
  }
  for (const flag of ['hang', 'reset', 'endless'] as const) {
    if (input[flag] !== undefined && typeof input[flag] !== 'boolean') invalid(`${flag} must be a boolean`);
  }
  for (const name of ['grant_type', 'path'] as const) {
    if (input[name] !== undefined && typeof input[name] !== 'string') invalid(`${name} must be a string`);
  }
  const count = nonNegativeInt(input.count, 'count', 1_000_000);
  nonNegativeInt(input.delay_ms, 'delay_ms', 600_000);
  const trickle = nonNegativeInt(input.trickle_ms, 'trickle_ms', 60_000);
  if (trickle === 0) invalid('trickle_ms must be at least 1');
  return { ...(input as unknown as FaultSpec), id, remaining: count === 0 ? Infinity : (count ?? 1) };
}

/** Whether the fault answers with its own response rather than the real one. */
export function isCanned(fault: FaultSpec): boolean {
  return (
    fault.status !== undefined ||
    fault.body !== undefined ||
    fault.body_base64 !== undefined ||
    fault.headers !== undefined ||
    fault.endless === true
  );
}

/** The canned response of a fault. */
export function cannedResponse(fault: FaultSpec): Response {
  const headers = new Headers(fault.headers);
  let body: string | Uint8Array | null = null;
  if (fault.body_base64 !== undefined) {
    body = Buffer.from(fault.body_base64, 'base64');
  } else if (typeof fault.body === 'string') {
    body = fault.body;
  } else if (fault.body !== undefined) {
    body = JSON.stringify(fault.body);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  const status = fault.status ?? (fault.endless ? 200 : 500);
  if (status === 204 || status === 304) body = null;
  return new Response(body, { status, headers });
}

/** What an endless body is made of. */
export const ENDLESS_CHUNK: Uint8Array = new Uint8Array(64 * 1024).fill(0x78);

/** A body that yields {@link ENDLESS_CHUNK} forever, until cancelled. */
export function endlessStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(ENDLESS_CHUNK.slice());
      },
    },
    { highWaterMark: 1 },
  );
}
