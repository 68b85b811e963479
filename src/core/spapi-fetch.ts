/**
 * A small SP-API `fetch` for library users: the region's endpoint (or sandbox; sent to `amazonUrl`
 * with the real host named when an emulator is configured),
 * `x-amz-access-token` from the token manager (an RDT when asked), a User-Agent in Amazon's
 * format, one drop-refresh-retry when SP-API says the token is invalid or expired (403), and 429
 * retried with bounded backoff. It returns SP-API's `Response` as is otherwise.
 */
import {
  DEFAULT_RETRY,
  amazonBase,
  amazonRequest,
  backoffDelay,
  defaultSleep,
  parseRetryAfter,
  readCappedText,
  type FetchLike,
  type RetryOptions,
  type SleepFn,
} from './http.js';
import type { Region } from './marketplaces.js';
import {
  DEFAULT_USER_AGENT,
  spapiBaseUrl,
  type RestrictedResource,
  type SpApiEndpointOptions,
} from './rdt.js';
import type { TokenManager } from './token-manager.js';
import { printableOnly } from './printable.js';

/** Parts of Amazon's User-Agent: `AppName/AppVersion (Language=…; Platform=…; Name=Value)`. */
export interface UserAgentOptions {
  readonly appName: string;
  readonly appVersion: string;
  /** Default `JavaScript`. */
  readonly language?: string;
  readonly platform?: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

const escapeUa = (s: string): string => printableOnly(s).replace(/[\\/()=;]/g, (c) => `\\${c}`);

/**
 * A User-Agent in the format Amazon requires (`AppName/Version (Language=…)`), at most 500 characters (SP-API rejects
 * longer ones: a `TypeError` here instead).
 *
 * @example
 * buildUserAgent({ appName: 'My Repricer', appVersion: '2.1', platform: 'Node/20' });
 * // 'My Repricer/2.1 (Language=JavaScript; Platform=Node\/20)'
 */
export function buildUserAgent(options: UserAgentOptions): string {
  if (typeof options.appName !== 'string' || options.appName.length === 0)
    throw new TypeError('appName is required');
  if (typeof options.appVersion !== 'string' || options.appVersion.length === 0)
    throw new TypeError('appVersion is required');
  const attrs = [`Language=${escapeUa(options.language ?? 'JavaScript')}`];
  if (options.platform !== undefined) attrs.push(`Platform=${escapeUa(options.platform)}`);
  for (const [k, v] of Object.entries(options.attributes ?? {})) attrs.push(`${escapeUa(k)}=${escapeUa(v)}`);
  const ua = `${escapeUa(options.appName)}/${escapeUa(options.appVersion)} (${attrs.join('; ')})`;
  if (ua.length > 500)
    throw new TypeError('the User-Agent would be longer than 500 characters, which SP-API rejects');
  return ua;
}

/**
 * One SP-API call.
 *
 * @example
 * const request: SpApiRequest = { sellingPartnerId: 'A1EXAMPLESELLER', region: 'na',
 *   path: '/sellers/v1/marketplaceParticipations' };
 * const res = await call(request);
 */
export interface SpApiRequest {
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** e.g. `/sellers/v1/marketplaceParticipations`. */
  readonly path: string;
  readonly query?: URLSearchParams | Readonly<Record<string, string | number | boolean | readonly string[]>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Use a restricted data token for this call (optionally with Orders data elements). A 403 saying
   * the token was refused drops the RDT and the access token it was made from, and retries once
   * with new ones (as for a plain call).
   */
  readonly restricted?:
    boolean | { readonly dataElements?: readonly string[]; readonly targetApplication?: string };
  readonly signal?: AbortSignal;
}

/**
 * Options of {@link createSpApiFetch}: at least the token manager.
 *
 * @example
 * const call = createSpApiFetch({ tokens: createTokenManager({ credentials, vault }) });
 */
export interface SpApiFetchOptions extends SpApiEndpointOptions {
  readonly tokens: Pick<TokenManager, 'getAccessToken' | 'getRestrictedDataToken' | 'invalidate'>;
  /** From {@link buildUserAgent}. */
  readonly userAgent?: string;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
  readonly sleep?: SleepFn;
  readonly random?: () => number;
  /** Bounds for 429 retries (attempts, backoff, total time). */
  readonly retry?: RetryOptions;
}

/** The call function returned by {@link createSpApiFetch}. */
export type SpApiFetch = (request: SpApiRequest) => Promise<Response>;

const TOKEN_REJECTED = /token/i;
const TOKEN_BAD = /expired|invalid|revoked|malformed/i;

/**
 * True when a 403 body says the access token itself was refused (not a missing role, not another
 * region's endpoint, whose refusal has empty details). That includes "The LWA secret token you
 * provided has expired.": the token was issued under a client secret past its deadline, and a
 * refresh either gets one under the current secret (the credentials' `clientSecretNext` after a
 * rotation) or fails as `invalid_client`, which says what to fix.
 */
async function tokenRejected(response: Response): Promise<boolean> {
  if (response.status !== 403) return false;
  try {
    const body = JSON.parse(await readCappedText(response.clone(), 16 * 1024)) as {
      errors?: Array<{ code?: unknown; message?: unknown; details?: unknown }>;
    };
    return (body.errors ?? []).some((e) => {
      const text = `${String(e.message ?? '')} ${String(e.details ?? '')}`;
      return (
        (e.code === 'Unauthorized' || e.code === 'InvalidToken') &&
        TOKEN_REJECTED.test(text) &&
        TOKEN_BAD.test(text)
      );
    });
  } catch {
    return false;
  }
}

/**
 * Creates the SP-API call function.
 *
 * @example
 * const spapi = createSpApiFetch({ tokens, userAgent: buildUserAgent({ appName: 'MyApp', appVersion: '1.0' }) });
 * const res = await spapi({ sellingPartnerId: 'A3FH', region: 'na', path: '/sellers/v1/marketplaceParticipations' });
 * const { payload } = await res.json();
 */
export function createSpApiFetch(options: SpApiFetchOptions): SpApiFetch {
  const fetchFn = options.fetch ?? ((r: Request) => fetch(r));
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  if (userAgent.length > 500) throw new TypeError('userAgent longer than 500 characters');
  const endpoint: SpApiEndpointOptions = { sandbox: options.sandbox === true };
  if (options.amazonUrl !== undefined) amazonBase(options.amazonUrl); // a bad URL fails here, not per call

  return async function spApiFetch(req: SpApiRequest): Promise<Response> {
    if (typeof req.path !== 'string' || !req.path.startsWith('/') || req.path.startsWith('//')) {
      throw new TypeError('path must start with a single /');
    }
    const key = { sellingPartnerId: req.sellingPartnerId, region: req.region };
    const method = req.method ?? 'GET';
    const url = new URL(spapiBaseUrl(req.region, endpoint) + req.path);
    if (req.query !== undefined) {
      const q = req.query instanceof URLSearchParams ? req.query : new URLSearchParams();
      if (!(req.query instanceof URLSearchParams)) {
        for (const [k, v] of Object.entries(req.query)) {
          q.set(k, Array.isArray(v) ? v.join(',') : String(v));
        }
      }
      url.search = q.toString();
    }
    const token = async (): Promise<string> => {
      if (req.restricted === undefined || req.restricted === false) {
        return (await options.tokens.getAccessToken(key, { ...(req.signal ? { signal: req.signal } : {}) }))
          .accessToken;
      }
      const extra = req.restricted === true ? {} : req.restricted;
      if (method === 'PATCH')
        throw new TypeError('restricted data tokens cover GET, PUT, POST and DELETE only');
      const resource: RestrictedResource = {
        method,
        path: req.path,
        ...(extra.dataElements === undefined ? {} : { dataElements: extra.dataElements }),
      };
      const rdt = await options.tokens.getRestrictedDataToken(key, {
        restrictedResources: [resource],
        ...(extra.targetApplication === undefined ? {} : { targetApplication: extra.targetApplication }),
      });
      return rdt.restrictedDataToken;
    };
    const send = async (accessToken: string): Promise<Response> => {
      const headers = new Headers(req.headers);
      headers.set('x-amz-access-token', accessToken);
      headers.set('user-agent', userAgent);
      headers.set('accept', 'application/json');
      if (req.body !== undefined) headers.set('content-type', 'application/json');
      return fetchFn(
        amazonRequest(
          url,
          {
            method,
            headers,
            redirect: 'manual',
            ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
            ...(req.signal === undefined ? {} : { signal: req.signal }),
          },
          options.amazonUrl,
        ),
      );
    };

    const started = now();
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const accessToken = await token();
      const response = await send(accessToken);
      if (!refreshed && (await tokenRejected(response))) {
        // SP-API refused the token (or the RDT) before its time: drop it, refresh once, retry
        // once. For an RDT the manager also drops the access token behind it, which may be the
        // one that expired early.
        refreshed = true;
        await response.body?.cancel().catch(() => undefined);
        await options.tokens.invalidate(key, accessToken);
        continue;
      }
      if (response.status !== 429 || attempt + 1 >= retry.maxAttempts) return response;
      const wait =
        parseRetryAfter(response.headers.get('retry-after'), now()) ?? backoffDelay(attempt, retry, random);
      if (now() - started + wait > retry.maxTotalMs) return response;
      await response.body?.cancel().catch(() => undefined);
      await sleep(wait, req.signal);
    }
  };
}
