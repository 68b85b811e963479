// The `sandbox.sellingpartnerapi-<region>` hosts: Amazon's static sandbox, which "uses pattern
// matching to return static, mock responses" — the cases of `sandbox-cases.ts` — and answers any
// other request 400 `InvalidInput` "Could not match input arguments" (the body developers report
// from Amazon's sandbox: jlevers/selling-partner-api#551 and #592, saleweaver/python-amazon-sp-api#1834).
// Authentication, the region check and throttling stay as in production ("identical to making
// production calls except you direct the calls to the Selling Partner API sandbox endpoints").
import type { BucketRate, SpapiOperation } from './types.js';
import { SANDBOX_CASES, type SandboxCase } from './sandbox-cases.js';
import { BadRequest, json, readText, requestId, spapiError } from './http.js';

/** "Throttling in sandbox: rate 5 rps, burst 15" (the SP-API sandbox page; the 2021 developer guide). */
export const SANDBOX_RATE: BucketRate = Object.freeze({ rate: 5, burst: 15 });

const SANDBOX_HOST = /^sandbox\.sellingpartnerapi-(?:na|eu|fe)\.amazon\.com$/i;

/** Whether the request was for one of the sandbox SP-API hosts. */
export function isSandboxHost(hostname: string): boolean {
  return SANDBOX_HOST.test(hostname);
}

/** What a request offers to the matcher: its query parameters and its JSON body (if any). */
interface Offered {
  readonly query: URLSearchParams;
  readonly body: unknown;
}

/**
 * Whether `offered` carries `declared`: equal primitives; an array of the same length whose items
 * each carry the declared item; an object with every declared key carried (a key the case does
 * not declare is not compared — UNCONFIRMED, see the emulator README).
 */
function carries(offered: unknown, declared: unknown): boolean {
  if (Array.isArray(declared)) {
    return (
      Array.isArray(offered) &&
      offered.length === declared.length &&
      declared.every((d, i) => carries(offered[i], d))
    );
  }
  if (declared !== null && typeof declared === 'object') {
    if (offered === null || typeof offered !== 'object' || Array.isArray(offered)) return false;
    const o = offered as Record<string, unknown>;
    return Object.entries(declared).every(([k, v]) => k in o && carries(o[k], v));
  }
  return offered === declared;
}

/** A query parameter as the model types it: a list (SP-API's comma-separated form) or one string. */
function queryValue(query: URLSearchParams, name: string, declared: unknown): unknown {
  const all = query.getAll(name);
  if (all.length === 0) return undefined;
  if (Array.isArray(declared)) return all.flatMap((v) => v.split(','));
  return all.length === 1 ? all[0] : all;
}

function matches(c: SandboxCase, offered: Offered): boolean {
  if (c.parameters === undefined) return true;
  return Object.entries(c.parameters).every(([name, { value }]) =>
    name === 'body' ? carries(offered.body, value) : carries(queryValue(offered.query, name, value), value),
  );
}

/** The case a request gets: among those it matches, the one that declares the most parameters. */
export function sandboxCase(operation: SpapiOperation, offered: Offered): SandboxCase | undefined {
  let best: SandboxCase | undefined;
  for (const c of SANDBOX_CASES[operation]) {
    if (!matches(c, offered)) continue;
    const size = Object.keys(c.parameters ?? {}).length;
    if (best === undefined || size > Object.keys(best.parameters ?? {}).length) best = c;
  }
  return best;
}

/** Answers an authenticated, throttled sandbox request with its declared case, or Amazon's 400. */
export async function answerSandbox(
  operation: SpapiOperation,
  request: Request,
  url: URL,
  maxBodyBytes: number,
): Promise<Response> {
  let body: unknown;
  if (request.method === 'POST') {
    try {
      const text = await readText(request, maxBodyBytes);
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      if (!(err instanceof BadRequest) && !(err instanceof SyntaxError)) throw err;
      body = undefined;
    }
  }
  const found = sandboxCase(operation, { query: url.searchParams, body });
  if (found === undefined) return spapiError(400, 'InvalidInput', 'Could not match input arguments', '');
  const headers: Record<string, string> = {
    'x-amzn-requestid': requestId(),
    'x-amzn-ratelimit-limit': String(SANDBOX_RATE.rate),
  };
  if (found.status >= 400) headers['x-amzn-errortype'] = 'ValidationException';
  return json(found.status, found.response, headers);
}
