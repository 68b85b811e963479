/**
 * What an anonymous hit of the Login URI starts is carried, not stored: anyone can load that URL,
 * from as many addresses as they own, so nothing is written until Amazon (or the app's backend)
 * sends the seller back. The Appstore OAuth transaction travels in the `state` itself, a pending
 * Appstore sign-in in its `spapi_pending` token, each `<base64url JSON>.<kid>.<HMAC>`: HMAC-SHA256
 * under a key derived from the store's key ring for that purpose (every instance checks it; a
 * changed character, a value made for the other purpose or under a key no longer in the ring is
 * refused as unknown). Nothing in them is secret — the marketplace, the seller Amazon named, the
 * SHA-256 of the binding cookie, the expiry — and the PKCE verifier is not carried: it is derived
 * from the state by another keyed HMAC, at the start and again at the callback.
 *
 * The single use is recorded where a carried value ends: the callback (the app's confirm for a
 * pending token) writes the row the transaction would have had, keyed by the SHA-256 of the state,
 * and consumes it in the same call (`claimOAuthTransaction`); a replay finds it consumed. The record
 * is kept until an hour past the state's expiry, after which the state itself is refused as expired.
 * A state or token without a `.` is a stored one (website flows, Appstore flows after the app's
 * sign-in): those keep their rows.
 */
import { findMarketplace, type Marketplace } from '../../core/marketplaces.js';
import { base64url, hashState, pkceChallenge, randomToken, timingSafeEqual } from '../../core/state.js';
import type {
  CarriedPurpose,
  ConsumeResult,
  OAuthTransaction,
  SessionRecord,
  Store,
} from '../../storage/store.js';
import type { ServiceContext } from '../context.js';
import { FLOW_TTL_MS, bindingCookie, type AppstorePayload, type StartedTransaction } from './transaction.js';

/** The longest carried value looked at (a pending token holds Amazon's callback URI and state). */
const MAX_CARRIED_LENGTH = 7000;

type Claims = Readonly<Record<string, unknown>>;

/**
 * Whether a state or token is a carried one (stored ones are 43 base64url characters, no `.`).
 *
 * @example
 * isCarried(state) ? consumeCarried(…) : store.consumeOAuthTransaction(…);
 */
export function isCarried(value: string): boolean {
  return value.includes('.');
}

function sign(store: Pick<Store, 'carriedMac'>, purpose: CarriedPurpose, claims: Claims): string {
  const body = base64url(new TextEncoder().encode(JSON.stringify(claims)));
  return `${body}.${store.carriedMac(purpose, body)!}`;
}

/** The claims of a carried value, or undefined when it is not one this service signed for `purpose`. */
function open(store: Pick<Store, 'carriedMac'>, purpose: CarriedPurpose, value: string): Claims | undefined {
  if (value.length > MAX_CARRIED_LENGTH) return undefined;
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  const [body, kid, mac] = parts as [string, string, string];
  const expected = store.carriedMac(purpose, body, kid);
  if (expected === undefined || !timingSafeEqual(`${kid}.${mac}`, expected)) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Claims)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The PKCE verifier of a carried state: 43 base64url characters, a keyed HMAC of the state. */
function verifierOf(store: Pick<Store, 'carriedMac'>, state: string): string | undefined {
  const kid = state.split('.')[1] ?? '';
  return store.carriedMac('pkce_verifier', state, kid)?.slice(kid.length + 1);
}

/**
 * Starts an anonymous Appstore OAuth transaction without storing it: the state carries it, the
 * binding cookie (random, its SHA-256 in the state) ties it to this browser.
 *
 * @example
 * const { state, cookie, codeChallenge } = await startCarriedTransaction(ctx, marketplace, 'A1EMUSELLERNA01');
 */
export async function startCarriedTransaction(
  ctx: Pick<ServiceContext, 'config' | 'store' | 'now'>,
  marketplace: Marketplace,
  expectedSellingPartnerId: string,
): Promise<StartedTransaction> {
  const binding = randomToken(32);
  const state = sign(ctx.store, 'oauth_state', {
    m: marketplace.countryCode,
    s: expectedSellingPartnerId,
    b: await hashState(binding),
    p: ctx.config.pkce ? 1 : 0,
    e: ctx.now() + FLOW_TTL_MS,
  });
  const verifier = ctx.config.pkce ? verifierOf(ctx.store, state) : undefined;
  return {
    state,
    cookie: bindingCookie(ctx.config, binding),
    codeChallenge: verifier === undefined ? undefined : await pkceChallenge(verifier),
  };
}

/**
 * Consumes the transaction a callback's state names, stored or carried, for the browser whose
 * binding cookie is `binding`: the same answers as the store's consume (`not_found` for a state
 * this service did not sign, `binding_mismatch`, `expired`, `consumed` once it was used).
 *
 * @example
 * const consumed = await consumeTransaction(ctx, cb.state, cookieValue);
 */
export async function consumeTransaction(
  ctx: Pick<ServiceContext, 'store' | 'now'>,
  state: string,
  binding: string,
): Promise<ConsumeResult<OAuthTransaction>> {
  const { store } = ctx;
  const bindingHash = await hashState(binding);
  if (!isCarried(state)) return store.consumeOAuthTransaction(await hashState(state), bindingHash);
  const c = open(store, 'oauth_state', state);
  const marketplace = typeof c?.m === 'string' ? findMarketplace(c.m) : undefined;
  if (
    c === undefined ||
    marketplace === undefined ||
    typeof c.s !== 'string' ||
    typeof c.b !== 'string' ||
    typeof c.e !== 'number'
  ) {
    return { ok: false, reason: 'not_found' };
  }
  if (!timingSafeEqual(bindingHash, c.b)) return { ok: false, reason: 'binding_mismatch' };
  if (c.e <= ctx.now()) return { ok: false, reason: 'expired' };
  return store.claimOAuthTransaction({
    stateHash: await hashState(state),
    bindingHash,
    flow: 'appstore',
    kind: 'seller',
    marketplace: marketplace.countryCode,
    region: marketplace.region,
    userRef: null,
    returnTo: null,
    expectedSellingPartnerId: c.s,
    pkceVerifier: c.p === 1 ? (verifierOf(store, state) ?? null) : null,
    expiresAt: c.e,
  });
}

/**
 * A pending Appstore session awaiting the app's sign-in, as a token that carries it (nothing stored).
 *
 * @example
 * signin.searchParams.set('spapi_pending', pendingAppstoreToken(ctx, payload));
 */
export function pendingAppstoreToken(
  ctx: Pick<ServiceContext, 'store' | 'now'>,
  payload: AppstorePayload,
): string {
  return sign(ctx.store, 'appstore_pending', {
    ...payload,
    // Two sellers' identical Login URI hits in one millisecond still get distinct tokens.
    n: randomToken(12),
    e: ctx.now() + FLOW_TTL_MS,
  });
}

/**
 * Consumes a pending Appstore session, stored or carried: `not_found` for a token this service did
 * not sign, `expired`, `consumed` once it was confirmed.
 *
 * @example
 * const result = await consumePendingAppstore(ctx, params.token);
 */
export async function consumePendingAppstore(
  ctx: Pick<ServiceContext, 'store' | 'now'>,
  token: string,
): Promise<ConsumeResult<SessionRecord>> {
  const { store } = ctx;
  if (!isCarried(token)) return store.consumeSession(await hashState(token), 'appstore');
  const c = open(store, 'appstore_pending', token);
  if (
    c === undefined ||
    typeof c.amazon_callback_uri !== 'string' ||
    typeof c.amazon_state !== 'string' ||
    typeof c.selling_partner_id !== 'string' ||
    typeof c.marketplace !== 'string' ||
    typeof c.version_beta !== 'boolean' ||
    typeof c.e !== 'number'
  ) {
    return { ok: false, reason: 'not_found' };
  }
  if (c.e <= ctx.now()) return { ok: false, reason: 'expired' };
  const payload: AppstorePayload = {
    amazon_callback_uri: c.amazon_callback_uri,
    amazon_state: c.amazon_state,
    selling_partner_id: c.selling_partner_id,
    marketplace: c.marketplace,
    version_beta: c.version_beta,
  };
  return store.claimSession({
    tokenHash: await hashState(token),
    type: 'appstore',
    expiresAt: c.e,
    payload: { ...payload },
  });
}
