/**
 * The token API's JSON bodies as the service sends them (snake_case, dates as ISO strings), one
 * interface per schema of its OpenAPI description (`GET /openapi.json`, `docs/openapi.json`); a test
 * compares each interface's fields and their optionality with that document.
 */
import type { Region } from '../core/marketplaces.js';

/** `AccessToken`: `GET /v1/sellers/:id/access-token`. */
export interface AccessTokenBody {
  readonly access_token: string;
  readonly expires_at: string;
  readonly region: Region;
  readonly endpoint: string;
}

/** `GrantlessToken`: `POST /v1/grantless-tokens`. */
export interface GrantlessTokenBody {
  readonly access_token: string;
  readonly expires_at: string;
}

/** `RestrictedDataToken`: `POST /v1/sellers/:id/restricted-data-tokens`. */
export interface RestrictedDataTokenBody {
  readonly restricted_data_token: string;
  readonly expires_at: string;
}

/** Where an authorization stands (`SellerStatus`). */
export type SellerStatus = 'active' | 'reauthorization_required';

/** The last refresh failure of an authorization. */
export interface SellerLastError {
  readonly code: string;
  readonly message: string | null;
  readonly at: string;
}

/** `Authorization`: one seller in one region, an item of `GET /v1/sellers`. */
export interface Authorization {
  readonly selling_partner_id: string;
  readonly region: Region;
  readonly status: SellerStatus;
  readonly kind: 'seller' | 'vendor';
  readonly user_ref: string | null;
  readonly marketplace: string | null;
  readonly authorized_at: string;
  readonly reauthorize_by: string;
  readonly last_refresh_at: string | null;
  readonly last_error: SellerLastError | null;
}

/** A marketplace of a seller's profile, as SP-API reported it. */
export interface SellerMarketplace {
  readonly id: string;
  readonly country: string;
  readonly name: string;
  readonly participating: boolean;
  readonly suspended_listings: boolean;
}

/** `AuthorizationDetail`: one region of `GET /v1/sellers/:id`, with the profile read from SP-API. */
export interface AuthorizationDetail extends Authorization {
  readonly store_name: string | null;
  readonly marketplaces: readonly SellerMarketplace[] | null;
  readonly profile_fetched_at: string | null;
}

/** `SellerPage`: a page of `GET /v1/sellers`. */
export interface SellerPage {
  readonly items: readonly Authorization[];
  readonly next_cursor: string | null;
}

/** `Seller`: `GET /v1/sellers/:id`. */
export interface Seller {
  readonly selling_partner_id: string;
  readonly status: SellerStatus;
  readonly kind: 'seller' | 'vendor';
  readonly user_ref: string | null;
  readonly regions: readonly Region[];
  readonly authorizations: readonly AuthorizationDetail[];
}
