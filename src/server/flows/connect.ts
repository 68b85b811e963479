/**
 * The website workflow's start: the app's backend asks for a single-use connect link
 * (`POST /v1/connect-sessions`), and the browser opens it (`GET /connect/:token`), which creates the
 * OAuth transaction and redirects to the consent page. The Appstore flow after the app's sign-in
 * passes through the same link on its way back to Amazon.
 */
import { LoginRequestError } from '../../core/errors.js';
import { findMarketplace } from '../../core/marketplaces.js';
import { hashState } from '../../core/state.js';
import type { ServiceContext } from '../context.js';
import { httpError, json, redirect } from '../http/request.js';
import type { Router } from '../http/router.js';
import { CREATE_CONNECT_SESSION, MARKETPLACE_MESSAGE, OPEN_CONNECT_LINK } from './routes.js';
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
    // The shape is the declaration's (CREATE_CONNECT_SESSION); what it cannot say is checked here.
    const body = await CREATE_CONNECT_SESSION.readBody(req);
    const userRef = userRefOf(body);
    const marketplace = findMarketplace(body.marketplace);
    if (!marketplace) throw httpError('invalid_marketplace', MARKETPLACE_MESSAGE);
    const kind = body.kind ?? 'seller';
    const returnTo =
      body.return_to === undefined || body.return_to === null
        ? null
        : checkReturnTo(body.return_to, config.returnOrigins);
    const expected = body.selling_partner_id ?? null;
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
