/**
 * The outbound-call discipline shared by the LWA client and the SP-API helper: a byte cap on every
 * body read (counted after decompression), bounded retries with exponential backoff and full
 * jitter, `Retry-After`, per-attempt timeouts, and the `fetch` / `now` / `sleep` seams.
 */
import { LwaError } from './errors.js';
import { AMAZON_HOST_HEADER, AMAZON_HOST_PATH } from './marketplaces.js';

/**
 * The `fetch` signature the core needs; the emulator's in-process `fetch` fits it.
 *
 * @example
 * const logged: FetchLike = (request) => (console.log(request.method, request.url), fetch(request));
 * createTokenManager({ credentials, vault, fetch: logged });
 */
export type FetchLike = (input: Request) => Promise<Response>;

/** Waits `ms` milliseconds; rejects with the signal's reason when it aborts. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The seams every network-calling function accepts. */
export interface TransportOptions {
  /** Defaults to the global `fetch`. */
  readonly fetch?: FetchLike;
  /** Epoch milliseconds; defaults to `Date.now`. */
  readonly now?: () => number;
  /** Defaults to a `setTimeout` sleep; tests inject an instant one. */
  readonly sleep?: SleepFn;
  /** A number in [0, 1) for jitter; defaults to `Math.random`. */
  readonly random?: () => number;
  /** Aborts waiting (not a request already sent by a shared refresh). */
  readonly signal?: AbortSignal;
}

/** Retry bounds. Retries happen only for 429, 5xx and network errors. */
export interface RetryOptions {
  /** Attempts in total, including the first. Default 3. */
  readonly maxAttempts?: number;
  /** Backoff base: the n-th retry waits `random(0, min(maxDelayMs, baseDelayMs·2^n))`. Default 200. */
  readonly baseDelayMs?: number;
  /** Cap of one backoff wait. Default 5,000. */
  readonly maxDelayMs?: number;
  /** No retry starts after this much time since the first attempt. Default 20,000. */
  readonly maxTotalMs?: number;
  /** Timeout of one attempt, body included. Default 10,000. */
  readonly timeoutMs?: number;
}

/**
 * The retry bounds used when none are given.
 *
 * @example
 * refreshAccessToken(creds, rt, { retry: { ...DEFAULT_RETRY, maxAttempts: 5 } });
 */
export const DEFAULT_RETRY: Required<RetryOptions> = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxTotalMs: 20_000,
  timeoutMs: 10_000,
});

/**
 * The default sleep: a timer, cancelled by the signal.
 *
 * @example
 * await defaultSleep(100);
 */
export const defaultSleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Thrown by {@link readCappedText} when a body exceeds its cap.
 *
 * @example
 * try { await readCappedText(res, 1024); } catch (e) { if (e instanceof BodyTooLargeError) res400(); }
 */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`response body larger than ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads a response body as UTF-8 text, at most `maxBytes` bytes of it (decoded bytes: `fetch`
 * decompresses transparently, so a small gzip body can expand without limit; the reader stops and
 * cancels the stream at the cap). `content-length` is not trusted.
 *
 * @example
 * const text = await readCappedText(response, 16 * 1024);
 */
export async function readCappedText(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return new TextDecoder().decode(chunks[0]);
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * Amazon's request id (the `x-amzn-RequestId` header or LWA's `request_id`) when it looks like
 * one: an opaque correlation value of up to 128 letters, digits and `._:-`. The one rule for LWA
 * and SP-API answers; anything else (markup, a secret echoed back) is not kept in errors or logs.
 *
 * @example
 * amazonRequestId('a8c8d99a-6ab5-11e8-b0f8-19363980175b'); // the same string
 * amazonRequestId('<script>'); // undefined
 */
export function amazonRequestId(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined;
}

/**
 * Milliseconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or undefined.
 *
 * @example
 * parseRetryAfter('3', Date.now()); // 3000
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Full-jitter backoff for retry number `retry` (0-based): `random(0, min(cap, base·2^retry))`.
 *
 * @example
 * backoffDelay(2, { baseDelayMs: 100, maxDelayMs: 1000 }, Math.random); // 0..400
 */
export function backoffDelay(
  retry: number,
  opts: Pick<Required<RetryOptions>, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number,
): number {
  return Math.floor(random() * Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** retry));
}

/**
 * The per-attempt signal: the timeout, plus the caller's signal when given, and `clear` to call
 * once the attempt has settled. A timer cleared at once, rather than `AbortSignal.timeout`, which
 * keeps its signal and timer alive until it fires (10 s by default) even when the call took 50 ms:
 * under a burst of calls that is memory held for nothing. Internal.
 *
 * @example
 * const { signal, clear } = attemptSignal(10_000, callerSignal);
 * try { await fetch(new Request(req, { signal })); } finally { clear(); }
 */
export function attemptSignal(
  timeoutMs: number,
  signal: AbortSignal | undefined,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`attempt timed out after ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  return {
    signal: signal === undefined ? controller.signal : AbortSignal.any([controller.signal, signal]),
    clear: () => clearTimeout(timer),
  };
}

/**
 * Runs `attempt` with bounded retries. `attempt` resolves with a value or throws; the error is
 * retried when `retryable(err)` says so, after the backoff or the error's `retryAfterMs`, unless
 * that would pass the attempt count or the total time budget. The last error is rethrown. Internal.
 *
 * @example
 * await withRetries((signal) => send(signal), (e) => ({ retry: isTransient(e) }), DEFAULT_RETRY, {});
 */
export async function withRetries<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  retryable: (err: unknown) => { retry: boolean; afterMs?: number },
  retry: Required<RetryOptions>,
  transport: TransportOptions,
): Promise<T> {
  const now = transport.now ?? Date.now;
  const sleep = transport.sleep ?? defaultSleep;
  const random = transport.random ?? Math.random;
  const started = now();
  for (let n = 0; ; n++) {
    transport.signal?.throwIfAborted();
    // Each attempt consumes its response before it settles, so the timer can go when it does.
    const attemptOf = attemptSignal(retry.timeoutMs, transport.signal);
    try {
      try {
        return await attempt(attemptOf.signal);
      } finally {
        attemptOf.clear();
      }
    } catch (err) {
      if (transport.signal?.aborted) throw transport.signal.reason;
      const decision = retryable(err);
      if (!decision.retry || n + 1 >= retry.maxAttempts) throw err;
      const wait = decision.afterMs ?? backoffDelay(n, retry, random);
      if (now() - started + wait > retry.maxTotalMs) throw err;
      await sleep(wait, transport.signal);
    }
  }
}

/**
 * Converts a thrown network/timeout error into `upstream_unavailable` (other errors pass). Internal.
 *
 * @example
 * try { await fetch(req); } catch (e) { throw networkError(e, 'LWA request'); }
 */
export function networkError(err: unknown, what: string): unknown {
  if (err instanceof LwaError) return err;
  if (err instanceof BodyTooLargeError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') {
    return new LwaError('upstream_unavailable', `${what} timed out`, { cause: err });
  }
  if (err instanceof TypeError || name === 'AbortError' || name === 'FetchError') {
    return new LwaError('upstream_unavailable', `${what} failed: network error`, { cause: err });
  }
  return err;
}

/**
 * A request for one of Amazon's real URLs (`https://api.amazon.com/auth/o2/token`,
 * `https://sellingpartnerapi-eu.amazon.com/…`). Without `amazonUrl` it goes there. With it, the same
 * path and query go to `amazonUrl` (the emulator), with the real host in {@link AMAZON_HOST_HEADER}
 * so the emulator can answer as that host would (a region's endpoint refuses another region's token).
 * The one place where `amazonUrl` changes where a call goes. Internal.
 *
 * @example
 * amazonRequest('https://sellingpartnerapi-eu.amazon.com/sellers/v1/marketplaceParticipations', { method: 'GET' }, 'http://127.0.0.1:4010');
 * // GET http://127.0.0.1:4010/sellers/v1/marketplaceParticipations, x-amzn-emulator-host: sellingpartnerapi-eu.amazon.com
 */
export function amazonRequest(url: string | URL, init: RequestInit, amazonUrl: string | undefined): Request {
  if (amazonUrl === undefined) return new Request(url, init);
  const real = new URL(url);
  const headers = new Headers(init.headers);
  headers.set(AMAZON_HOST_HEADER, real.host);
  return new Request(amazonBase(amazonUrl) + real.pathname + real.search, { ...init, headers });
}

/**
 * An Amazon base URL (a region's SP-API endpoint) as another program should use it: the real URL
 * without `amazonUrl`; with it, the emulator's origin naming the real host in the path
 * ({@link AMAZON_HOST_PATH}), so that the region is not lost on the way. Internal.
 *
 * @example
 * amazonBaseFor('https://sellingpartnerapi-eu.amazon.com', 'http://127.0.0.1:4010');
 * // 'http://127.0.0.1:4010/__amazon/sellingpartnerapi-eu.amazon.com'
 */
export function amazonBaseFor(realBase: string, amazonUrl: string | undefined): string {
  if (amazonUrl === undefined) return realBase;
  return amazonBase(amazonUrl) + AMAZON_HOST_PATH + new URL(realBase).host;
}

/**
 * Joins a configured Amazon base URL (the emulator, possibly with a path prefix) and a path.
 *
 * @example
 * amazonEndpoint('http://127.0.0.1:4010', '/auth/o2/token'); // 'http://127.0.0.1:4010/auth/o2/token'
 */
export function amazonEndpoint(amazonUrl: string, path: string): string {
  return amazonBase(amazonUrl) + path;
}

/**
 * The normalised base of a configured Amazon URL: origin plus path prefix, no trailing slash.
 * Throws a `TypeError` for anything but an http(s) URL without userinfo, query or fragment.
 *
 * @example
 * amazonBase('http://127.0.0.1:4010/'); // 'http://127.0.0.1:4010'
 */
export function amazonBase(amazonUrl: string): string {
  let u: URL;
  try {
    u = new URL(amazonUrl);
  } catch {
    throw new TypeError('amazonUrl must be an absolute http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new TypeError('amazonUrl must be an absolute http(s) URL');
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new TypeError('amazonUrl must have no userinfo, query or fragment');
  }
  return u.origin + u.pathname.replace(/\/+$/, '');
}
