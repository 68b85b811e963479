/**
 * Restricted data tokens (Tokens API 2021-03-01) as a build/process pair, and the
 * SP-API base URL of a region (production or sandbox).
 */
import { SpApiError } from './errors.js';
import { BodyTooLargeError, amazonRequest, amazonRequestId, readCappedText } from './http.js';
import { spapiEndpoint, type Region } from './marketplaces.js';
import { isVisibleAscii } from './printable.js';

/** One resource an RDT grants (Tokens API 2021-03-01 `restrictedResources`). */
export interface RestrictedResource {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** e.g. `/orders/v0/orders` or `/orders/v0/orders/{orderId}/orderItems`. */
  readonly path: string;
  /** Only for Orders: `buyerInfo`, `shippingAddress`, `buyerTaxInformation`. */
  readonly dataElements?: readonly string[];
}

/**
 * What an RDT is asked for.
 *
 * @example
 * const request: RestrictedDataTokenRequest = { restrictedResources: [
 *   { method: 'GET', path: '/orders/v0/orders/123-1234567-1234567', dataElements: ['buyerInfo'] }] };
 */
export interface RestrictedDataTokenRequest {
  readonly restrictedResources: readonly RestrictedResource[];
  /** The application id of a delegatee app. */
  readonly targetApplication?: string;
}

/** A validated Tokens API answer. */
export interface RestrictedDataTokenResponse {
  readonly restrictedDataToken: string;
  /** Seconds. */
  readonly expiresIn: number;
  readonly requestId?: string;
}

/** Where SP-API is. */
export interface SpApiEndpointOptions {
  /** Use the sandbox endpoints. */
  readonly sandbox?: boolean;
  /**
   * Send every call to this base URL (the emulator), naming the region's real host (production or
   * sandbox) in the `x-amzn-emulator-host` header, so the emulator answers as that endpoint would.
   */
  readonly amazonUrl?: string;
}

/**
 * The SP-API base URL for a region: Amazon's production or sandbox endpoint. `amazonUrl` does not
 * change it: the request for it is sent to the emulator when the call is made.
 *
 * @example
 * spapiBaseUrl('eu'); // 'https://sellingpartnerapi-eu.amazon.com'
 * spapiBaseUrl('eu', { sandbox: true }); // 'https://sandbox.sellingpartnerapi-eu.amazon.com'
 */
export function spapiBaseUrl(region: Region, options?: SpApiEndpointOptions): string {
  return spapiEndpoint(region, options?.sandbox === true);
}

const RDT_PATH = '/tokens/2021-03-01/restrictedDataToken';
const METHODS: ReadonlySet<unknown> = new Set<RestrictedResource['method']>(['GET', 'PUT', 'POST', 'DELETE']);

/**
 * Whether `method` is one a restricted resource can name (the Tokens API's four).
 *
 * @example
 * isRdtMethod('GET'); // true
 * isRdtMethod('PATCH'); // false
 */
export function isRdtMethod(method: unknown): method is RestrictedResource['method'] {
  return METHODS.has(method);
}

/**
 * Validates and canonicalises resources (sorted data elements) so equal requests share a cache entry.
 *
 * @example
 * canonicalResources([{ method: 'GET', path: '/orders/v0/orders', dataElements: ['shippingAddress', 'buyerInfo'] }]);
 * // [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo', 'shippingAddress'] }]
 */
export function canonicalResources(resources: readonly RestrictedResource[]): RestrictedResource[] {
  if (!Array.isArray(resources) || resources.length === 0 || resources.length > 50) {
    throw new TypeError('restrictedResources must be an array of 1 to 50 resources');
  }
  return resources.map((r) => {
    if (typeof r !== 'object' || r === null || !isRdtMethod(r.method)) {
      throw new TypeError('each restricted resource needs a method: GET, PUT, POST or DELETE');
    }
    if (typeof r.path !== 'string' || !r.path.startsWith('/') || !isVisibleAscii(r.path.slice(1), 512)) {
      throw new TypeError('each restricted resource needs a path starting with /');
    }
    if (r.dataElements !== undefined) {
      if (
        !Array.isArray(r.dataElements) ||
        (r.dataElements as readonly unknown[]).some(
          (d) => typeof d !== 'string' || !/^[A-Za-z]{1,64}$/.test(d),
        )
      ) {
        throw new TypeError('dataElements must be an array of names such as buyerInfo');
      }
      return { method: r.method, path: r.path, dataElements: [...r.dataElements].sort() };
    }
    return { method: r.method, path: r.path };
  });
}

/**
 * Builds `POST /tokens/2021-03-01/restrictedDataToken` for a seller's access token.
 *
 * @example
 * const req = buildRestrictedDataTokenRequest('na', accessToken, {
 *   restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo'] }],
 * }, { userAgent: 'MyApp/1.0 (Language=JavaScript)' });
 */
export function buildRestrictedDataTokenRequest(
  region: Region,
  accessToken: string,
  request: RestrictedDataTokenRequest,
  options?: SpApiEndpointOptions & { readonly userAgent?: string },
): Request {
  if (typeof accessToken !== 'string' || accessToken.length === 0)
    throw new TypeError('accessToken is required');
  const body: Record<string, unknown> = {
    restrictedResources: canonicalResources(request.restrictedResources),
  };
  if (request.targetApplication !== undefined) {
    if (
      typeof request.targetApplication !== 'string' ||
      !/^[A-Za-z0-9._-]{1,200}$/.test(request.targetApplication)
    ) {
      throw new TypeError('targetApplication must be an application id');
    }
    body['targetApplication'] = request.targetApplication;
  }
  return amazonRequest(
    spapiBaseUrl(region, options) + RDT_PATH,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-amz-access-token': accessToken,
        'user-agent': options?.userAgent ?? DEFAULT_USER_AGENT,
      },
      body: JSON.stringify(body),
      redirect: 'manual',
    },
    options?.amazonUrl,
  );
}

/**
 * The User-Agent the core sends when the caller gives none (Amazon's `AppName/Version (Language=…)` format).
 *
 * @example
 * createSpApiFetch({ tokens, userAgent: DEFAULT_USER_AGENT });
 */
export const DEFAULT_USER_AGENT = 'spapi-auth/0.1.0 (Language=JavaScript)';

/**
 * SP-API's `{ errors: [{ code }] }` code, when it looks like one.
 *
 * @example
 * spapiErrorCode({ errors: [{ code: 'QuotaExceeded', message: '…' }] }); // 'QuotaExceeded'
 */
export function spapiErrorCode(body: unknown): string | undefined {
  const errors = (body as { errors?: unknown } | null)?.errors;
  const code = Array.isArray(errors) ? (errors[0] as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : undefined;
}

/**
 * Amazon's request id header, when it looks like one.
 *
 * @example
 * spapiRequestId(response); // 'a8c8d99a-6ab5-11e8-b0f8-19363980175b'
 */
export function spapiRequestId(response: Response): string | undefined {
  return amazonRequestId(response.headers.get('x-amzn-requestid'));
}

/**
 * Validates a Tokens API answer (top-level fields, or wrapped in `payload` as the 2021 guide shows).
 * Errors: `SpApiError` `spapi_request_failed` (non-200; status, Amazon's error code and request id)
 * or `invalid_spapi_response`.
 *
 * @example
 * const { restrictedDataToken, expiresIn } = await processRestrictedDataTokenResponse(await fetch(req));
 */
export async function processRestrictedDataTokenResponse(
  response: Response,
  options?: { readonly maxResponseBytes?: number },
): Promise<RestrictedDataTokenResponse> {
  const status = response.status;
  const requestId = spapiRequestId(response);
  let text: string;
  try {
    text = await readCappedText(response, options?.maxResponseBytes ?? 16 * 1024);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      throw new SpApiError('invalid_spapi_response', 'Tokens API answer too large', { status, requestId });
    }
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (status !== 200) {
    const retryAfter = response.headers.get('retry-after');
    throw new SpApiError('spapi_request_failed', `Tokens API answered ${status}`, {
      status,
      requestId,
      upstreamError: spapiErrorCode(body),
      ...(retryAfter !== null && /^\d{1,6}$/.test(retryAfter)
        ? { retryAfterMs: Number(retryAfter) * 1000 }
        : {}),
    });
  }
  const obj = (body as { payload?: unknown } | null)?.payload ?? body;
  const token = (obj as { restrictedDataToken?: unknown } | null)?.restrictedDataToken;
  const expiresIn = (obj as { expiresIn?: unknown } | null)?.expiresIn;
  if (!isVisibleAscii(token, 4096)) {
    throw new SpApiError('invalid_spapi_response', 'Tokens API answer without a valid restrictedDataToken', {
      status,
      requestId,
    });
  }
  if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn <= 0 || expiresIn > 86_400) {
    throw new SpApiError('invalid_spapi_response', 'Tokens API answer without a valid expiresIn', {
      status,
      requestId,
    });
  }
  return Object.freeze({
    restrictedDataToken: token,
    expiresIn,
    ...(requestId === undefined ? {} : { requestId }),
  });
}
