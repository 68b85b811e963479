/**
 * Both workflows end here: Amazon sends the browser to the redirect URI with `state`,
 * `selling_partner_id` and `spapi_oauth_code`. The core parses the query (repetition, length and
 * characters of every parameter); this module consumes the transaction the state names (bound to
 * this browser by its cookie) and hands it to `authorize.ts`, which exchanges the code once and files
 * the authorization. The code never appears in a URL, a log or an error body.
 */
import { parseCallback } from '../../core/callback.js';
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import type { ServiceContext } from '../context.js';
import { readCookie } from '../http/cookies.js';
import { HttpError, parseQuery, publicPathPrefix } from '../http/request.js';
import { html, page } from '../http/html.js';
import type { HttpErrorCode } from '../http/errors.js';
import type { Router } from '../http/router.js';
import { OAUTH_CALLBACK, OAUTH_RESULT } from './routes.js';
import { TOKEN } from '../http/validate.js';
import { completeAuthorization, refuseBeforeExchange } from './authorize.js';
import { consumeTransaction } from './carried.js';
import { bindingCookieName, flowFailure, headWithoutSideEffects, rateLimited } from './transaction.js';

/** Why the store could not consume a transaction, as the code the browser sees. */
const STATE_FAILURES = {
  not_found: 'state_invalid',
  expired: 'state_expired',
  consumed: 'state_used',
  binding_mismatch: 'state_not_bound',
} as const satisfies Record<string, HttpErrorCode>;

/**
 * Registers `GET /oauth/callback` and the result page `GET /oauth/result`.
 *
 * @example
 * registerCallbackRoutes(router, ctx);
 */
export function registerCallbackRoutes(router: Router, ctx: ServiceContext): void {
  const { config, store, log, audit } = ctx;
  const cookieName = bindingCookieName(config.secureCookies);

  router.route(
    OAUTH_CALLBACK,
    headWithoutSideEffects(
      rateLimited(ctx, async (req) => {
        const cb = parseCallback(req.rawQuery);
        // Amazon's own answers (a cancel, no code) still end the transaction; a malformed callback
        // (perhaps forged) is refused without touching it.
        const ends = !cb.ok && (cb.error.code === 'authorization_denied' || cb.error.code === 'code_missing');
        if (!cb.ok && !ends) return flowFailure(req, cb.error.code);
        const state = cb.state!;
        if (cb.ok && cb.unexpectedParams.includes('iss'))
          log.warn('unexpected iss parameter on callback', { route: '/oauth/callback' });

        const binding = readCookie(req.header('cookie'), cookieName);
        if (binding === undefined || !TOKEN.test(binding)) {
          return flowFailure(
            req,
            'state_not_bound',
            'This browser did not start this authorization (the binding cookie is missing).',
          );
        }
        const consumed = await consumeTransaction(ctx, state, binding);
        if (!consumed.ok) {
          return flowFailure(req, STATE_FAILURES[consumed.reason]);
        }
        const tx = consumed.value;
        if (!cb.ok) {
          if (cb.error.code === 'authorization_denied') {
            audit.add({
              action: 'seller.authorization_denied',
              outcome: 'authorization_denied',
              region: tx.region,
            });
          }
          return flowFailure(req, cb.error.code);
        }
        const refused = await refuseBeforeExchange(ctx, tx, cb.sellingPartnerId);
        if (refused) {
          return flowFailure(req, refused.code, undefined, undefined, {
            flow: tx.flow,
            returnTo: tx.returnTo,
            sellingPartnerId: cb.sellingPartnerId,
            region: tx.region,
          });
        }
        return completeAuthorization(ctx, req, tx, cb.sellingPartnerId, cb.spapiOauthCode);
      }),
    ),
  );

  router.route(OAUTH_RESULT, (req) => {
    const q = parseQuery(req.rawQuery);
    const sellerId = q instanceof HttpError ? undefined : q.get('selling_partner_id');
    const region = q instanceof HttpError ? undefined : q.get('region');
    const shown =
      sellerId !== undefined && SELLING_PARTNER_ID_RE.test(sellerId) ? sellerId : 'the selling partner';
    const where = region === 'na' || region === 'eu' || region === 'fe' ? region.toUpperCase() : undefined;
    const kind = q instanceof HttpError ? undefined : q.get('kind');
    return page(
      200,
      kind === 'vendor' ? 'Vendor connected' : kind === 'seller' ? 'Seller connected' : 'Connected',
      html`<p class="ok">
          ${shown} is connected${where ? html` in region ${where}` : ''}. You can close this page.
        </p>
        ${config.mode === 'dev' ? html`<p><a href="${publicPathPrefix(config.publicUrl)}/">Back to the start page</a></p>` : ''}`,
    );
  });
}
