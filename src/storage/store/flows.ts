// The flows concern: OAuth transactions, connect sessions and pending Appstore sessions, each
// single-use and consumed atomically.
import type { PartnerKind, Region } from '../../core/index.js';

/** Which consent flow started an OAuth transaction. */
export type OAuthFlow = 'website' | 'appstore';

/**
 * A new OAuth transaction (state and binding cookie are stored only as hashes).
 *
 * @example
 * ```ts
 * await store.createOAuthTransaction({ stateHash: sha256(state), bindingHash: sha256(cookie), flow: 'website',
 *   kind: 'seller', marketplace: 'US', region: 'na', userRef: 'u1', returnTo: null,
 *   expectedSellingPartnerId: null, pkceVerifier: null, expiresAt: Date.now() + 600_000 });
 * ```
 */
export interface OAuthTransactionInput {
  /** SHA-256 (hex or base64url) of the `state` sent to Amazon; the lookup key. */
  readonly stateHash: string;
  /** SHA-256 of the binding cookie set in the browser. */
  readonly bindingHash: string;
  readonly flow: OAuthFlow;
  readonly kind: PartnerKind;
  readonly marketplace: string;
  readonly region: Region;
  readonly userRef: string | null;
  readonly returnTo: string | null;
  /** Appstore flow and re-authorization: the seller the callback must return. */
  readonly expectedSellingPartnerId: string | null;
  /** PKCE code verifier, stored encrypted; null without PKCE. */
  readonly pkceVerifier: string | null;
  readonly expiresAt: number;
}

/** A stored OAuth transaction, as returned to the one consumer that won it. */
export interface OAuthTransaction extends OAuthTransactionInput {
  readonly createdAt: number;
  readonly consumedAt: number | null;
}

/** Why a transaction or session could not be consumed. */
export type ConsumeFailure = 'not_found' | 'expired' | 'consumed' | 'binding_mismatch';

/**
 * The result of consuming a single-use record: exactly one concurrent consumer gets `ok: true`.
 *
 * @example
 * ```ts
 * const result = await store.consumeOAuthTransaction(sha256(state), sha256(cookie));
 * if (!result.ok) return flowFailure(req, result.reason === 'consumed' ? 'state_used' : 'state_invalid');
 * ```
 */
export type ConsumeResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: ConsumeFailure };

/** `connect`: a website-flow connect link; `appstore`: a pending Appstore session awaiting the app's sign-in. */
export type SessionType = 'connect' | 'appstore';

/**
 * A new single-use session, looked up by the hash of its token.
 *
 * @example
 * ```ts
 * await store.createSession({ tokenHash: sha256(token), type: 'connect', expiresAt: Date.now() + 600_000,
 *   payload: { user_ref: 'u1', marketplace: 'US', kind: 'seller' } });
 * ```
 */
export interface SessionInput {
  readonly tokenHash: string;
  readonly type: SessionType;
  readonly expiresAt: number;
  /** JSON data carried by the session; stored encrypted. */
  readonly payload: Readonly<Record<string, unknown>>;
}

/** A stored session. */
export interface SessionRecord extends SessionInput {
  readonly createdAt: number;
  readonly consumedAt: number | null;
}

/**
 * What a flow carries outside the store, signed: an Appstore OAuth state, a pending Appstore token,
 * and the PKCE verifier derived from a carried state.
 */
export type CarriedPurpose = 'oauth_state' | 'appstore_pending' | 'pkce_verifier';

/** OAuth transactions and single-use sessions. */
export interface FlowStore {
  createOAuthTransaction(input: OAuthTransactionInput): Promise<void>;
  /**
   * Consumes the transaction atomically when the binding hash matches, it is unexpired and not
   * consumed: exactly one of any number of concurrent callers gets `ok: true`.
   */
  consumeOAuthTransaction(stateHash: string, bindingHash: string): Promise<ConsumeResult<OAuthTransaction>>;
  createSession(input: SessionInput): Promise<void>;
  /** Consumes a session of that type atomically (one winner); `binding_mismatch` is never returned. */
  consumeSession(tokenHash: string, type: SessionType): Promise<ConsumeResult<SessionRecord>>;
  /** Deletes transactions and sessions that expired more than `graceMs` (default 1 h) ago; resolves to the count. */
  purgeExpired(graceMs?: number): Promise<number>;
  /**
   * The pending-flow cap: keeps the newest `keep` unconsumed Appstore OAuth transactions and the
   * newest `keep` unconsumed pending Appstore sessions (type `appstore`), deleting the older ones —
   * the expired first, since they are the oldest. Connect links (type `connect`, made with an API
   * key or by an operator) and the website-flow transactions they start are never deleted here.
   * Resolves to the count deleted.
   */
  trimPendingFlows(keep: number): Promise<number>;
  /**
   * A keyed MAC of a value a flow carries in a URL instead of a row (nothing is stored):
   * `<kid>.<base64url HMAC-SHA256>` under a key derived (HKDF-SHA256) from the ring's key `kid`
   * for `purpose`, never the encryption key itself. `kid` defaults to the active key; undefined when
   * the ring has no such key (a value signed before that key was removed).
   */
  carriedMac(purpose: CarriedPurpose, body: string, kid?: string): string | undefined;
  /**
   * The single use of a carried transaction: records it under `input.stateHash` and consumes it, as
   * {@link FlowStore.consumeOAuthTransaction} would. The first call for a state hash wins; any later
   * one, concurrent or not, gets `consumed` (`binding_mismatch` for another binding) until the record
   * is purged, an hour after `expiresAt`.
   */
  claimOAuthTransaction(input: OAuthTransactionInput): Promise<ConsumeResult<OAuthTransaction>>;
  /** The same for a carried session: records it under `input.tokenHash` and consumes it, once. */
  claimSession(input: SessionInput): Promise<ConsumeResult<SessionRecord>>;
}
