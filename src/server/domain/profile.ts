/**
 * The seller's profile: SP-API's `GET /sellers/v1/marketplaceParticipations` read in the seller's
 * region right after a code exchange (and after an import), stored with the authorization, shown
 * by the API, the dashboard and the CLI. The same call is the region check: Amazon's grants are
 * regional, and a seller who signed in to another region's Seller Central gets a token that the
 * intended region's endpoint refuses with 403 while another region's accepts it.
 */
import { REGIONS, findMarketplace, type PartnerKind, type Region } from '../../core/marketplaces.js';
import type { SellerKey, SellerMarketplace, SellerProfile, Store } from '../../storage/store.js';
import type { AmazonGateway } from '../context.js';
import type { Logger } from '../http/log.js';
import { marketplaceJson } from './events.js';

const PATH = '/sellers/v1/marketplaceParticipations';
const MAX_BODY = 256 * 1024;

/** What reading the profile found. */
export type ProfileCheck =
  | { readonly kind: 'ok'; readonly profile: SellerProfile }
  /** The intended region refused the token and `actualRegion` accepted it. */
  | { readonly kind: 'wrong_region'; readonly actualRegion: Region }
  /** The call failed, was throttled or refused everywhere: the profile is fetched later. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Parses a marketplaceParticipations body; undefined when it is not the documented shape. */
export function parseParticipations(body: unknown, at: number): SellerProfile | undefined {
  const payload = (body as { payload?: unknown } | null)?.payload;
  if (!Array.isArray(payload)) return undefined;
  let storeName: string | null = null;
  const marketplaces: SellerMarketplace[] = [];
  for (const entry of payload.slice(0, 100) as Record<string, unknown>[]) {
    const m = entry?.marketplace as Record<string, unknown> | undefined;
    const p = entry?.participation as Record<string, unknown> | undefined;
    if (typeof m?.id !== 'string' || typeof m.countryCode !== 'string') return undefined;
    marketplaces.push({
      id: m.id.slice(0, 32),
      country: m.countryCode.slice(0, 8),
      name: typeof m.name === 'string' ? m.name.slice(0, 128) : m.countryCode,
      participating: p?.isParticipating === true,
      suspendedListings: p?.hasSuspendedListings === true,
    });
    if (storeName === null && typeof entry.storeName === 'string' && entry.storeName !== '')
      storeName = entry.storeName.slice(0, 512);
  }
  return { storeName, marketplaces, fetchedAt: at };
}

async function participations(
  amazon: Pick<AmazonGateway, 'callSpApi'>,
  sellingPartnerId: string,
  region: Region,
  accessToken: string,
): Promise<{ status: number; body?: unknown }> {
  try {
    const res = await amazon.callSpApi({ sellingPartnerId, region, accessToken, path: PATH });
    const text = await res.text();
    if (res.status !== 200 || text.length > MAX_BODY) return { status: res.status };
    return { status: 200, body: JSON.parse(text) as unknown };
  } catch {
    return { status: 0 };
  }
}

/**
 * Reads the profile with `accessToken` at `region`; on a 403 asks the other regions whether the
 * grant is theirs (a wrong-region sign-in). Never throws.
 *
 * @example
 * const check = await checkSellerProfile(amazon, { sellingPartnerId, region: 'na', accessToken, now: Date.now });
 * if (check.kind === 'wrong_region') refuse(check.actualRegion);
 */
export async function checkSellerProfile(
  amazon: Pick<AmazonGateway, 'callSpApi'>,
  input: { sellingPartnerId: string; region: Region; accessToken: string; now: () => number },
): Promise<ProfileCheck> {
  const first = await participations(amazon, input.sellingPartnerId, input.region, input.accessToken);
  if (first.status === 200) {
    const profile = parseParticipations(first.body, input.now());
    return profile ? { kind: 'ok', profile } : { kind: 'unavailable', reason: 'malformed_response' };
  }
  if (first.status !== 403) {
    return { kind: 'unavailable', reason: first.status === 0 ? 'network_error' : `http_${first.status}` };
  }
  for (const other of REGIONS.filter((r) => r !== input.region)) {
    const probe = await participations(amazon, input.sellingPartnerId, other, input.accessToken);
    if (probe.status === 200) return { kind: 'wrong_region', actualRegion: other };
  }
  return { kind: 'unavailable', reason: 'http_403' };
}

/** Region names as Seller Central shows them. */
export const REGION_NAMES: Readonly<Record<Region, string>> = Object.freeze({
  na: 'North America',
  eu: 'Europe',
  fe: 'Far East',
});

/**
 * What the wrong-region page says: which region the grant works in, and where to authorize again.
 *
 * @example
 * regionMismatchMessage({ intended: 'na', actual: 'eu', marketplace: 'US', kind: 'seller' });
 */
export function regionMismatchMessage(input: {
  intended: Region;
  actual: Region;
  marketplace: string;
  kind: PartnerKind;
}): string {
  const m = findMarketplace(input.marketplace);
  const central = input.kind === 'vendor' ? 'Vendor Central' : 'Seller Central';
  const host = m ? new URL(input.kind === 'vendor' ? m.vendorCentral : m.sellerCentral).host : undefined;
  return (
    `This authorization was given in ${central} ${REGION_NAMES[input.actual]}, but was asked for ` +
    `${REGION_NAMES[input.intended]}; Amazon's authorizations are regional, so nothing was stored. ` +
    `Sign in to ${central} for ${REGION_NAMES[input.intended]}${host ? ` (${host})` : ''} with the ` +
    `account that sells there, and start the authorization again.`
  );
}

/**
 * Fetches and stores the profile of a stored seller (after an import, or when the fetch right after
 * the exchange failed), with the seller's own access token. Resolves to what was found.
 *
 * @example
 * await refreshSellerProfile({ store, amazon, now: Date.now }, { sellingPartnerId: 'A1', region: 'na' });
 */
export async function refreshSellerProfile(
  deps: {
    store: Pick<Store, 'saveSellerProfile'>;
    amazon: Pick<AmazonGateway, 'callSpApi' | 'getAccessToken'>;
    now: () => number;
  },
  key: SellerKey,
): Promise<ProfileCheck> {
  let accessToken: string;
  try {
    accessToken = (await deps.amazon.getAccessToken(key, { use: 'service' })).accessToken;
  } catch (err) {
    return { kind: 'unavailable', reason: (err as { code?: string }).code ?? 'token_unavailable' };
  }
  const check = await checkSellerProfile(deps.amazon, { ...key, accessToken, now: deps.now });
  if (check.kind === 'ok') await deps.store.saveSellerProfile(key, check.profile);
  return check;
}

/**
 * Every `intervalMs` (default 5 minutes), fetches the profiles still missing (at most `batch` per
 * round, oldest authorizations first). Returns the function that stops it.
 *
 * @example
 * const stop = startProfileSweep({ store, amazon, log, now: Date.now });
 */
export function startProfileSweep(
  deps: {
    store: Pick<Store, 'saveSellerProfile' | 'listSellersWithoutProfile'>;
    amazon: Pick<AmazonGateway, 'callSpApi' | 'getAccessToken'>;
    log: Logger;
    now: () => number;
  },
  opts: { intervalMs?: number; firstDelayMs?: number; batch?: number } = {},
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const round = async (): Promise<void> => {
    try {
      for (const key of await deps.store.listSellersWithoutProfile(opts.batch ?? 20)) {
        if (stopped) return;
        const check = await refreshSellerProfile(deps, key);
        if (check.kind !== 'ok')
          deps.log.info('seller profile not fetched', {
            seller_id: key.sellingPartnerId,
            region: key.region,
            code: check.kind === 'unavailable' ? check.reason : 'region_mismatch',
          });
      }
    } catch (err) {
      deps.log.warn('seller profile sweep failed', { error_name: (err as Error)?.name ?? 'Error' });
    }
  };
  const schedule = (delay: number): void => {
    timer = setTimeout(() => {
      void round().finally(() => {
        if (!stopped) schedule(opts.intervalMs ?? 5 * 60_000);
      });
    }, delay);
    timer.unref?.();
  };
  schedule(opts.firstDelayMs ?? 30_000);
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}

/**
 * The profile as JSON (`store_name`, `marketplaces`, `profile_fetched_at`), nulls when not fetched.
 *
 * @example
 * ({ ...sellerJson(s), ...profileJson(await store.getSellerProfile(s)) });
 */
export function profileJson(profile: SellerProfile | null): Record<string, unknown> {
  return {
    store_name: profile?.storeName ?? null,
    marketplaces:
      profile === null
        ? null
        : profile.marketplaces.map((m) => ({
            ...marketplaceJson(m),
            suspended_listings: m.suspendedListings,
          })),
    profile_fetched_at: profile === null ? null : new Date(profile.fetchedAt).toISOString(),
  };
}

/**
 * Adds each region's profile to `GET /v1/sellers/:id`'s authorizations (same order as `keys`).
 *
 * @example
 * json(200, await withProfiles(store, sellerDetailJson(records), records));
 */
export async function withProfiles<T extends { authorizations: Record<string, unknown>[] }>(
  store: Pick<Store, 'getSellerProfile'>,
  detail: T,
  keys: readonly SellerKey[],
): Promise<T> {
  const profiles = await Promise.all(keys.map((k) => store.getSellerProfile(k)));
  return {
    ...detail,
    authorizations: detail.authorizations.map((a, i) => ({ ...a, ...profileJson(profiles[i] ?? null) })),
  };
}
