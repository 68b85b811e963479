/**
 * Admin sessions and CSRF tokens, stateless so that every instance behind a load balancer accepts
 * them: the session cookie is `v1.<expiry>.<session id>.<auth>.<HMAC>` and the CSRF token of a
 * session is an HMAC of its id (a synchronizer token no other site can read or compute). `<auth>`
 * is `0` (anonymous: the login form), `1` (signed in with the password) or `u<operator>` (signed in
 * through the OpenID provider; the operator's e-mail, base64url). The key is derived with scrypt
 * from `SPAPI_AUTH_ADMIN_PASSWORD` and, when OIDC sign-in is on, its client secret (changing either
 * ends every session); in dev without either it is random per process.
 *
 * Logout also records the session id as revoked in the store (`../revocations.ts`), which every
 * instance reads within a second: a copied cookie stops working when its owner logs out.
 *
 * The cookie is `HttpOnly; SameSite=Strict; Path=/admin` (`Path=/auth/admin` under a public path
 * prefix `/auth`; and `Secure` on https): it is never sent on a cross-site request, never readable
 * by a script, and never sent to the OAuth or API routes.
 */
import { createHash, createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readCookie } from '../http/cookies.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'spapi_admin';
/** How long a login lasts. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** How long an anonymous session (login form) lasts. */
const ANON_TTL_MS = 30 * 60 * 1000;

/** The operator of a password sign-in (and of the password-less dev dashboard: `dev`). */
export const PASSWORD_OPERATOR = 'password';

/** A verified session. */
export interface AdminSession {
  readonly id: string;
  readonly authenticated: boolean;
  readonly expiresAt: number;
  /** Who signed in: `password`, `dev`, or the OpenID provider's verified e-mail (or `sub:<id>`); undefined when anonymous. */
  readonly operator?: string;
}

function mac(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Issues and verifies admin sessions.
 *
 * @example
 * const sessions = new AdminSessions({ password: config.adminPassword, secure: config.secureCookies });
 * const s = sessions.read(req.header('cookie'));
 */
export class AdminSessions {
  private readonly key: Buffer;
  private readonly passwordDigest: Buffer | undefined;
  private readonly now: () => number;
  private readonly secure: boolean;
  private readonly isRevoked: (id: string) => boolean;
  private readonly cookiePath: string;

  /**
   * `isRevoked`: whether a session was logged out (server-side revocation; none by default);
   * `cookiePath`: the dashboard's path as browsers see it (default `/admin`; `/auth/admin` under
   * a public path prefix).
   */
  constructor(opts: {
    password: string | undefined;
    /** The OIDC client secret, when OIDC sign-in is on: part of the key. */
    oidcSecret?: string | undefined;
    secure: boolean;
    now?: () => number;
    isRevoked?: (id: string) => boolean;
    cookiePath?: string;
  }) {
    this.cookiePath = opts.cookiePath ?? '/admin';
    this.now = opts.now ?? Date.now;
    this.secure = opts.secure;
    this.isRevoked = opts.isRevoked ?? ((): boolean => false);
    // scrypt makes guessing the password from a stolen cookie as slow as guessing it at the form.
    const params = { N: 16384, r: 8, p: 1 };
    this.key =
      opts.oidcSecret !== undefined
        ? scryptSync(
            `${opts.password ?? ''}\u0000${opts.oidcSecret}`,
            'spapi-auth admin session v1 oidc',
            32,
            params,
          )
        : opts.password === undefined
          ? randomBytes(32)
          : scryptSync(opts.password, 'spapi-auth admin session v1', 32, params);
    this.passwordDigest =
      opts.password === undefined ? undefined : createHash('sha256').update(opts.password).digest();
  }

  /** Whether a password protects the dashboard. */
  get passwordRequired(): boolean {
    return this.passwordDigest !== undefined;
  }

  /** Constant-time check of a submitted password (digests of equal length are compared). */
  checkPassword(candidate: string): boolean {
    if (this.passwordDigest === undefined) return false;
    const digest = createHash('sha256').update(candidate).digest();
    return timingSafeEqual(digest, this.passwordDigest);
  }

  /**
   * A new session (a new id at login, so a planted anonymous cookie cannot be promoted).
   * `operator`: who signed in (default `password`); ignored for an anonymous session.
   */
  issue(
    authenticated: boolean,
    operator: string = PASSWORD_OPERATOR,
  ): { session: AdminSession; cookie: string } {
    const session: AdminSession = {
      id: randomBytes(18).toString('base64url'),
      authenticated,
      expiresAt: this.now() + (authenticated ? SESSION_TTL_MS : ANON_TTL_MS),
      ...(authenticated ? { operator } : {}),
    };
    const auth = !authenticated
      ? '0'
      : operator === PASSWORD_OPERATOR
        ? '1'
        : `u${Buffer.from(operator).toString('base64url')}`;
    const body = `v1.${Math.floor(session.expiresAt / 1000)}.${session.id}.${auth}`;
    const value = `${body}.${mac(this.key, body)}`;
    return { session, cookie: this.cookie(value, Math.floor((session.expiresAt - this.now()) / 1000)) };
  }

  /** The `Set-Cookie` value that ends the session. */
  clear(): string {
    return this.cookie('', 0);
  }

  /** The session of a `Cookie` header, or undefined when absent, forged or expired. */
  read(cookieHeader: string | undefined): AdminSession | undefined {
    const value = readCookie(cookieHeader, SESSION_COOKIE);
    if (value === undefined || value.length > 600) return undefined;
    const parts = value.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') return undefined;
    const body = parts.slice(0, 4).join('.');
    if (!sameString(parts[4]!, mac(this.key, body))) return undefined;
    const expiresAt = Number(parts[1]) * 1000;
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= this.now()) return undefined;
    if (this.isRevoked(parts[2]!)) return undefined;
    const auth = parts[3]!;
    if (auth === '0') return { id: parts[2]!, authenticated: false, expiresAt };
    if (auth === '1') return { id: parts[2]!, authenticated: true, expiresAt, operator: PASSWORD_OPERATOR };
    if (!/^u[A-Za-z0-9_-]+$/.test(auth)) return undefined;
    const operator = Buffer.from(auth.slice(1), 'base64url').toString('utf8');
    return { id: parts[2]!, authenticated: true, expiresAt, operator };
  }

  /**
   * A signed value for another admin cookie (the OIDC sign-in's checks): `<expiry>.<payload>.<HMAC>`,
   * the HMAC bound to `purpose` so a value made for one use is refused for any other.
   */
  seal(purpose: string, payload: string, ttlMs: number): string {
    const body = `${Math.floor((this.now() + ttlMs) / 1000)}.${Buffer.from(payload).toString('base64url')}`;
    return `${body}.${mac(this.key, `${purpose}.${body}`)}`;
  }

  /** The payload of a {@link seal}ed value, or undefined when forged, made for another purpose, or expired. */
  unseal(purpose: string, value: string | undefined): string | undefined {
    if (value === undefined || value.length > 2000) return undefined;
    const parts = value.split('.');
    if (parts.length !== 3) return undefined;
    const body = `${parts[0]}.${parts[1]}`;
    if (!sameString(parts[2]!, mac(this.key, `${purpose}.${body}`))) return undefined;
    const expiresAt = Number(parts[0]) * 1000;
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= this.now()) return undefined;
    return Buffer.from(parts[1]!, 'base64url').toString('utf8');
  }

  /** The CSRF token of a session, to put in every form. */
  csrfToken(session: AdminSession): string {
    return mac(this.key, `csrf.${session.id}`);
  }

  /** Whether `token` is the CSRF token of `session`. */
  checkCsrf(session: AdminSession | undefined, token: string | null | undefined): boolean {
    if (session === undefined || typeof token !== 'string' || token.length > 100) return false;
    return sameString(token, this.csrfToken(session));
  }

  private cookie(value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; Path=${this.cookiePath}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${
      this.secure ? '; Secure' : ''
    }`;
  }
}
