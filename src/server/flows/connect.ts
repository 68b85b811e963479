/**
 * The website workflow's start: the app's backend asks for a single-use connect link
 * (`POST /v1/connect-sessions`), and the browser opens it (`GET /connect/:token`), which creates the
 * OAuth transaction and redirects to the consent page. The Appstore flow after the app's sign-in
 * passes through the same link on its way back to Amazon.
 */
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { LoginRequestError } from '../../core/errors.js';
import { findMarketplace } from '../../core/marketplaces.js';
import { hashState } from '../../core/state.js';
import type { ServiceContext } from '../context.js';
import { HttpError, httpError, json, readJsonObject, redirect } from '../http/request.js';
import type { Router } from '../http/router.js';
import { CREATE_CONNECT_SESSION, OPEN_CONNECT_LINK } from './routes.js';
import { continueAtAmazon, storedLoginRequest } from './appstore.js';
import { createConnectLink } from './connect-link.js';
import {
  SESSION_FAILURES,
  flowFailure,
  headWithoutSideEffects,
  rateLimited,
  startTransaction,
  userRefOf,
  type ConnectPayload,
} from './transaction.js';

/**
 * Registers `POST /v1/connect-sessions` and `GET /connect/:token`.
 *
 * @example
 * registerConnectRoutes(router, ctx);
 */
export function registerConnectRoutes(router: Router, ctx: ServiceContext): void {
  const { config, store, log } = ctx;

  // ── Website workflow, step 1: the app asks for a connect link ──
  router.route(CREATE_CONNECT_SESSION, async (req) => {
    const key = await ctx.keys.authenticate(req.header('authorization'), CREATE_CONNECT_SESSION.scope);
    const body = await readJsonObject(req);
    const userRef = userRefOf(body);
    const marketplace = typeof body.marketplace === 'string' ? findMarketplace(body.marketplace) : undefined;
    if (!marketplace) {
      throw httpError(
        'invalid_marketplace',
        'marketplace must be a country code (US, DE, …) or a marketplace id.',
      );
    }
    const kind = body.kind ?? 'seller';
    if (kind !== 'seller' && kind !== 'vendor') throw httpError('invalid_kind');
    let returnTo: string | null = null;
    if (body.return_to !== undefined && body.return_to !== null) {
      returnTo = checkReturnTo(body.return_to, config.returnOrigins);
    }
    let expected: string | null = null;
    if (body.selling_partner_id !== undefined && body.selling_partner_id !== null) {
      if (
        typeof body.selling_partner_id !== 'string' ||
        !SELLING_PARTNER_ID_RE.test(body.selling_partner_id)
      ) {
        throw httpError('invalid_seller_id');
      }
      expected = body.selling_partner_id;
    }
    const { url, expiresAt } = await createConnectLink(ctx, {
      userRef,
      marketplace,
      kind,
      returnTo,
      sellingPartnerId: expected,
      actor: key.id,
      hideOtherOwners: !key.scopes.has('sellers:read'),
    });
    return json(201, { url, expires_at: new Date(expiresAt).toISOString() });
  });

  // ── Website workflow, step 2 (and the Appstore flow after sign-in): the browser opens the link ──
  router.route(
    OPEN_CONNECT_LINK,
    headWithoutSideEffects(
      rateLimited(ctx, async (req, { params }) => {
        const result = await store.consumeSession(await hashState(params.token!), 'connect');
        if (!result.ok) {
          return flowFailure(req, SESSION_FAILURES[result.reason]);
        }
        const p = result.value.payload as unknown as ConnectPayload;
        const marketplace = findMarketplace(p.marketplace);
        if (!marketplace)
          return flowFailure(req, 'invalid_marketplace', 'The link names an unknown marketplace.');
        if (p.flow === 'appstore') {
          let login;
          try {
            login = storedLoginRequest(p, config);
          } catch (err) {
            // Validated when Amazon sent it; only a change of configuration since then gets here.
            if (err instanceof LoginRequestError) return flowFailure(req, err.code);
            throw err;
          }
          return continueAtAmazon(ctx, { login, userRef: p.user_ref });
        }
        const { state, cookie, codeChallenge } = await startTransaction(ctx, {
          flow: 'website',
          kind: p.kind,
          marketplace,
          region: marketplace.region,
          userRef: p.user_ref,
          returnTo: p.return_to,
          expectedSellingPartnerId: p.selling_partner_id,
        });
        log.info('connect started', { flow: 'website', region: marketplace.region, kind: p.kind });
        return redirect(302, ctx.amazon.consentUrl({ marketplace, kind: p.kind, state, codeChallenge }), {
          'set-cookie': cookie,
        });
      }),
    ),
  );
}

/**
 * Checks a `return_to` against the allowed origins (exact origin match, http(s) only, no
 * credentials) and returns it normalised, or throws a 400.
 *
 * @example
 * checkReturnTo('https://app.example.com/done', ['https://app.example.com']); // 'https://app.example.com/done'
 */
export function checkReturnTo(value: unknown, allowed: readonly string[]): string {
  const bad = httpError('invalid_return_to');
  if (typeof value !== 'string' || value.length > 2048 || /[\x00-\x20\x7f\\]/.test(value)) throw bad;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.hash) throw bad;
  if (!allowed.includes(u.origin)) throw bad;
  return u.href;
}
