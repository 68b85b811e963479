/**
 * The routes of the admin sign-in through the OpenID provider (`oidc.ts`):
 *
 * - `GET /admin/oidc/start` sends the browser to the provider, keeping the sign-in's `state`,
 *   `nonce` and PKCE verifier in a signed cookie `spapi_admin_oidc` (`HttpOnly; SameSite=Lax;
 *   Path=/admin/oidc`, 10 minutes): Lax because the provider's redirect back is a cross-site
 *   navigation. A link, not a form: the dashboard's CSP (`form-action 'self'`) would block a
 *   form's redirect to the provider.
 * - `GET /admin/oidc/callback` checks the answer against that cookie and the allow-list, then sets
 *   the session cookie. It answers with a page that moves on to `/admin` itself (meta refresh)
 *   instead of a redirect: the session cookie is `SameSite=Strict`, and browsers do not send it on
 *   a redirect that a cross-site navigation (the provider's) started.
 *
 * Failed sign-ins are throttled with the password form's {@link FailureThrottle} rules, per
 * account (the provider's subject — the one identity its signature vouches for) and per client address (for
 * answers that fail a check, where the account is not known): five failures in a row lock the key
 * out for 30 s, doubling up to 15 minutes; a successful sign-in clears both.
 */
import { ADMIN_OIDC_CALLBACK, ADMIN_OIDC_START } from './declarations.js';
import { HttpError, httpError, type ServerResponse } from '../http/request.js';
import { html } from '../http/html.js';
import { readCookie } from '../http/cookies.js';
import { FailureThrottle, addressKey } from '../http/limits.js';
import { adminPage } from './layout.js';
import { adminActor, type AdminKit } from './kit.js';
import { OidcSignInError, type OidcChecks } from './oidc.js';

/** The sign-in cookie's name. */
export const OIDC_COOKIE = 'spapi_admin_oidc';
const OIDC_TTL_MS = 10 * 60 * 1000;
const PURPOSE = 'oidc-sign-in';

/**
 * Registers `GET /admin/oidc/start` and `GET /admin/oidc/callback` when OIDC sign-in is on.
 *
 * @example
 * registerOidcRoutes(kit);
 */
export function registerOidcRoutes(kit: AdminKit): void {
  const { ctx, sessions, oidc } = kit;
  if (oidc === undefined) return;
  const secure = ctx.config.secureCookies;
  const cookie = (value: string, maxAge: number): string =>
    `${OIDC_COOKIE}=${value}; Path=${kit.base}/admin/oidc; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  const clearCookie = cookie('', 0);
  const throttle = new FailureThrottle({ now: ctx.now });
  const refuseIfLocked = (key: string): void => {
    const d = throttle.check(key);
    if (!d.allowed) {
      throw httpError(
        'login_throttled',
        `Too many failed sign-ins; wait ${d.retryAfterS} seconds before trying again.`,
        { 'retry-after': String(d.retryAfterS), 'set-cookie': clearCookie },
      );
    }
  };

  kit.add(ADMIN_OIDC_START, async (req) => {
    refuseIfLocked(`oidc-address:${addressKey(ctx.clientAddress(req))}`);
    const { url, checks } = await oidc.start().catch(rethrow(clearCookie));
    const value = sessions.seal(PURPOSE, JSON.stringify(checks), OIDC_TTL_MS);
    return {
      status: 303,
      headers: {
        location: url,
        'cache-control': 'no-store',
        'set-cookie': cookie(value, OIDC_TTL_MS / 1000),
      },
      body: '',
    };
  });

  kit.add(ADMIN_OIDC_CALLBACK, async (req) => {
    const addressLimitKey = `oidc-address:${addressKey(ctx.clientAddress(req))}`;
    refuseIfLocked(addressLimitKey);
    const checks = checksOf(sessions.unseal(PURPOSE, readCookie(req.header('cookie'), OIDC_COOKIE)));
    if (checks === undefined) {
      throttle.failure(addressLimitKey);
      throw httpError('oidc_state_mismatch', undefined, { 'set-cookie': clearCookie });
    }
    const current = new URL(`${ctx.config.adminOidcRedirectUri}${req.rawQuery ? `?${req.rawQuery}` : ''}`);
    const result = await oidc.finish(current, checks).catch((err: unknown) => {
      if (err instanceof OidcSignInError) {
        if (err.code !== 'oidc_unavailable') throttle.failure(addressLimitKey);
        ctx.audit.add({ action: 'admin.login', actor: 'oidc', outcome: err.code });
        ctx.log.warn('admin oidc sign-in refused', { route: '/admin/oidc/callback', code: err.code });
      }
      return rethrow(clearCookie)(err);
    });
    // The provider's subject: an unverified e-mail claim names nobody, so it throttles nobody.
    const accountLimitKey = `oidc-account:${result.account}`;
    refuseIfLocked(accountLimitKey);
    if (!result.ok) {
      throttle.failure(accountLimitKey);
      ctx.audit.add({ action: 'admin.login', actor: `oidc:${result.who}`, outcome: 'not_allowed' });
      ctx.log.warn('admin oidc sign-in refused', {
        route: '/admin/oidc/callback',
        code: 'admin_not_allowed',
      });
      throw httpError(
        'admin_not_allowed',
        `${result.who} signed in at the identity provider, but is not allowed to use this dashboard. Ask an administrator to add you to SPAPI_AUTH_ADMIN_OIDC_ALLOWED.`,
        { 'set-cookie': clearCookie },
      );
    }
    throttle.success(accountLimitKey);
    throttle.success(addressLimitKey);
    const { session, cookie: sessionCookie } = sessions.issue(true, result.operator);
    ctx.audit.add({
      action: 'admin.login',
      actor: adminActor(session),
      outcome: 'ok',
      details: { method: 'oidc' },
    });
    return signedInPage(secure, kit.base, [sessionCookie, clearCookie]);
  });
}

function checksOf(payload: string | undefined): OidcChecks | undefined {
  if (payload === undefined) return undefined;
  try {
    const v = JSON.parse(payload) as Record<string, unknown>;
    if (typeof v.state === 'string' && typeof v.nonce === 'string' && typeof v.codeVerifier === 'string') {
      return { state: v.state, nonce: v.nonce, codeVerifier: v.codeVerifier };
    }
  } catch {
    // a sealed value is always JSON; fall through
  }
  return undefined;
}

/** Maps a sign-in refusal to the dashboard's error page (which also clears the sign-in cookie). */
function rethrow(clearCookie: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof OidcSignInError) {
      const headers = { 'set-cookie': clearCookie };
      throw httpError(err.code, err.message, headers);
    }
    throw err;
  };
}

/** The page after a sign-in: moves on to the dashboard by itself (same-site, so the Strict cookie goes). */
function signedInPage(secure: boolean, base: string, cookies: readonly string[]): ServerResponse {
  const res = adminPage({
    title: 'Signed in',
    section: 'login',
    secure,
    base,
    showNav: false,
    body: html`<div class="card login">
      <h1>Signed in</h1>
      <p><a class="btn" id="continue" href="${base}/admin">Continue to the dashboard</a></p>
    </div>`,
  });
  res.headers['refresh'] = `0;url=${base}/admin`;
  res.headers['set-cookie'] = cookies;
  return res;
}
