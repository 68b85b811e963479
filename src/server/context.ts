/**
 * What every route module receives: the configuration, the store, the gateway to Amazon (core), the
 * API-key authenticator, the audit buffer, the logger and the clock. Built once by `createApp`.
 */
import type { AccessToken, Marketplace, PartnerKind, SellerTokenKey } from '../core/index.js';
import type { RestrictedDataTokenRequest } from '../core/rdt.js';
import type { RestrictedDataToken } from '../core/token-manager.js';
import type { Config } from '../config.js';
import type { Store } from '../storage/store.js';
import type { ApiKeyAuthenticator } from './tokens/api-keys.js';
import type { RevocationFeed } from './revocations.js';
import type { AuditBuffer } from './ops/audit.js';
import type { Logger } from './http/log.js';
import type { ClientAddress, PeerAndHeaders } from './http/client-address.js';
import type { LimitDecision } from './http/limits.js';
import type { PendingFlowCap } from './flows/pending-cap.js';

/** The refresh and access token returned by a code exchange. */
export interface ExchangedTokens {
  readonly refreshToken: string;
  readonly accessToken: AccessToken;
}

/** Whose token request it is: a caller's (default) or the service's own. */
export interface TokenUseOptions {
  readonly use?: 'caller' | 'service';
}

/**
 * Everything the service asks of Amazon, implemented over the core library (`amazon.ts`). Errors
 * are the core's typed errors (`LwaError`, `AuthorizationError`, `SpApiError`).
 */
export interface AmazonGateway {
  /** The consent page URL (Seller or Vendor Central of the marketplace, or the emulator). */
  consentUrl(input: {
    readonly marketplace: Marketplace;
    readonly kind: PartnerKind;
    readonly state: string;
    readonly codeChallenge?: string;
  }): string;
  /** Exchanges an authorization code once, with the configured redirect URI. */
  exchangeCode(input: { readonly code: string; readonly codeVerifier?: string }): Promise<ExchangedTokens>;
  /** The access token cached in memory and not due for refresh, or undefined; synchronous, for the hot path. */
  peekAccessToken(sellingPartnerId: string, region: SellerTokenKey['region']): AccessToken | undefined;
  /**
   * An access token for a seller: memory, then the store, then one refresh cluster-wide. A use of
   * the seller (it keeps the seller in the refresher's hot set) unless `use: 'service'`: a token
   * for the service's own work, such as the profile sweep.
   */
  getAccessToken(key: SellerTokenKey, options?: TokenUseOptions): Promise<AccessToken>;
  getGrantlessToken(scope: string): Promise<AccessToken>;
  getRestrictedDataToken(
    key: SellerTokenKey,
    request: RestrictedDataTokenRequest,
  ): Promise<RestrictedDataToken>;
  /** Drops whatever is cached in memory for a seller (after deletion or re-authorization). */
  forget(key: SellerTokenKey): void;
  /**
   * Drops an access token SP-API refused before its expiry, here and in the store, if it is the one
   * held (the next `getAccessToken` refreshes once); a newer one is kept.
   */
  invalidateAccessToken?(key: SellerTokenKey, accessToken: string): Promise<void>;
  /** One LWA call with our client id and `clientSecret`; throws the core's `LwaError` unless LWA accepts it. */
  verifyClientSecret(clientSecret: string): Promise<void>;
  /** The SP-API base URL of a region as callers should use it. */
  endpoint(region: SellerTokenKey['region']): string;
  /**
   * One SP-API GET at a region's endpoint with a given access token (the seller's profile right
   * after the code exchange, before anything is stored). 429s are retried within the core's bounds.
   */
  callSpApi(input: {
    readonly sellingPartnerId: string;
    readonly region: SellerTokenKey['region'];
    readonly accessToken: string;
    readonly path: string;
  }): Promise<Response>;
}

/** Shared dependencies of the route modules. */
export interface ServiceContext {
  readonly config: Config;
  readonly store: Store;
  readonly amazon: AmazonGateway;
  readonly keys: ApiKeyAuthenticator;
  /** The cluster's revocations (admin logout, revoked keys, deleted sellers) as this process knows them. */
  readonly revocations: RevocationFeed;
  readonly audit: AuditBuffer;
  readonly log: Logger;
  readonly now: () => number;
  /**
   * The client's address, for limits and logs (never for URLs): the socket peer, or the right-most
   * untrusted `X-Forwarded-For` entry when the peer is a trusted proxy (`http/client-address.ts`).
   */
  readonly clientAddress: ClientAddress;
  /**
   * Spends one request of the client address's allowance on the routes anyone can reach that write
   * rows (`SPAPI_AUTH_OAUTH_RATE_LIMIT`; one bucket per address, shared by those routes, per instance).
   */
  readonly oauthLimit: (req: PeerAndHeaders) => LimitDecision;
  /** The pending-flow cap (`SPAPI_AUTH_MAX_PENDING_FLOWS`): told of every transaction and pending Appstore session created. */
  readonly pendingFlows: PendingFlowCap;
}
