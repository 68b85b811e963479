// Shared steps of the emulator tests: token requests and the consent dance.
import assert from 'node:assert/strict';
import { DEV_APPLICATION, DEV_CLIENT_SECRET, type FetchLike } from '../../src/emulator/index.js';

export const APP = DEV_APPLICATION;
export const SECRET = DEV_CLIENT_SECRET;
export const REDIRECT = DEV_APPLICATION.redirectUris[0]!;
export const BASE = 'https://api.amazon.com';

/** POSTs a form to the token endpoint with the dev client's credentials in the body (unless given). */
export function tokenRequest(
  fetch: FetchLike,
  params: Record<string, string>,
  opts: { base?: string; headers?: Record<string, string>; noClient?: boolean } = {},
): Promise<Response> {
  const body = new URLSearchParams(
    opts.noClient ? params : { client_id: APP.clientId, client_secret: SECRET, ...params },
  );
  return fetch(`${opts.base ?? BASE}/auth/o2/token`, { method: 'POST', body, headers: opts.headers ?? {} });
}

/** Runs consent (the emulator must be in auto mode) and returns the callback's parameters. */
export async function consentCode(
  fetch: FetchLike,
  query: Record<string, string> = {},
  base = 'https://sellercentral.amazon.com',
): Promise<{ code: string; sellingPartnerId: string; state: string | null; location: URL }> {
  const q = new URLSearchParams({ application_id: APP.id, state: 'st-1', ...query });
  const res = await fetch(`${base}/apps/authorize/consent?${q}`, { redirect: 'manual' });
  assert.equal(res.status, 302, 'consent answers with a redirect in auto mode');
  const location = new URL(res.headers.get('location')!);
  return {
    code: location.searchParams.get('spapi_oauth_code')!,
    sellingPartnerId: location.searchParams.get('selling_partner_id')!,
    state: location.searchParams.get('state'),
    location,
  };
}

/** Exchanges a fresh code and returns the token response body. */
export async function authorize(
  fetch: FetchLike,
  query: Record<string, string> = {},
  base?: string,
): Promise<{ access_token: string; refresh_token: string; sellingPartnerId: string }> {
  const { code, sellingPartnerId } = await consentCode(fetch, query, base);
  const res = await tokenRequest(fetch, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: query.redirect_uri ?? REDIRECT,
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  return { ...body, sellingPartnerId };
}

export async function grantless(fetch: FetchLike, scope: string, base = BASE): Promise<string> {
  const res = await tokenRequest(fetch, { grant_type: 'client_credentials', scope }, { base });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Asserts an LWA error response: status, `error`, and Amazon's field set. */
export async function assertLwaError(
  res: Response,
  status: number,
  error: string,
): Promise<{ error_description: string }> {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  assert.equal(typeof body.request_id, 'string');
  return body as { error_description: string };
}

/** Asserts Amazon's SP-API error list and returns the first error. */
export async function assertSpapiError(
  res: Response,
  status: number,
  code: string,
): Promise<{ message: string; details: string }> {
  assert.equal(res.status, status);
  assert.ok(res.headers.get('x-amzn-requestid'));
  const body = (await res.json()) as { errors: { code: string; message: string; details: string }[] };
  assert.ok(Array.isArray(body.errors) && body.errors.length === 1, 'one error in the list');
  assert.equal(body.errors[0]!.code, code);
  assert.equal(typeof body.errors[0]!.message, 'string');
  return body.errors[0]!;
}
