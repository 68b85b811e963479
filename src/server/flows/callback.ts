/**
 * Both workflows end here: Amazon sends the browser to the redirect URI with `state`,
 * `selling_partner_id` and `spapi_oauth_code`. The core parses the query (repetition, length and
 * characters of every parameter); this module consumes the transaction the state names (bound to
 * this browser by its cookie), exchanges the code once, and files the authorization. The code never
 * appears in a URL, a log or an error body.
 */
import { parseCallback } from '../../core/callback.js';
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { isSpapiAuthError } from '../../core/errors.js';
import { hashState } from '../../core/state.js';
import { SellerExistsError, SellerOwnershipError, StorageError } from '../../storage/errors.js';
import type { OAuthTransaction, ReplacePolicy, SellerProfile } from '../../storage/store.js';
import type { ExchangedTokens, ServiceContext } from '../context.js';
import { readCookie } from '../http/cookies.js';
import { HttpError, parseQuery, redirect, type ServerRequest, type ServerResponse } from '../http/request.js';
import { html, page } from '../http/html.js';
import type { HttpErrorCode } from '../http/errors.js';
import type { Router } from '../http/router.js';
import { TOKEN } from '../http/validate.js';
import { profileEventData, sellerAuthorizedEvent } from '../ops/events.js';
import { checkSellerProfile, regionMismatchMessage } from '../sellers/profile.js';
import { bindingCookieName, checkOwnership, flowFailure, headWithoutSideEffects } from './transaction.js';

/** A callback whose code was exchanged: what the steps after the exchange work with. */
export interface ExchangedAuthorization {
  readonly tx: OAuthTransaction;
  readonly sellingPartnerId: string;
  readonly tokens: ExchangedTokens;
  /** The seller's profile read with the new token, or null when that read failed (fetched later). */
  readonly profile: SellerProfile | null;
}

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

  router.add(
    'GET',
    '/oauth/callback',
    headWithoutSideEffects(async (req) => {
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
      const consumed = await store.consumeOAuthTransaction(await hashState(state), await hashState(binding));
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
      const refused = await refuseBeforeExchange(tx, cb.sellingPartnerId);
      if (refused) return flowFailure(req, refused.code, refused.message);
      return completeAuthorization(req, tx, cb.sellingPartnerId, cb.spapiOauthCode);
    }),
  );

  router.add('GET', '/oauth/result', (req) => {
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
        ${config.mode === 'dev' ? html`<p><a href="/">Back to the start page</a></p>` : ''}`,
    );
  });

  /** The checks a callback must pass before its code is spent; the refusal, audited, or undefined. */
  const refuseBeforeExchange = async (
    tx: OAuthTransaction,
    sellerId: string,
  ): Promise<HttpError | undefined> => {
    let refusal: HttpError | undefined;
    if (tx.expectedSellingPartnerId !== null && tx.expectedSellingPartnerId !== sellerId) {
      log.warn('callback seller does not match the expected seller', { flow: tx.flow, seller_id: sellerId });
      refusal = new HttpError(
        409,
        'seller_mismatch',
        'Amazon returned a different selling partner than the one expected.',
      );
    } else {
      try {
        await checkOwnership(ctx, sellerId, tx.userRef, tx.region);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        refusal = err;
      }
    }
    if (!refusal && replacePolicy(tx, sellerId) === 'none') {
      const existing = await store.getSeller({ sellingPartnerId: sellerId, region: tx.region });
      if (existing) refusal = new HttpError(409, 'seller_already_connected');
    }
    if (refusal) {
      audit.add({
        action: 'seller.authorization_refused',
        sellingPartnerId: sellerId,
        region: tx.region,
        outcome: refusal.code,
      });
    }
    return refusal;
  };

  /** Exchanges the code once, then files the authorization and sends the browser on. */
  const completeAuthorization = async (
    req: ServerRequest,
    tx: OAuthTransaction,
    sellerId: string,
    code: string,
  ): Promise<ServerResponse> => {
    let tokens: ExchangedTokens;
    try {
      tokens = await ctx.amazon.exchangeCode({ code, codeVerifier: tx.pkceVerifier ?? undefined });
    } catch (err) {
      const mapped = mapExchangeError(err);
      log.warn('code exchange failed', { flow: tx.flow, seller_id: sellerId, code: mapped.code });
      audit.add({
        action: 'seller.authorization_failed',
        sellingPartnerId: sellerId,
        region: tx.region,
        outcome: mapped.code,
      });
      return flowFailure(req, mapped.code, mapped.message);
    }
    // The profile read is the region check: a grant for another region is refused, unstored.
    const check = await checkSellerProfile(ctx.amazon, {
      sellingPartnerId: sellerId,
      region: tx.region,
      accessToken: tokens.accessToken.accessToken,
      now: ctx.now,
    });
    if (check.kind === 'wrong_region') {
      log.warn('grant works in another region', {
        flow: tx.flow,
        seller_id: sellerId,
        region: check.actualRegion,
      });
      audit.add({
        action: 'seller.authorization_refused',
        sellingPartnerId: sellerId,
        region: tx.region,
        outcome: 'region_mismatch',
      });
      return flowFailure(
        req,
        'region_mismatch',
        regionMismatchMessage({
          intended: tx.region,
          actual: check.actualRegion,
          marketplace: tx.marketplace,
          kind: tx.kind,
        }),
      );
    }
    try {
      await fileAuthorization({
        tx,
        sellingPartnerId: sellerId,
        tokens,
        profile: check.kind === 'ok' ? check.profile : null,
      });
    } catch (err) {
      // The store's own check, for a row written since the check before the exchange.
      if (err instanceof SellerOwnershipError || err instanceof SellerExistsError) {
        const code =
          err instanceof SellerExistsError ? 'seller_already_connected' : 'seller_owned_by_other_user';
        audit.add({
          action: 'seller.authorization_refused',
          sellingPartnerId: sellerId,
          region: tx.region,
          outcome: code,
        });
        return flowFailure(req, code);
      }
      throw err;
    }
    const target = tx.returnTo !== null ? new URL(tx.returnTo) : new URL(`${config.publicUrl}/oauth/result`);
    target.searchParams.set('status', 'connected');
    target.searchParams.set('selling_partner_id', sellerId);
    target.searchParams.set('region', tx.region);
    target.searchParams.set('kind', tx.kind);
    return redirect(303, target.href);
  };

  // The Appstore flow knows only the region (its marketplace is the region's first, a stand-in):
  // a re-authorization there keeps the marketplace the seller was connected with.
  const marketplaceToStore = async (tx: OAuthTransaction, sellerId: string): Promise<string> => {
    if (tx.flow !== 'appstore') return tx.marketplace;
    const known = (await store.findSellers(sellerId)).find((s) => s.region === tx.region);
    return known?.marketplace ?? tx.marketplace;
  };

  /**
   * The step after a successful exchange: store the tokens with the `seller.authorized` event and
   * audit record in one write, then drop whatever this instance cached for the seller. Anything that
   * should happen with fresh tokens before the browser moves on (e.g. fetching the seller's profile)
   * belongs here.
   */
  const fileAuthorization = async ({
    tx,
    sellingPartnerId,
    tokens,
    profile,
  }: ExchangedAuthorization): Promise<void> => {
    const key = { sellingPartnerId, region: tx.region };
    // No call names the account behind a grant; a re-authorization whose profile differs from the
    // stored one (another store name, other marketplaces) may be another account: flagged for an operator.
    const changed = profile === null ? [] : profileChanges(await store.getSellerProfile(key), profile);
    if (changed.length > 0) {
      log.warn('re-authorization with a different seller profile', {
        flow: tx.flow,
        seller_id: sellingPartnerId,
      });
    }
    const saved = await store.saveAuthorization({
      sellingPartnerId,
      region: tx.region,
      kind: tx.kind,
      userRef: tx.userRef,
      marketplace: await marketplaceToStore(tx, sellingPartnerId),
      refreshToken: tokens.refreshToken,
      accessToken: tokens.accessToken,
      replaces: replacePolicy(tx, sellingPartnerId),
      allowRelink: config.allowRelink,
      events: [
        sellerAuthorizedEvent(
          { sellingPartnerId, region: tx.region, kind: tx.kind, userRef: tx.userRef },
          { source: 'consent', flow: tx.flow },
          ctx.now(),
          profileEventData(profile),
        ),
      ],
      audit: [
        {
          action: 'seller.authorized',
          actor: tx.flow,
          sellingPartnerId,
          region: tx.region,
          outcome: 'ok',
          details: { kind: tx.kind, user_ref: tx.userRef },
        },
        ...(changed.length > 0
          ? [
              {
                action: 'seller.profile_changed',
                actor: tx.flow,
                sellingPartnerId,
                region: tx.region,
                outcome: 'flagged',
                details: { changed: changed.join(','), user_ref: tx.userRef },
              },
            ]
          : []),
      ],
    });
    // Without a profile row the sweep fetches it later; a stale one from before is replaced.
    if (profile !== null) await store.saveSellerProfile({ sellingPartnerId, region: tx.region }, profile);
    ctx.amazon.forget({ sellingPartnerId, region: tx.region });
    log.info('seller authorized', {
      flow: tx.flow,
      seller_id: sellingPartnerId,
      region: tx.region,
      kind: saved.created ? 'new' : 'renewed',
    });
  };
}

/**
 * Which stored authorization a callback may replace. The `selling_partner_id` of a callback is
 * browser-supplied, and no LWA or SP-API answer names the account behind a grant, so an
 * authorization replaces a stored token only when its transaction was made for that seller and an
 * owner: a connect session the app's backend created with `selling_partner_id`, or the Appstore
 * flow after the app's sign-in (its seller id is Amazon's Login URI one, its owner the signed-in
 * `user_ref`). Then it may renew the owner's row, or claim a row without an owner. Any other
 * authorization (a plain connect link, the Appstore flow without sign-in) only creates.
 */
function replacePolicy(tx: OAuthTransaction, sellingPartnerId: string): ReplacePolicy {
  return tx.userRef !== null && tx.expectedSellingPartnerId === sellingPartnerId
    ? 'same_owner_or_unowned'
    : 'none';
}

/** Maps a failed exchange to the status, code and message the browser sees. */
function mapExchangeError(err: unknown): { code: HttpErrorCode; message: string } {
  if (err instanceof StorageError) throw err;
  if (isSpapiAuthError(err, 'authorization_code_invalid')) {
    return {
      code: 'authorization_code_invalid',
      message: 'The authorization expired or was already used. Please authorize again.',
    };
  }
  if (isSpapiAuthError(err, 'invalid_client')) {
    return {
      code: 'upstream_credentials_invalid',
      message: "The app's Login with Amazon credentials were refused.",
    };
  }
  return {
    code: 'upstream_unavailable',
    message: 'Login with Amazon could not be reached. Please authorize again in a few minutes.',
  };
}

/**
 * What differs between the stored profile of a seller and the one just read with a new grant:
 * `store_name`, `marketplaces` (the participating marketplace ids). Empty when nothing was stored.
 */
export function profileChanges(stored: SellerProfile | null, fresh: SellerProfile): string[] {
  if (stored === null) return [];
  const ids = (p: SellerProfile): string =>
    p.marketplaces
      .filter((m) => m.participating)
      .map((m) => m.id)
      .sort()
      .join(',');
  const changes: string[] = [];
  if (stored.storeName !== null && fresh.storeName !== null && stored.storeName !== fresh.storeName)
    changes.push('store_name');
  if (ids(stored) !== ids(fresh)) changes.push('marketplaces');
  return changes;
}
