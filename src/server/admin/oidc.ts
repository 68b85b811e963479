/**
 * Admin sign-in with the company's identity provider (OpenID Connect), through `openid-client`:
 * the authorization code flow with PKCE (S256), `state` and `nonce`; the ID token's issuer,
 * audience, expiry, nonce and signature (against the issuer's JWKS) are checked by the library.
 * What is left here is the allow-list: who, among the provider's users, may use the dashboard.
 *
 * The provider's metadata is discovered on the first sign-in (and again after a failure), so an
 * unreachable provider never stops the service from starting.
 */
import * as oidc from 'openid-client';
import type { AdminOidcAllowList } from '../../config.js';
import { printableOnly } from '../../core/printable.js';

/** What the callback must be checked against (kept in the browser's signed sign-in cookie). */
export interface OidcChecks {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

/** The outcome of a callback. */
export type OidcResult =
  | { readonly ok: true; readonly operator: string; readonly account: string }
  | {
      readonly ok: false;
      readonly reason: 'not_allowed';
      /** Who the provider vouches for (verified e-mail, else subject), for the page and the audit. */
      readonly who: string;
      readonly account: string;
    };

/** A refusal of the provider's answer: `code` is an HTTP error code of the dashboard. */
export class OidcSignInError extends Error {
  override name = 'OidcSignInError';
  constructor(
    readonly code: 'oidc_denied' | 'oidc_state_mismatch' | 'oidc_invalid_response' | 'oidc_unavailable',
    message: string,
  ) {
    super(message);
  }
}

/** The claims the allow-list reads. */
export interface OperatorClaims {
  readonly sub: string;
  readonly email?: unknown;
  readonly email_verified?: unknown;
  readonly groups?: unknown;
}

/**
 * Whether the allow-list admits these ID token claims: a verified e-mail listed as such or in a
 * listed `@domain`, or a listed `group:` among the `groups` claim. An unverified e-mail matches
 * nothing.
 *
 * @example
 * isAllowedOperator({ sub: '1', email: 'a@example.com', email_verified: true }, allow); // true with '@example.com'
 */
export function isAllowedOperator(claims: OperatorClaims, allow: AdminOidcAllowList): boolean {
  const email = verifiedEmailOf(claims);
  if (email !== undefined) {
    if (allow.emails.includes(email)) return true;
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (allow.domains.includes(domain)) return true;
  }
  const groups = Array.isArray(claims.groups) ? claims.groups : [];
  return groups.some((g) => typeof g === 'string' && allow.groups.includes(g));
}

/** The operator's name in sessions and the audit log: the verified e-mail, else `sub:<subject>`. */
export function operatorNameOf(claims: OperatorClaims): string {
  return clip(verifiedEmailOf(claims) ?? `sub:${claims.sub}`);
}

/**
 * The account the provider verified, as the sign-in throttle's key: its subject, which the ID
 * token's signature vouches for. Never an e-mail claim: an unverified `email` naming an admin
 * would otherwise let anyone's failed sign-ins lock that admin out.
 */
export function accountOf(claims: OperatorClaims): string {
  return clip(`sub:${claims.sub}`);
}

function verifiedEmailOf(claims: OperatorClaims): string | undefined {
  // Some providers send the flag as the string "true".
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  if (!verified || typeof claims.email !== 'string') return undefined;
  return canonicalEmail(claims.email);
}

/**
 * An e-mail address as the allow-list compares it: ASCII letters lower-cased; or undefined for an
 * address that Unicode normalisation (NFKC) or case folding would change beyond that. Lower-casing
 * alone maps the Kelvin sign (U+212A) to `k`, the dotted capital I (U+0130) to `i̇` and NFKC maps
 * a full-width `ｋ` to `k`, so such an address would match an allowed `kim@example.com` that the
 * provider never verified for Kim. The allow-list itself is printable ASCII (config), so a refused
 * address could only ever have matched by such a fold.
 *
 * @example
 * canonicalEmail('Kim@Example.com'); // 'kim@example.com'
 * canonicalEmail('\u212Aim@example.com'); // undefined
 */
export function canonicalEmail(raw: string): string | undefined {
  if (!/^[^@\s]+@[^@\s]+$/.test(raw)) return undefined;
  const asciiLowered = raw.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  return raw.normalize('NFKC').toLowerCase() === asciiLowered ? asciiLowered : undefined;
}

function clip(name: string): string {
  // Printable ASCII only and bounded: it goes into a cookie, the audit log and pages.
  return printableOnly(name, '?', true).slice(0, 200);
}

/** Settings of {@link createOidcSignIn}. */
export interface OidcSignInOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** `<public URL>/admin/oidc/callback`, registered at the provider. */
  readonly redirectUri: string;
  readonly allow: AdminOidcAllowList;
  /** Plain http to the provider: only for an issuer on a loopback host (config checks it). */
  readonly allowInsecure: boolean;
}

/** The two steps of a sign-in. */
export interface OidcSignIn {
  /** The provider's authorization URL for a new sign-in, and the checks to keep for its callback. */
  start(): Promise<{ url: string; checks: OidcChecks }>;
  /** Verifies the callback (`currentUrl`, with `code` and `state`) against `checks`. */
  finish(currentUrl: URL, checks: OidcChecks): Promise<OidcResult>;
}

/**
 * The sign-in of one configured provider.
 *
 * @example
 * const signIn = createOidcSignIn({ issuer, clientId, clientSecret, redirectUri, allow, allowInsecure: false });
 * const { url, checks } = await signIn.start();
 */
export function createOidcSignIn(opts: OidcSignInOptions): OidcSignIn {
  let discovered: Promise<oidc.Configuration> | undefined;
  const configuration = (): Promise<oidc.Configuration> => {
    discovered ??= oidc
      .discovery(
        new URL(opts.issuer),
        opts.clientId,
        { client_secret: opts.clientSecret, id_token_signed_response_alg: 'RS256' },
        oidc.ClientSecretBasic(opts.clientSecret),
        {
          timeout: 10,
          execute: [
            // The ID token's signature is checked against the issuer's JWKS, not only trusted
            // because it came over TLS.
            oidc.enableNonRepudiationChecks,
            ...(opts.allowInsecure ? [oidc.allowInsecureRequests] : []),
          ],
        },
      )
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  };
  const unavailable = (): OidcSignInError =>
    new OidcSignInError('oidc_unavailable', 'The identity provider cannot be reached; try again shortly.');

  return {
    async start() {
      let config: oidc.Configuration;
      try {
        config = await configuration();
      } catch {
        throw unavailable();
      }
      const checks: OidcChecks = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        codeVerifier: oidc.randomPKCECodeVerifier(),
      };
      // `groups` only where the provider lists it (Okta); others refuse unknown scopes.
      const groupsScope = config.serverMetadata().scopes_supported?.includes('groups') === true;
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: opts.redirectUri,
        response_type: 'code',
        scope: `openid email profile${groupsScope ? ' groups' : ''}`,
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url: url.href, checks };
    },

    async finish(currentUrl, checks) {
      let config: oidc.Configuration;
      try {
        config = await configuration();
      } catch {
        throw unavailable();
      }
      const params = currentUrl.searchParams;
      if (params.get('state') !== checks.state) {
        throw new OidcSignInError(
          'oidc_state_mismatch',
          'This sign-in does not match the one this browser started; start again.',
        );
      }
      if (params.has('error')) {
        throw new OidcSignInError('oidc_denied', 'The identity provider did not sign you in.');
      }
      let claims: oidc.IDToken | undefined;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
        claims = tokens.claims();
      } catch (err) {
        if (isNetworkError(err)) throw unavailable();
        throw new OidcSignInError(
          'oidc_invalid_response',
          'The identity provider’s answer could not be verified; start again.',
        );
      }
      if (claims === undefined) {
        throw new OidcSignInError('oidc_invalid_response', 'The identity provider sent no ID token.');
      }
      const account = accountOf(claims);
      if (!isAllowedOperator(claims, opts.allow)) {
        return { ok: false, reason: 'not_allowed', who: operatorNameOf(claims), account };
      }
      return { ok: true, operator: operatorNameOf(claims), account };
    },
  };
}

function isNetworkError(err: unknown): boolean {
  // fetch failures (refused, reset, timeout) surface as TypeError / AbortError / TimeoutError.
  return err instanceof TypeError || (err instanceof Error && /^(AbortError|TimeoutError)$/.test(err.name));
}
