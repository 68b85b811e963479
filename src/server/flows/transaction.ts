/**
 * What the three browser flows share: the single-use flow sessions (connect links, pending Appstore
 * sign-ins), the OAuth transaction with its binding cookie, the ownership pre-check and the way a
 * failure is answered (a page, or JSON when the client asks for it).
 *
 * The state is 32 random bytes kept only as a hash, bound to the browser by a separate random
 * cookie whose hash is stored with it, single use (consumed atomically by the store: one winner
 * under duplicate callbacks) and valid 10 minutes. The anonymous Appstore flow (the Login URI) stores
 * nothing: its transaction is carried in a signed state with the same cookie (`carried.ts`).
 */
import type { Marketplace, PartnerKind, Region } from '../../core/marketplaces.js';
import { createPkce, createState, hashState, randomToken } from '../../core/state.js';
import type { SessionType } from '../../storage/store.js';
import type { ServiceContext } from '../context.js';
import { serializeCookie } from '../http/cookies.js';
import { httpError, type ServerRequest, type ServerResponse } from '../http/request.js';
import { renderHttpError, wantsJson, type FlowPageNext } from '../http/html.js';
import { type DetailOf, type HttpErrorCode } from '../http/errors.js';
import type { RouteHandler } from '../http/router.js';
import { USER_REF } from '../http/validate.js';
import { TOKEN_SHAPED } from '../../storage/shared.js';
import { SELLER_CENTRAL_REAUTHORIZE } from '../domain/reauthorization.js';
import { ownerRefusal } from '../domain/ownership.js';

/**
 * Lifetime of connect links, pending Appstore sessions and OAuth transactions.
 *
 * @example
 * const expiresAt = now() + FLOW_TTL_MS; // 10 minutes
 */
export const FLOW_TTL_MS = 10 * 60 * 1000;

/** The payload of a connect session (website link, or the Appstore flow after the app's sign-in). */
export interface ConnectPayload {
  readonly flow: 'website' | 'appstore';
  readonly user_ref: string | null;
  readonly marketplace: string;
  readonly kind: PartnerKind;
  readonly return_to: string | null;
  readonly selling_partner_id: string | null;
  readonly amazon_callback_uri?: string;
  readonly amazon_state?: string;
  readonly version_beta?: boolean;
}

/** The payload of a pending Appstore session (before the app's sign-in). */
export interface AppstorePayload {
  readonly amazon_callback_uri: string;
  readonly amazon_state: string;
  readonly selling_partner_id: string;
  readonly marketplace: string;
  readonly version_beta: boolean;
}

/** What {@link startTransaction} records for the callback. */
export interface TransactionInput {
  readonly flow: 'website' | 'appstore';
  readonly kind: PartnerKind;
  readonly marketplace: Marketplace;
  readonly region: Region;
  readonly userRef: string | null;
  readonly returnTo: string | null;
  readonly expectedSellingPartnerId: string | null;
}

/** A started transaction: our new state, the binding cookie to set, and the PKCE challenge if on. */
export interface StartedTransaction {
  readonly state: string;
  readonly cookie: string;
  readonly codeChallenge: string | undefined;
}

/**
 * The binding cookie's name: `__Host-` needs Secure, which needs https.
 *
 * @example
 * bindingCookieName(true); // '__Host-spapi_tx'
 */
export function bindingCookieName(secure: boolean): string {
  return secure ? '__Host-spapi_tx' : 'spapi_tx';
}

/**
 * Creates the OAuth transaction and its binding cookie (the browser that started it is the only one
 * that can finish it). The binding cookie is not cleared after use: its transaction is consumed, it
 * expires with it, and a reload of the callback then reports `state_used` rather than `state_not_bound`.
 *
 * @example
 * const { state, cookie } = await startTransaction(ctx, { flow: 'website', kind: 'seller', … });
 */
export async function startTransaction(
  ctx: Pick<ServiceContext, 'config' | 'store' | 'now' | 'pendingFlows'>,
  input: TransactionInput,
): Promise<StartedTransaction> {
  const { config, store } = ctx;
  const state = createState();
  const binding = randomToken(32);
  const pkce = config.pkce ? await createPkce() : undefined;
  await store.createOAuthTransaction({
    stateHash: await hashState(state),
    bindingHash: await hashState(binding),
    flow: input.flow,
    kind: input.kind,
    marketplace: input.marketplace.countryCode,
    region: input.region,
    userRef: input.userRef,
    returnTo: input.returnTo,
    expectedSellingPartnerId: input.expectedSellingPartnerId,
    pkceVerifier: pkce?.codeVerifier ?? null,
    expiresAt: ctx.now() + FLOW_TTL_MS,
  });
  await ctx.pendingFlows.created();
  return { state, cookie: bindingCookie(config, binding), codeChallenge: pkce?.codeChallenge };
}

/**
 * The `Set-Cookie` of a binding cookie: for the flow's lifetime, `HttpOnly` (by default),
 * `SameSite=Lax` (it must come back on Amazon's top-level redirect), `Secure` on https.
 *
 * @example
 * const cookie = bindingCookie(config, randomToken(32));
 */
export function bindingCookie(
  config: Pick<ServiceContext['config'], 'secureCookies'>,
  binding: string,
): string {
  return serializeCookie(bindingCookieName(config.secureCookies), binding, {
    maxAgeSeconds: FLOW_TTL_MS / 1000,
    secure: config.secureCookies,
    sameSite: 'Lax',
  });
}

/**
 * Stores a single-use session (a connect link, or a pending Appstore sign-in) under the hash of a
 * new random token, valid {@link FLOW_TTL_MS}; returns the token (shown once, in a URL).
 *
 * @example
 * const { token } = await createFlowSession(ctx, 'connect', { flow: 'website', user_ref: 'u1', … });
 */
export async function createFlowSession(
  ctx: Pick<ServiceContext, 'store' | 'now'>,
  type: SessionType,
  payload: ConnectPayload | AppstorePayload,
): Promise<{ token: string; expiresAt: number }> {
  const token = randomToken(32);
  const expiresAt = ctx.now() + FLOW_TTL_MS;
  await ctx.store.createSession({
    tokenHash: await hashState(token),
    type,
    expiresAt,
    payload: { ...payload },
  });
  return { token, expiresAt };
}

/**
 * Refuses a flow for a seller that belongs to another user_ref (in any of its regions: ownership is
 * per seller, see `domain/ownership.ts`) before it starts, unless relinking is on.
 *
 * @example
 * await checkOwnership(ctx, 'A1EMUSELLERNA01', 'user-7'); // throws 409 seller_owned_by_other_user
 */
export async function checkOwnership(
  ctx: Pick<ServiceContext, 'config' | 'store'>,
  sellingPartnerId: string,
  userRef: string | null,
): Promise<void> {
  const rows = await ctx.store.findSellers(sellingPartnerId);
  const code = ownerRefusal(ctx.config, rows, userRef);
  if (code) throw httpError(code);
}

/** Where a failed flow came from, once its transaction is known: what its page links back to. */
export interface FlowOrigin {
  readonly flow: 'website' | 'appstore';
  readonly returnTo: string | null;
  readonly sellingPartnerId: string;
  readonly region: Region;
}

/**
 * A failure as the browser flows answer it, with the status registered for `code`: JSON when the
 * client asks for JSON, else a page — which, when the flow's origin is known, says what to do next
 * and links back to the flow's `return_to` with `?status=error&error=<code>&selling_partner_id&region`.
 *
 * @example
 * return flowFailure(req, 'state_missing');
 */
export function flowFailure<C extends HttpErrorCode>(
  req: ServerRequest,
  code: C,
  message?: DetailOf<C>,
  headers?: Record<string, string>,
  origin?: FlowOrigin,
): ServerResponse {
  return renderHttpError(
    httpError(code, message, headers),
    wantsJson(req),
    origin === undefined ? {} : nextStep(code, origin),
  );
}

/** What a seller (or an operator) can do after a refusal, and the way back where one is known. */
function nextStep(code: HttpErrorCode, origin: FlowOrigin): FlowPageNext {
  const renew =
    origin.flow === 'website'
      ? `open a re-authorization link made for this seller (ask the app for one), or use ${SELLER_CENTRAL_REAUTHORIZE}`
      : 'open a re-authorization link made for this seller: ask the app for one';
  const advice: Partial<Record<HttpErrorCode, string>> = {
    seller_already_connected: `This seller is already connected to the app, and this authorization may not replace it. To renew it, ${renew}.`,
    seller_owned_by_other_user:
      'This seller is linked to another account of the app. Sign in to the app with the account it belongs to and start again there.',
    seller_account_mismatch:
      'The Amazon account that just authorized is not the one this seller was connected with, so nothing was changed. Sign in to Seller Central with the account the seller belongs to and authorize again.',
    seller_account_unverified:
      'Amazon did not tell which account just authorized, so the connected seller was kept as it was. Try again in a few minutes; if it keeps failing, ask the app for a re-authorization link made for this seller.',
    seller_mismatch:
      'The link was made for another selling partner. Sign in to Seller Central as that account and open a new link, or ask the app for a link for this one.',
  };
  const text = advice[code];
  let back: FlowPageNext['back'];
  if (origin.returnTo !== null) {
    const u = new URL(origin.returnTo);
    u.searchParams.set('status', 'error');
    u.searchParams.set('error', code);
    u.searchParams.set('selling_partner_id', origin.sellingPartnerId);
    u.searchParams.set('region', origin.region);
    back = { href: u.href, label: 'Back to where you started' };
  }
  return { ...(text === undefined ? {} : { advice: text }), ...(back === undefined ? {} : { back }) };
}

/**
 * A route anyone can reach that writes rows, behind the per-client-address limit
 * (`ctx.oauthLimit`, `SPAPI_AUTH_OAUTH_RATE_LIMIT`): past it the handler does not run and the
 * answer is `429 flow_rate_limited` with `Retry-After` — a page for a browser, JSON when asked for.
 *
 * @example
 * router.add('GET', '/oauth/login', headWithoutSideEffects(rateLimited(ctx, async (req) => …)));
 */
export function rateLimited(ctx: Pick<ServiceContext, 'oauthLimit'>, handler: RouteHandler): RouteHandler {
  return (req, rc) => {
    const d = ctx.oauthLimit(req);
    return d.allowed ? handler(req, rc) : rateLimitedFailure(req, d.retryAfterS);
  };
}

/** The `429 flow_rate_limited` answer (page or JSON) with its `Retry-After`. */
export function rateLimitedFailure(req: ServerRequest, retryAfterS: number): ServerResponse {
  const wait = retryAfterS === 1 ? 'a second' : `${retryAfterS} seconds`;
  return flowFailure(
    req,
    'flow_rate_limited',
    `Too many requests came from your network in a short time. Please wait ${wait} and try again.`,
    { 'retry-after': String(retryAfterS) },
  );
}

/**
 * A GET handler of a browser flow whose GET spends something (a single-use link, an authorization
 * code, a new transaction row): a `HEAD` — a link prefetcher, a mail scanner — gets an empty 200 and
 * changes nothing, so that the browser's own GET still works.
 *
 * @example
 * router.add('GET', '/connect/:token', headWithoutSideEffects(async (req, rc) => …));
 */
export function headWithoutSideEffects(handler: RouteHandler): RouteHandler {
  return (req, rc) =>
    req.method === 'HEAD'
      ? {
          status: 200,
          headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
          body: null,
        }
      : handler(req, rc);
}

/** Why a flow session could not be used, as the code the browser (or the API) gets. */
export const SESSION_FAILURES = {
  not_found: 'link_invalid',
  expired: 'link_expired',
  consumed: 'link_used',
  binding_mismatch: 'link_invalid',
} as const satisfies Record<string, HttpErrorCode>;

/**
 * The app's user id from a JSON body, checked before any store work.
 *
 * @example
 * const userRef = userRefOf(await readJsonObject(req)); // or a 400 invalid_user_ref
 */
export function userRefOf(body: Readonly<Record<string, unknown>>): string {
  const userRef = body.user_ref;
  if (typeof userRef !== 'string' || !USER_REF.test(userRef)) {
    throw httpError('invalid_user_ref');
  }
  // The audit refuses token-shaped values; refused here, before a code would be spent for nothing.
  if (TOKEN_SHAPED.test(userRef)) {
    throw httpError('invalid_user_ref', 'user_ref must not look like a token or a secret.');
  }
  return userRef;
}
