/**
 * The ownership policy: who may file a grant under a seller id. Every way a grant reaches a seller
 * id asks this module — the website workflow (a plain connect link, or one that names the seller),
 * the Appstore workflow (with or without the sign-in hop), relinking, `sellers import` — in every
 * region. It decides per seller (all its regions together), never per stored row.
 *
 * What can be trusted about a grant:
 * - The `selling_partner_id` of the Login URI and of the callback comes through the browser: whoever
 *   drives it can edit both. It proves nothing, so it only ever names the seller a grant is *for*.
 * - LWA's token response and SP-API name no account. What the service can learn is the new grant's
 *   seller profile (`getMarketplaceParticipations` in the seller's region: store name and
 *   participating marketplaces). Comparing it with the profile of the grant already stored is the
 *   evidence that the two grants belong to the same Amazon account ({@link sameAccount}).
 * - A connect session that names the seller was asked for by the app's backend (an API key), and an
 *   import line by the operator: both vouch for the seller id, though a link can leak.
 *
 * The rules:
 * 1. A seller id nobody has stored: any flow may create it (a first authorization proves nothing;
 *    two concurrent first authorizations: one wins, the other is `seller_already_connected`).
 * 2. A seller is owned by the `user_ref` of its rows. A grant for another `user_ref` is
 *    `seller_owned_by_other_user`, before the code is spent — unless relinking is on, and then only
 *    with the evidence of rule 4 (a relink is never trusted on an app's word alone).
 * 3. A plain connect link (no seller named) only adds: it never replaces a row in its region
 *    (`seller_already_connected`). A named link, the Appstore flow (Amazon's own re-authorization
 *    path) and an import may replace it.
 * 4. Any grant for a stored seller — the same region (a renewal) or a new one (a new region of a
 *    seller already stored is a re-authorization of that seller) — is filed only when the new
 *    grant's profile shows the same Amazon account ({@link sameAccount}); otherwise nothing is
 *    written (`seller_account_mismatch`), and without a profile to compare, neither
 *    (`seller_account_unverified`). The one exception: when neither side has a profile at all (an
 *    account whose profile Amazon does not serve), a grant the app's side named (named link,
 *    import) for its own owner is trusted as before.
 * 5. A grant without an owner (the Appstore flow without sign-in) keeps the seller's owner; one with
 *    an owner claims an ownerless seller only under rule 4.
 * So a row another account's grant would add or replace is never written, and the seller's own
 * calls (their default region included) are served as before.
 */
import { findMarketplace, type Region } from '../../core/marketplaces.js';
import type { ReauthorizeEvidence } from '../../config.js';
import type { ReplacePolicy, SellerKey, SellerProfile, SellerRecord, Store } from '../../storage/store.js';
import type { AmazonGateway } from '../context.js';
import { checkSellerProfile } from './profile.js';

/** What a grant says about itself: for which seller and region, through which flow, for whom. */
export interface GrantClaim {
  readonly sellingPartnerId: string;
  readonly region: Region;
  readonly flow: 'website' | 'appstore' | 'import';
  /** The owner the grant comes for (the app's `user_ref`), or null (the Appstore flow without sign-in). */
  readonly userRef: string | null;
  /**
   * Whether the app's side named this seller: a connect session created with `selling_partner_id`,
   * or an import line. Never the browser-supplied id of the Login URI.
   */
  readonly named: boolean;
}

/** The policy's settings (`SPAPI_AUTH_ALLOW_RELINK`, `SPAPI_AUTH_REAUTHORIZE_EVIDENCE`). */
export interface OwnershipSettings {
  readonly allowRelink: boolean;
  readonly evidence: ReauthorizeEvidence;
}

/** Why a grant is not filed; each is a registered HTTP error code (and an import code). */
export type OwnershipRefusal =
  | 'seller_owned_by_other_user'
  | 'seller_already_connected'
  | 'seller_account_mismatch'
  | 'seller_account_unverified';

/** How the store must write a grant the policy accepted (its own guard repeats the rule atomically). */
export interface GrantWrite {
  /** The owner to store: the claim's, or the seller's when the claim has none. */
  readonly userRef: string | null;
  readonly replaces: ReplacePolicy;
  readonly allowRelink: boolean;
  /** A first authorization of an id nobody had stored (it proves nothing). */
  readonly first: boolean;
}

/** The policy's answer after the grant's profile was read. */
export type GrantDecision =
  { readonly ok: true; readonly write: GrantWrite } | { readonly ok: false; readonly code: OwnershipRefusal };

/**
 * The seller's owners: the distinct `user_ref`s of its rows (one, or none; several only for rows
 * stored before ownership was decided per seller).
 *
 * @example
 * sellerOwners(await store.findSellers('A1EMUSELLERNA01')); // ['acct-42']
 */
export function sellerOwners(rows: readonly SellerRecord[]): string[] {
  return [...new Set(rows.map((r) => r.userRef).filter((u): u is string => u !== null))];
}

/**
 * Whether a grant for `userRef` would move a seller to another owner.
 *
 * @example
 * movesOwner(rows, 'mallory'); // true when the seller belongs to someone else
 */
export function movesOwner(rows: readonly SellerRecord[], userRef: string | null): boolean {
  return userRef !== null && sellerOwners(rows).some((o) => o !== userRef);
}

/**
 * The owner check alone (rule 2), for the steps before a flow starts: creating a connect link for
 * a seller, confirming an Appstore sign-in. Undefined when the owner does not stand in the way.
 *
 * @example
 * if (ownerRefusal(settings, rows, 'user-7')) throw httpError('seller_owned_by_other_user');
 */
export function ownerRefusal(
  settings: Pick<OwnershipSettings, 'allowRelink'>,
  rows: readonly SellerRecord[],
  userRef: string | null,
): 'seller_owned_by_other_user' | undefined {
  return movesOwner(rows, userRef) && !settings.allowRelink ? 'seller_owned_by_other_user' : undefined;
}

/**
 * The refusals known before the grant exists (rules 2 and 3), so that no code is spent on them.
 * `rows` are all the seller's rows, every region.
 *
 * @example
 * const refused = refuseBeforeGrant(settings, await store.findSellers(id), claim);
 */
export function refuseBeforeGrant(
  settings: OwnershipSettings,
  rows: readonly SellerRecord[],
  claim: GrantClaim,
): OwnershipRefusal | undefined {
  if (rows.length === 0) return undefined;
  const owner = ownerRefusal(settings, rows, claim.userRef);
  if (owner) return owner;
  const here = rows.some((r) => r.region === claim.region);
  if (here && claim.flow === 'website' && !claim.named) return 'seller_already_connected';
  return undefined;
}

/** What the service knows of the stored seller's account, to compare a new grant with. */
export interface AccountReference {
  /** Profiles of the seller's grant in the claim's region (stored, then re-read with that grant). */
  readonly sameRegion: readonly SellerProfile[];
  /** Stored profiles of its other regions (only their store names compare across regions). */
  readonly otherRegions: readonly SellerProfile[];
}

/**
 * Whether a new grant's profile shows the account of the stored seller. The store name must be
 * known on both sides and equal; with `evidence: 'profile'` (the default), in the same region the
 * participating marketplaces must be the same set as well. Across regions only the store name
 * compares (marketplaces are regional). True when any reference matches.
 *
 * What it proves: the new grant's account has that store name (and those marketplaces) in this
 * region. What it does not: that it is the same account — store names and where a seller sells are
 * public, and an account made to look the same passes.
 *
 * @example
 * sameAccount('profile', fresh, { sameRegion: [stored], otherRegions: [] });
 */
export function sameAccount(
  evidence: ReauthorizeEvidence,
  fresh: SellerProfile,
  reference: AccountReference,
): boolean {
  const name = (p: SellerProfile): string | null => p.storeName?.trim() || null;
  const freshName = name(fresh);
  if (freshName === null) return false;
  const sameName = (p: SellerProfile): boolean => name(p) === freshName;
  if (
    reference.sameRegion.some((p) => sameName(p) && (evidence === 'store_name' || sameMarketplaces(p, fresh)))
  )
    return true;
  return reference.otherRegions.some(sameName);
}

function participating(p: SellerProfile): string {
  return p.marketplaces
    .filter((m) => m.participating)
    .map((m) => m.id)
    .sort()
    .join(',');
}

function sameMarketplaces(a: SellerProfile, b: SellerProfile): boolean {
  return participating(a) === participating(b);
}

/**
 * The policy's decision once the grant's profile was read (`fresh`, null when the read failed).
 * `rows` are the seller's rows read after the exchange; `reference` is read lazily (only a stored
 * seller needs it) and may be asked twice: first from what is stored, then with the stored grant.
 *
 * @example
 * const decision = await decideGrant(settings, rows, claim, profile, (fresh) => referenceOf(…));
 */
export async function decideGrant(
  settings: OwnershipSettings,
  rows: readonly SellerRecord[],
  claim: GrantClaim,
  fresh: SellerProfile | null,
  reference: (reread: boolean) => Promise<AccountReference>,
): Promise<GrantDecision> {
  const early = refuseBeforeGrant(settings, rows, claim);
  if (early) return { ok: false, code: early };
  const row = rows.find((r) => r.region === claim.region);
  if (rows.length === 0) {
    // Rule 1: nothing to compare with; created only if still absent when written.
    return { ok: true, write: { userRef: claim.userRef, replaces: 'none', allowRelink: false, first: true } };
  }
  const relink = movesOwner(rows, claim.userRef);
  const owner = claim.userRef ?? row?.userRef ?? sellerOwners(rows)[0] ?? null;
  const write: GrantWrite = {
    userRef: owner,
    // A new region's row is created only if still absent; a stored row is replaced only while it
    // still has the owner decided on here (or none, claimed by an owner).
    replaces: row === undefined ? 'none' : 'same_owner_or_unowned',
    allowRelink: relink,
    first: false,
  };
  const stored = await reference(false);
  if (fresh !== null && sameAccount(settings.evidence, fresh, stored)) return { ok: true, write };
  // The stored profile may be stale (a store renamed, a marketplace added since): ask Amazon again
  // with the stored grant, when there is one that works.
  const current = row !== undefined && row.status === 'active' ? await reference(true) : stored;
  if (fresh !== null && current !== stored && sameAccount(settings.evidence, fresh, current))
    return { ok: true, write };
  // Nothing is known of the stored account (no profile with a store name): only the app's side
  // can vouch, for its own owner.
  const unknown = !hasEvidence(current);
  if (unknown && claim.named && !relink) return { ok: true, write };
  return {
    ok: false,
    code: fresh === null || unknown ? 'seller_account_unverified' : 'seller_account_mismatch',
  };
}

function hasEvidence(r: AccountReference): boolean {
  return [...r.sameRegion, ...r.otherRegions].some((p) => (p.storeName?.trim() ?? '') !== '');
}

/**
 * The reference of {@link decideGrant} from the store (and, when `reread`, from Amazon with the
 * seller's stored grant in the claim's region; nothing is saved by that read).
 *
 * @example
 * const reference = (reread: boolean) => accountReference(deps, rows, claim.region, reread);
 */
export async function accountReference(
  deps: {
    store: Pick<Store, 'getSellerProfile'>;
    amazon: Pick<AmazonGateway, 'callSpApi' | 'getAccessToken'>;
    now: () => number;
  },
  rows: readonly SellerRecord[],
  region: Region,
  reread: boolean,
): Promise<AccountReference> {
  const profiles = await Promise.all(rows.map((r) => deps.store.getSellerProfile(r)));
  const sameRegion: SellerProfile[] = [];
  const otherRegions: SellerProfile[] = [];
  rows.forEach((r, i) => {
    const p = profiles[i];
    if (p) (r.region === region ? sameRegion : otherRegions).push(p);
  });
  const row = rows.find((r) => r.region === region);
  if (reread && row !== undefined) {
    const current = await readWithStoredGrant(deps, row);
    if (current) sameRegion.push(current);
  }
  return { sameRegion, otherRegions };
}

async function readWithStoredGrant(
  deps: { amazon: Pick<AmazonGateway, 'callSpApi' | 'getAccessToken'>; now: () => number },
  key: SellerKey,
): Promise<SellerProfile | undefined> {
  let accessToken: string;
  try {
    accessToken = (await deps.amazon.getAccessToken(key, { use: 'service' })).accessToken;
  } catch {
    return undefined;
  }
  const check = await checkSellerProfile(deps.amazon, { ...key, accessToken, now: deps.now });
  return check.kind === 'ok' ? check.profile : undefined;
}

/**
 * The marketplace to store for a seller whose flow did not choose one (the Appstore flow knows only
 * the region; an import line may leave it out): the first marketplace of `region` the profile
 * says the seller participates in (one without suspended listings first), as a country code;
 * undefined without a profile.
 *
 * @example
 * marketplaceFromProfile(profile, 'fe'); // 'JP' for a seller in JP, AU and SG
 */
export function marketplaceFromProfile(profile: SellerProfile | null, region: Region): string | undefined {
  if (profile === null) return undefined;
  const inRegion = profile.marketplaces
    .filter((m) => m.participating)
    .map((m) => ({ m, known: findMarketplace(m.id) }))
    .filter((x) => x.known?.region === region);
  const pick = inRegion.find((x) => !x.m.suspendedListings) ?? inRegion[0];
  return pick?.known?.countryCode;
}
