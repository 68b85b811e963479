/**
 * The login form (shared password) and logout. Failed logins are throttled per process: after
 * {@link LOGIN_FAILURES_PER_MINUTE} failures in a minute every attempt gets a 429 for the rest of it.
 */
import { HttpError, redirect, type ServerResponse } from '../http/request.js';
import { html } from '../http/html.js';
import { adminPage } from './layout.js';
import { readForm, type AdminKit } from './kit.js';

const LOGIN_FAILURES_PER_MINUTE = 10;

/**
 * Registers `GET`/`POST /admin/login` and `POST /admin/logout`.
 *
 * @example
 * registerLoginRoutes(kit);
 */
export function registerLoginRoutes(kit: AdminKit): void {
  const { ctx, sessions } = kit;
  const secure = ctx.config.secureCookies;
  let failures: number[] = [];

  kit.add('GET', '/admin/login', (req) => {
    if (!kit.enabled) return kit.disabled();
    if (kit.devOpen) return redirect(303, '/admin');
    let session = sessions.read(req.header('cookie'));
    if (session?.authenticated) return redirect(303, '/admin');
    let cookie: string | undefined;
    if (session === undefined) ({ session, cookie } = sessions.issue(false));
    const failed = new URLSearchParams(req.rawQuery).get('failed') === '1';
    return loginPage(sessions.csrfToken(session), failed, secure, cookie);
  });

  kit.add('POST', '/admin/login', async (req) => {
    const form = await readForm(req);
    kit.checkPost(req, form, false);
    const at = ctx.now();
    failures = failures.filter((t) => at - t < 60_000);
    if (failures.length >= LOGIN_FAILURES_PER_MINUTE) {
      throw new HttpError(429, 'rate_limited', 'Too many failed logins; wait a minute.', {
        'retry-after': '60',
      });
    }
    if (!sessions.checkPassword(form.get('password') ?? '')) {
      failures.push(at);
      ctx.log.warn('admin login failed', { route: '/admin/login' });
      return redirect(303, '/admin/login?failed=1');
    }
    const { cookie } = sessions.issue(true);
    ctx.audit.add({ action: 'admin.login', actor: 'admin', outcome: 'ok' });
    return redirect(303, '/admin', { 'set-cookie': cookie });
  });

  kit.add('POST', '/admin/logout', async (req) => {
    const session = kit.checkPost(req, await readForm(req));
    // Ended on the server too: a copy of the cookie is refused on every instance from now on.
    await ctx.revocations.revokeAdminSession(session.id, session.expiresAt);
    ctx.audit.add({ action: 'admin.logout', actor: 'admin', outcome: 'ok' });
    return redirect(303, kit.devOpen ? '/admin' : '/admin/login', { 'set-cookie': sessions.clear() });
  });
}

function loginPage(csrf: string, failed: boolean, secure: boolean, cookie?: string): ServerResponse {
  return adminPage({
    title: 'Log in',
    section: 'login',
    secure,
    showNav: false,
    status: 200,
    ...(cookie !== undefined ? { headers: { 'set-cookie': cookie } } : {}),
    body: html`<div class="card login">
      <h1>Admin dashboard</h1>
      ${failed ? html`<p class="err">That password is not right.</p>` : ''}
      <form method="post" action="/admin/login">
        <input type="hidden" name="csrf" value="${csrf}" />
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          name="password"
          autocomplete="current-password"
          required
          autofocus
        />
        <p><button class="btn" type="submit">Log in</button></p>
      </form>
    </div>`,
  });
}
