/**
 * Connect links, made in one place: `POST /v1/connect-sessions`, the dashboard's "Connect a seller"
 * and "Re-authorize", `spapi-auth sellers reauthorize-link` and the dev start page all call
 * {@link createConnectLink}. A link that names a stored seller is a re-authorization link: the
 * callback must return that seller (else `seller_mismatch`), and its owner is the seller's.
 */
import type { Marketplace, PartnerKind, Region } from '../../core/marketplaces.js';
import type { AuditInput, SellerRecord } from '../../storage/store.js';
import type { ServiceContext } from '../context.js';
import { HttpError, httpError } from '../http/request.js';
import { reauthorizationTarget } from '../domain/reauthorization.js';
import { FLOW_TTL_MS, checkOwnership, createFlowSession, type ConnectPayload } from './transaction.js';

export { FLOW_TTL_MS };

/** What a connect link is made for. */
export interface ConnectLinkRequest {
  /** The app's user the seller is linked to; null for a link nobody owns (Appstore-connected seller). */
  readonly userRef: string | null;
  readonly marketplace: Marketplace;
  readonly kind: PartnerKind;
  /** Where the browser goes after consent (`?status&selling_partner_id&region`); null: the result page. */
  readonly returnTo: string | null;
  /** A stored seller this link re-authorizes, or null for a new connection. */
  readonly sellingPartnerId: string | null;
  /** Who asked, as written in the audit record (an API key id, `admin`, `cli`). */
  readonly actor: string;
  /** Answer another owner's seller as an unknown one (a caller that may not read sellers). */
  readonly hideOtherOwners?: boolean;
}

/** A fresh connect link: single use, one browser, until `expiresAt`. */
export interface ConnectLink {
  readonly url: string;
  /** The link's route path (`/connect/<token>`), for a redirect within the service's own pages. */
  readonly path: string;
  readonly expiresAt: number;
  /** How long a link lives ({@link FLOW_TTL_MS}). */
  readonly lifetimeMs: number;
}

/** What {@link createConnectLink} needs of the service: the route context, or the CLI's own. */
export interface ConnectLinkContext extends Pick<ServiceContext, 'config' | 'store' | 'now'> {
  readonly audit: { add(record: AuditInput): void | Promise<void> };
}

/**
 * Makes a connect link. A named seller must be stored in the marketplace's region and not belong
 * to another user_ref (404 `seller_not_found`, 409 `seller_owned_by_other_user`, as `HttpError`s).
 *
 * @example
 * const { url, expiresAt } = await createConnectLink(ctx, {
 *   userRef: 'acct-42', marketplace: getMarketplace('US'), kind: 'seller',
 *   returnTo: null, sellingPartnerId: null, actor: key.id,
 * });
 */
export async function createConnectLink(
  ctx: ConnectLinkContext,
  request: ConnectLinkRequest,
): Promise<ConnectLink> {
  const { marketplace, sellingPartnerId: named } = request;
  if (named !== null) {
    const notFound = httpError('seller_not_found', 'No such seller to re-authorize.');
    // Stored in any region: a new region of a stored seller is a re-authorization of it.
    if ((await ctx.store.findSellers(named)).length === 0) throw notFound;
    try {
      await checkOwnership(ctx, named, request.userRef);
    } catch (err) {
      // Another owner's seller is answered as an unknown one to a caller that may not read sellers.
      if (err instanceof HttpError && request.hideOtherOwners === true) throw notFound;
      throw err;
    }
  }
  const payload: ConnectPayload = {
    flow: 'website',
    user_ref: request.userRef,
    marketplace: marketplace.countryCode,
    kind: request.kind,
    return_to: request.returnTo,
    selling_partner_id: named,
  };
  const { token, expiresAt } = await createFlowSession(ctx, 'connect', payload);
  await ctx.audit.add({
    action: 'connect_session.created',
    actor: request.actor,
    sellingPartnerId: named,
    region: marketplace.region,
    outcome: 'ok',
  });
  const path = `/connect/${token}`;
  return { url: `${ctx.config.publicUrl}${path}`, path, expiresAt, lifetimeMs: FLOW_TTL_MS };
}

/**
 * A re-authorization link for a stored seller (the dashboard's "Re-authorize",
 * `spapi-auth sellers reauthorize-link`): in `region`, or its only region. 404 `seller_not_found`
 * when it is not stored there, 400 `region_required` when it has several regions and none is named.
 *
 * @example
 * const { url, seller } = await createReauthorizationLink(ctx, { sellingPartnerId: 'A1B2', actor: 'cli' });
 */
export async function createReauthorizationLink(
  ctx: ConnectLinkContext,
  input: {
    readonly sellingPartnerId: string;
    readonly region?: Region;
    readonly actor: string;
    readonly returnTo?: string | null;
  },
): Promise<ConnectLink & { readonly seller: SellerRecord }> {
  const all = await ctx.store.findSellers(input.sellingPartnerId);
  const records = all.filter((s) => input.region === undefined || s.region === input.region);
  if (records.length === 0) {
    throw httpError(
      'seller_not_found',
      input.region === undefined || all.length === 0
        ? 'No such seller.'
        : `The seller has no authorization in region ${input.region}.`,
    );
  }
  if (records.length > 1) {
    throw httpError(
      'region_required',
      `The seller is authorized in several regions (${records.map((s) => s.region).join(', ')}): name one.`,
    );
  }
  const seller = records[0]!;
  const link = await createConnectLink(ctx, {
    ...reauthorizationTarget(seller),
    returnTo: input.returnTo ?? null,
    actor: input.actor,
  });
  return { ...link, seller };
}

/**
 * Whether an error is one of the refusals above (a stable code and a message to show), rather than
 * a failure of the store or a bug.
 *
 * @example
 * catch (err) { if (isConnectLinkRefusal(err)) console.error(`${err.message} (${err.code})`); }
 */
export function isConnectLinkRefusal(err: unknown): err is HttpError {
  return err instanceof HttpError;
}
