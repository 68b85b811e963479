/**
 * The login page (the shared password form, and/or the "Sign in with your identity provider"
 * link of `oidc-routes.ts`) and logout. Failed logins are throttled per client address
 * (`ctx.clientAddress`, the one the OAuth limit uses) with a {@link FailureThrottle}: five failures
 * in a row lock that address out for 30 s, each further failure doubles it up to 15 minutes, and a
 * success clears it. Other addresses are not affected, so wrong passwords from one address lock
 * no operator out; while locked the password is not even checked. Per instance.
 */
import { ADMIN_LOGIN, ADMIN_LOGIN_PAGE, ADMIN_LOGOUT } from './declarations.js';
import { HttpError, httpError, redirect, type ServerResponse } from '../http/request.js';
import { html } from '../http/html.js';
import { FailureThrottle, addressKey } from '../http/limits.js';
import { adminPage } from './layout.js';
import { adminActor, readForm, type AdminKit } from './kit.js';

/**
 * Registers `GET`/`POST /admin/login` and `POST /admin/logout`.
 *
 * @example
 * registerLoginRoutes(kit);
 */
export function registerLoginRoutes(kit: AdminKit): void {
  const { ctx, sessions } = kit;
  const secure = ctx.config.secureCookies;
  const throttle = new FailureThrottle({ now: ctx.now });

  kit.add(ADMIN_LOGIN_PAGE, (req) => {
    if (!kit.enabled) return kit.disabled();
    if (kit.devOpen) return redirect(303, kit.url('/admin'));
    let session = sessions.read(req.header('cookie'));
    if (session?.authenticated) return redirect(303, kit.url('/admin'));
    let cookie: string | undefined;
    if (session === undefined) ({ session, cookie } = sessions.issue(false));
    const failed = new URLSearchParams(req.rawQuery).get('failed') === '1';
    const methods = { password: sessions.passwordRequired, oidc: kit.oidc !== undefined };
    return loginPage(sessions.csrfToken(session), failed, secure, kit.base, methods, cookie);
  });

  kit.add(ADMIN_LOGIN, async (req) => {
    const form = await readForm(req);
    kit.checkPost(req, form, false);
    const key = `password:${addressKey(ctx.clientAddress(req))}`;
    const allowed = throttle.check(key);
    if (!allowed.allowed) {
      throw httpError(
        'login_throttled',
        `Too many failed logins from this address; wait ${allowed.retryAfterS} seconds before trying again.`,
        { 'retry-after': String(allowed.retryAfterS) },
      );
    }
    if (!sessions.checkPassword(form.get('password') ?? '')) {
      const lockMs = throttle.failure(key);
      ctx.log.warn('admin login failed', {
        route: '/admin/login',
        ...(lockMs > 0 ? { code: 'login_throttled' } : {}),
      });
      return redirect(303, kit.url('/admin/login?failed=1'));
    }
    throttle.success(key);
    const { session, cookie } = sessions.issue(true);
    ctx.audit.add({ action: 'admin.login', actor: adminActor(session), outcome: 'ok' });
    return redirect(303, kit.url('/admin'), { 'set-cookie': cookie });
  });

  kit.add(ADMIN_LOGOUT, async (req) => {
    const session = kit.checkPost(req, await readForm(req));
    // Ended on the server too: a copy of the cookie is refused on every instance from now on.
    await ctx.revocations.revokeAdminSession(session.id, session.expiresAt);
    ctx.audit.add({ action: 'admin.logout', actor: adminActor(session), outcome: 'ok' });
    return redirect(303, kit.url(kit.devOpen ? '/admin' : '/admin/login'), {
      'set-cookie': sessions.clear(),
    });
  });
}

function loginPage(
  csrf: string,
  failed: boolean,
  secure: boolean,
  base: string,
  methods: { password: boolean; oidc: boolean },
  cookie?: string,
): ServerResponse {
  return adminPage({
    title: 'Log in',
    section: 'login',
    secure,
    base,
    showNav: false,
    status: 200,
    ...(cookie !== undefined ? { headers: { 'set-cookie': cookie } } : {}),
    body: html`<div class="card login">
      <h1>Admin dashboard</h1>
      ${failed ? html`<p class="err">That password is not right.</p>` : ''}
      ${
        methods.oidc
          ? html`<p>
              <a class="btn" id="oidc-sign-in" href="${base}/admin/oidc/start"
                >Sign in with your identity provider</a
              >
            </p>`
          : ''
      }
      ${methods.password && methods.oidc ? html`<p class="small muted">or with the shared password:</p>` : ''}
      ${methods.password ? passwordForm(csrf, base) : ''}
    </div>`,
  });
}

function passwordForm(csrf: string, base: string) {
  return html`<form method="post" action="${base}/admin/login">
    <input type="hidden" name="csrf" value="${csrf}" />
    <label for="password">Password</label>
    <input id="password" type="password" name="password" autocomplete="current-password" required autofocus />
    <p><button class="btn" type="submit">Log in</button></p>
  </form>`;
}
