/**
 * A callback's authorization from the checks before its code is spent to the row it becomes: the
 * seller id and ownership checks, the one code exchange, the profile read (the region check), and
 * the write that files the tokens with their event and audit records.
 */
import { isSpapiAuthError } from '../../core/errors.js';
import { SellerExistsError, SellerOwnershipError, StorageError } from '../../storage/errors.js';
import type { OAuthTransaction, SellerProfile } from '../../storage/store.js';
import type { ExchangedTokens, ServiceContext } from '../context.js';
import { HttpError, httpError, redirect, type ServerRequest, type ServerResponse } from '../http/request.js';
import { CORE_ERROR_HTTP, type HttpErrorCode } from '../http/errors.js';
import { profileEventData, sellerAuthorizedEvent } from '../domain/events.js';
import { checkSellerProfile, regionMismatchMessage } from '../domain/profile.js';
import {
  accountReference,
  decideGrant,
  marketplaceFromProfile,
  refuseBeforeGrant,
  type GrantClaim,
  type GrantWrite,
  type OwnershipSettings,
} from '../domain/ownership.js';
import { flowFailure } from './transaction.js';

/** A callback whose code was exchanged: what the steps after the exchange work with. */
export interface ExchangedAuthorization {
  readonly tx: OAuthTransaction;
  readonly sellingPartnerId: string;
  readonly tokens: ExchangedTokens;
  /** The seller's profile read with the new token, or null when that read failed (fetched later). */
  readonly profile: SellerProfile | null;
}

/**
 * The checks a callback must pass before its code is spent (the expected seller, its owner, whether
 * this transaction may replace a stored seller); the refusal, audited, or undefined.
 *
 * @example
 * const refused = await refuseBeforeExchange(ctx, tx, cb.sellingPartnerId);
 */
export async function refuseBeforeExchange(
  ctx: ServiceContext,
  tx: OAuthTransaction,
  sellerId: string,
): Promise<HttpError | undefined> {
  const { store, log, audit } = ctx;
  let refusal: HttpError | undefined;
  if (tx.expectedSellingPartnerId !== null && tx.expectedSellingPartnerId !== sellerId) {
    log.warn('callback seller does not match the expected seller', { flow: tx.flow, seller_id: sellerId });
    refusal = httpError('seller_mismatch');
  } else {
    const code = refuseBeforeGrant(
      ownershipSettings(ctx),
      await store.findSellers(sellerId),
      claimOf(tx, sellerId),
    );
    if (code) refusal = httpError(code);
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
}

/**
 * Exchanges the code once, reads the seller's profile with the new token (a grant for another
 * region is refused), files the authorization and sends the browser on (303).
 *
 * @example
 * return completeAuthorization(ctx, req, tx, cb.sellingPartnerId, cb.spapiOauthCode);
 */
export async function completeAuthorization(
  ctx: ServiceContext,
  req: ServerRequest,
  tx: OAuthTransaction,
  sellerId: string,
  code: string,
): Promise<ServerResponse> {
  const { config, log, audit } = ctx;
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
    return flowFailure(req, mapped.code);
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
  const profile = check.kind === 'ok' ? check.profile : null;
  const claim = claimOf(tx, sellerId);
  const rows = await ctx.store.findSellers(sellerId);
  const decision = await decideGrant(ownershipSettings(ctx), rows, claim, profile, (reread) =>
    accountReference(ctx, rows, tx.region, reread),
  );
  if (!decision.ok) {
    log.warn('authorization refused by the ownership policy', {
      flow: tx.flow,
      seller_id: sellerId,
      code: decision.code,
    });
    audit.add({
      action: 'seller.authorization_refused',
      sellingPartnerId: sellerId,
      region: tx.region,
      outcome: decision.code,
    });
    return flowFailure(req, decision.code, undefined, undefined, {
      flow: tx.flow,
      returnTo: tx.returnTo,
      sellingPartnerId: sellerId,
      region: tx.region,
    });
  }
  try {
    await fileAuthorization(ctx, { tx, sellingPartnerId: sellerId, tokens, profile }, decision.write);
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
      return flowFailure(req, code, undefined, undefined, {
        flow: tx.flow,
        returnTo: tx.returnTo,
        sellingPartnerId: sellerId,
        region: tx.region,
      });
    }
    throw err;
  }
  const target = tx.returnTo !== null ? new URL(tx.returnTo) : new URL(`${config.publicUrl}/oauth/result`);
  target.searchParams.set('status', 'connected');
  target.searchParams.set('selling_partner_id', sellerId);
  target.searchParams.set('region', tx.region);
  target.searchParams.set('kind', tx.kind);
  return redirect(303, target.href);
}

// The Appstore flow knows only the region (its marketplace is the region's first, a stand-in): a
// re-authorization keeps the marketplace the seller was connected with, a first one takes a
// marketplace the profile says the seller sells in.
async function marketplaceToStore(
  store: ServiceContext['store'],
  tx: OAuthTransaction,
  sellerId: string,
  profile: SellerProfile | null,
): Promise<string> {
  if (tx.flow !== 'appstore') return tx.marketplace;
  const known = (await store.findSellers(sellerId)).find((s) => s.region === tx.region);
  return known?.marketplace ?? marketplaceFromProfile(profile, tx.region) ?? tx.marketplace;
}

/** The policy's settings from the configuration. */
function ownershipSettings(ctx: Pick<ServiceContext, 'config'>): OwnershipSettings {
  return { allowRelink: ctx.config.allowRelink, evidence: ctx.config.reauthorizeEvidence };
}

/**
 * What a callback's transaction claims. Only a website connect session names its seller for the
 * app's side (its backend created it with `selling_partner_id`); the Appstore flow's id is the
 * Login URI's, which came through the browser.
 */
function claimOf(tx: OAuthTransaction, sellingPartnerId: string): GrantClaim {
  return {
    sellingPartnerId,
    region: tx.region,
    flow: tx.flow,
    userRef: tx.userRef,
    named: tx.flow === 'website' && tx.expectedSellingPartnerId === sellingPartnerId,
  };
}

/**
 * The step after a successful exchange: store the tokens with the `seller.authorized` event and
 * audit record in one write, then drop whatever this instance cached for the seller. Anything that
 * should happen with fresh tokens before the browser moves on (e.g. fetching the seller's profile)
 * belongs here.
 */
async function fileAuthorization(
  ctx: ServiceContext,
  { tx, sellingPartnerId, tokens, profile }: ExchangedAuthorization,
  write: GrantWrite,
): Promise<void> {
  const { store, log } = ctx;
  const userRef = write.userRef;
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
    userRef,
    marketplace: await marketplaceToStore(store, tx, sellingPartnerId, profile),
    refreshToken: tokens.refreshToken,
    accessToken: tokens.accessToken,
    replaces: write.replaces,
    allowRelink: write.allowRelink,
    // In the same write: a re-authorization never leaves the previous account's profile beside
    // the new tokens. Without one (the read failed), the sweep fetches it later.
    profile,
    events: [
      sellerAuthorizedEvent(
        { sellingPartnerId, region: tx.region, kind: tx.kind, userRef },
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
        details: { kind: tx.kind, user_ref: userRef },
      },
      ...(changed.length > 0
        ? [
            {
              action: 'seller.profile_changed',
              actor: tx.flow,
              sellingPartnerId,
              region: tx.region,
              outcome: 'flagged',
              details: { changed: changed.join(','), user_ref: userRef },
            },
          ]
        : []),
    ],
  });
  ctx.amazon.forget({ sellingPartnerId, region: tx.region });
  log.info('seller authorized', {
    flow: tx.flow,
    seller_id: sellingPartnerId,
    region: tx.region,
    kind: saved.created ? 'new' : 'renewed',
  });
}

/** Maps a failed exchange to the code the browser sees (the store's errors go on to the 500/503 page). */
function mapExchangeError(err: unknown): { code: HttpErrorCode } {
  if (err instanceof StorageError) throw err;
  return { code: isSpapiAuthError(err) ? CORE_ERROR_HTTP[err.code] : 'upstream_unavailable' };
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
