/**
 * The admin dashboard (`/admin`): sellers with search, status filter and cursor pages; a seller's
 * detail with its audit trail and a delete action; "Connect a seller"; LWA health; a 24-hour chart
 * of refreshes and errors; the webhook outbox with a retry action.
 *
 * Access: with `SPAPI_AUTH_ADMIN_PASSWORD`, a login form and a stateless signed session cookie
 * (`session.ts`); in dev without a password, open to requests addressed to localhost only; in
 * `serve` without a password, disabled. Every POST needs the session's CSRF token (and, when the
 * browser sends one, a same-origin `Origin`); every value is escaped by the `html` tag.
 */
import { MARKETPLACES, findMarketplace, isRegion } from '../../core/marketplaces.js';
import type { SellerRecord, SellerStatus, OutboxState } from '../../storage/store.js';
import type { ServiceContext } from '../context.js';
import { createFlowSession } from '../flows/flows.js';
import { HttpError, redirect, type ServerRequest, type ServerResponse } from '../http/request.js';
import type { ServiceMetrics } from '../ops/metrics.js';
import { html, type SafeHtml } from '../http/html.js';
import type { ClientSecretRing } from '../ops/rotation.js';
import type { RouteHandler, Router } from '../http/router.js';
import { deleteSellerAuthorizations } from '../sellers/delete.js';
import { USER_REF } from '../http/validate.js';
import { REAUTHORIZE_AFTER_MS } from '../ops/webhooks.js';
import { activityChart } from './chart.js';
import { STATUS_ORDER, adminPage, day, pill, when, type Section } from './layout.js';
import { AdminSessions, type AdminSession } from './session.js';

const PAGE_SIZE = 50;
const STATUSES = new Set<string>(STATUS_ORDER);
const OUTBOX_STATES: readonly OutboxState[] = ['pending', 'dead', 'delivered'];
const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;
const LOGIN_FAILURES_PER_MINUTE = 10;

/** Fixed notices shown after an action (the query carries a key, never text). */
const NOTICES: Readonly<Record<string, string>> = {
  deleted: 'The authorization was deleted and its tokens wiped. A seller.deleted webhook was queued.',
  retried: 'The event is due again; the worker will deliver it within seconds.',
  not_retried: 'That event was delivered already or is being delivered right now.',
};

/** What the dashboard needs besides the service context. */
export interface AdminDeps {
  readonly metrics: ServiceMetrics;
  readonly ring?: ClientSecretRing;
  /** The webhook target (only its origin is shown), or undefined when not configured. */
  readonly webhookUrl?: string;
}

interface Access {
  readonly session: AdminSession;
  readonly csrf: string;
  /** A cookie to set (dev: the session issued on first visit). */
  readonly setCookie?: string;
}

/**
 * Registers the dashboard's routes.
 *
 * @example
 * registerAdminRoutes(router, context, { metrics, ring, webhookUrl: config.webhookUrl });
 */
export function registerAdminRoutes(router: Router, ctx: ServiceContext, deps: AdminDeps): void {
  const { config, store, log } = ctx;
  const secure = config.secureCookies;
  const sessions = new AdminSessions({ password: config.adminPassword, secure, now: ctx.now });
  const devOpen = config.mode === 'dev' && config.adminPassword === undefined;
  const enabled = devOpen || config.adminPassword !== undefined;
  const publicOrigin = new URL(config.publicUrl).origin;
  let failures: number[] = [];

  const render = (
    access: Access | undefined,
    section: Section,
    title: string,
    body: SafeHtml,
    status = 200,
  ): ServerResponse =>
    adminPage({
      title,
      section,
      body,
      secure,
      dev: config.mode === 'dev',
      showNav: access !== undefined,
      status,
      ...(access !== undefined && !devOpen ? { csrf: access.csrf } : {}),
      ...(access?.setCookie !== undefined ? { headers: { 'set-cookie': access.setCookie } } : {}),
    });

  const disabled = (): ServerResponse =>
    render(
      undefined,
      'login',
      'Dashboard disabled',
      html`<div class="card login">
        <h1>Dashboard disabled</h1>
        <p class="muted">
          Set <code>SPAPI_AUTH_ADMIN_PASSWORD</code> (12 characters or more) to enable the admin dashboard.
        </p>
      </div>`,
      404,
    );

  /** Registers a route whose refusals render as dashboard pages (not the OAuth flows' error page). */
  const add = (method: string, path: string, handler: RouteHandler): void => {
    router.add(method, path, async (req, rc) => {
      try {
        return await handler(req, rc);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        const res = render(
          undefined,
          'login',
          'Not allowed',
          html`<div class="card login">
            <h1>${err.status === 404 ? 'Not found' : 'That did not work'}</h1>
            <p class="err">${err.message}</p>
            <p class="small muted">Error code: <span class="mono">${err.code}</span></p>
            <p><a href="/admin">Back to the dashboard</a></p>
          </div>`,
          err.status,
        );
        for (const [k, v] of Object.entries(err.headers)) res.headers[k] = v;
        return res;
      }
    });
  };

  /** The caller's access, or the response to send instead (login redirect, 403, 404). */
  const access = (req: ServerRequest): Access | ServerResponse => {
    if (!enabled) return disabled();
    const session = sessions.read(req.header('cookie'));
    if (devOpen) {
      // Open without a password only to a browser on this machine.
      if (!LOCAL_HOST.test(req.header('host') ?? '')) {
        throw new HttpError(
          403,
          'admin_local_only',
          'Without a password the dashboard is open on localhost only.',
        );
      }
      if (session !== undefined) return { session, csrf: sessions.csrfToken(session) };
      const issued = sessions.issue(true);
      return { session: issued.session, csrf: sessions.csrfToken(issued.session), setCookie: issued.cookie };
    }
    if (session === undefined || !session.authenticated) return redirect(303, '/admin/login');
    return { session, csrf: sessions.csrfToken(session) };
  };

  /** For POSTs: a valid session, a matching CSRF token and a same-origin Origin (when sent). */
  const checkPost = (req: ServerRequest, form: URLSearchParams, needAuth = true): AdminSession => {
    if (!enabled) throw new HttpError(404, 'not_found', 'No such route.');
    if (devOpen && !LOCAL_HOST.test(req.header('host') ?? '')) {
      throw new HttpError(
        403,
        'admin_local_only',
        'Without a password the dashboard is open on localhost only.',
      );
    }
    // Pages are sent with Referrer-Policy: no-referrer, so browsers post their forms with
    // `Origin: null`: only a real, different origin is refused here; the token does the rest.
    const origin = req.header('origin');
    if (
      origin !== undefined &&
      origin !== 'null' &&
      origin !== publicOrigin &&
      !(devOpen && LOCAL_HOST.test(hostOf(origin)))
    ) {
      throw new HttpError(403, 'csrf_failed', 'The form was posted from another site.');
    }
    const session = sessions.read(req.header('cookie'));
    if (!sessions.checkCsrf(session, form.get('csrf'))) {
      throw new HttpError(
        403,
        'csrf_failed',
        'The form is missing its CSRF token or it expired; reload the page.',
      );
    }
    if (needAuth && !devOpen && !session!.authenticated) {
      throw new HttpError(403, 'admin_login_required', 'Log in first.');
    }
    return session!;
  };

  /** A GET page behind {@link access}. */
  const get = (
    path: string,
    handler: (
      req: ServerRequest,
      a: Access,
      params: Readonly<Record<string, string>>,
    ) => Promise<ServerResponse>,
  ): void => {
    add('GET', path, async (req, { params }) => {
      const a = access(req);
      if (!('session' in a)) return a;
      const res = await handler(req, a, params);
      if (a.setCookie !== undefined) res.headers['set-cookie'] = a.setCookie;
      return res;
    });
  };

  // ── login ──
  add('GET', '/admin/login', (req) => {
    if (!enabled) return disabled();
    if (devOpen) return redirect(303, '/admin');
    let session = sessions.read(req.header('cookie'));
    if (session?.authenticated) return redirect(303, '/admin');
    let cookie: string | undefined;
    if (session === undefined) ({ session, cookie } = sessions.issue(false));
    const failed = new URLSearchParams(req.rawQuery).get('failed') === '1';
    return loginPage(sessions.csrfToken(session), failed, cookie);
  });

  const loginPage = (csrf: string, failed: boolean, cookie?: string, status = 200): ServerResponse =>
    adminPage({
      title: 'Log in',
      section: 'login',
      secure,
      showNav: false,
      status,
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

  add('POST', '/admin/login', async (req) => {
    const form = await readForm(req);
    checkPost(req, form, false);
    const at = ctx.now();
    failures = failures.filter((t) => at - t < 60_000);
    if (failures.length >= LOGIN_FAILURES_PER_MINUTE) {
      throw new HttpError(429, 'rate_limited', 'Too many failed logins; wait a minute.', {
        'retry-after': '60',
      });
    }
    if (!sessions.checkPassword(form.get('password') ?? '')) {
      failures.push(at);
      log.warn('admin login failed', { route: '/admin/login' });
      return redirect(303, '/admin/login?failed=1');
    }
    const { cookie } = sessions.issue(true);
    ctx.audit.add({ action: 'admin.login', actor: 'admin', outcome: 'ok' });
    return redirect(303, '/admin', { 'set-cookie': cookie });
  });

  add('POST', '/admin/logout', async (req) => {
    checkPost(req, await readForm(req));
    return redirect(303, devOpen ? '/admin' : '/admin/login', { 'set-cookie': sessions.clear() });
  });

  // ── overview ──
  get('/admin', async (req, a) => {
    const [counts, depth, attention] = await Promise.all([
      store.countSellersByStatus(),
      store.webhookOutboxDepth(),
      store.listSellers({ status: 'reauthorization_required', limit: 10 }),
    ]);
    const total = STATUS_ORDER.reduce((n, s) => n + counts[s], 0);
    const health = deps.metrics.lwaHealth();
    const notice = noticeOf(req);
    const lwaState = health.consecutiveFailures >= 3 ? 'bad' : health.consecutiveFailures > 0 ? 'warn' : 'ok';
    const secrets = deps.ring?.describe();
    const body = html`${notice}
      <h1>Overview</h1>
      <div class="grid">
        ${stat(total, 'Sellers (authorizations)')}
        ${STATUS_ORDER.map((s) => stat(counts[s], html`${pill(s)}`, `/admin/sellers?status=${s}`))}
        ${stat(depth.pending, 'Webhooks pending', '/admin/webhooks?state=pending')}
        ${stat(depth.dead, 'Webhooks failed', '/admin/webhooks?state=dead')}
      </div>
      <div class="row">
        <section class="card chart">
          <h2>Refreshes and errors, last 24 hours</h2>
          ${activityChart(deps.metrics.activitySeries())}
          <p class="small muted">
            This instance only; restarts clear it. Prometheus has every instance at
            <a href="/metrics">/metrics</a>.
          </p>
        </section>
        <section class="card">
          <h2>Login with Amazon</h2>
          <dl class="kv">
            <dt>Health</dt>
            <dd>
              ${pill(lwaState, lwaState === 'ok' ? 'healthy' : lwaState === 'warn' ? 'errors' : 'failing')}
            </dd>
            <dt>Circuit breaker</dt>
            <dd>
              ${pill(health.breaker, health.breaker === 'unknown' ? 'not reported' : health.breaker.replace('_', ' '))}
            </dd>
            <dt>Failures in a row</dt>
            <dd>${health.consecutiveFailures}</dd>
            <dt>Last success</dt>
            <dd>${when(health.lastSuccessAt)}</dd>
            <dt>Last failure</dt>
            <dd>${when(health.lastFailureAt)}</dd>
            <dt>Calls by outcome</dt>
            <dd>
              ${
                Object.keys(health.callsByOutcome).length === 0
                  ? html`<span class="muted">none yet</span>`
                  : Object.entries(health.callsByOutcome).map(
                      ([k, v]) => html`<div><span class="mono">${k}</span> ${v}</div>`,
                    )
              }
            </dd>
            ${
              secrets
                ? html`<dt>Client secrets</dt>
                    <dd>
                      ${secrets.count} in
                      use${
                        secrets.expiries[0]
                          ? html`<div class="small muted">current expires ${day(secrets.expiries[0])}</div>`
                          : ''
                      }
                    </dd>`
                : ''
            }
          </dl>
        </section>
      </div>
      <section class="card tablecard">
        <div class="head"><h2>Need re-authorization</h2></div>
        ${sellerTable(attention.items, 'No seller needs re-authorization.')}
      </section>`;
    return render(a, 'overview', 'Overview', body);
  });

  // ── sellers ──
  get('/admin/sellers', async (req, a) => {
    const q = new URLSearchParams(req.rawQuery);
    const status = q.get('status') ?? '';
    const search = (q.get('q') ?? '').trim();
    const cursor = q.get('cursor');
    if (status !== '' && !STATUSES.has(status))
      throw new HttpError(400, 'invalid_status', 'Unknown status filter.');
    if (search.length > 100 || !/^[\x20-\x7e]*$/.test(search)) {
      throw new HttpError(
        400,
        'invalid_search',
        'Search for a seller id or user_ref prefix (printable, up to 100).',
      );
    }
    if (cursor !== null && cursor.length > 512)
      throw new HttpError(400, 'invalid_cursor', 'The page cursor is malformed.');
    let page;
    try {
      page = await store.listSellers({
        ...(status !== '' ? { status: status as SellerStatus } : {}),
        ...(search !== '' ? { search } : {}),
        ...(cursor ? { cursor } : {}),
        limit: PAGE_SIZE,
      });
    } catch (err) {
      if (err instanceof TypeError)
        throw new HttpError(400, 'invalid_cursor', 'The page cursor is malformed.');
      throw err;
    }
    const keep = (extra: Record<string, string>): string => {
      const p = new URLSearchParams();
      if (status) p.set('status', status);
      if (search) p.set('q', search);
      for (const [k, v] of Object.entries(extra)) p.set(k, v);
      const s = p.toString();
      return s ? `/admin/sellers?${s}` : '/admin/sellers';
    };
    const body = html`${noticeOf(req)}
      <h1>Sellers</h1>
      <form class="filters" method="get" action="/admin/sellers">
        <input
          type="search"
          name="q"
          value="${search}"
          placeholder="Seller id or user_ref prefix"
          aria-label="Search"
        />
        <select name="status" aria-label="Status">
          <option value="">All statuses</option>
          ${STATUS_ORDER.map((s) => html`<option value="${s}" ${status === s ? html` selected` : ''}>${s.replace(/_/g, ' ')}</option>`)}
        </select>
        <button class="btn" type="submit">Filter</button>
        <a class="btn ghost" href="/admin/connect">Connect a seller</a>
      </form>
      <section class="card tablecard">
        ${sellerTable(page.items, search || status ? 'No seller matches.' : 'No seller has connected yet.')}
        <div class="pager">
          ${cursor ? html`<a class="btn ghost" href="${keep({})}">First page</a>` : ''}
          ${page.nextCursor ? html`<a class="btn ghost" href="${keep({ cursor: page.nextCursor })}">Next page →</a>` : ''}
        </div>
      </section>`;
    return render(a, 'sellers', 'Sellers', body);
  });

  get('/admin/sellers/:id', async (_req, a, params) => {
    const id = params.id!;
    const [records, audit] = await Promise.all([
      store.findSellers(id),
      store.listAudit({ sellingPartnerId: id, limit: 100 }),
    ]);
    if (records.length === 0) throw new HttpError(404, 'seller_not_found', 'No such seller.');
    const body = html`<p><a href="/admin/sellers">← Sellers</a></p>
      <h1 class="mono">${id}</h1>
      ${records.map(
        (s) =>
          html`<section class="card" id="region-${s.region}">
            <h2>Region ${s.region.toUpperCase()} ${pill(s.status)}</h2>
            <dl class="kv">
              <dt>Kind</dt>
              <dd>${s.kind}</dd>
              <dt>user_ref</dt>
              <dd class="mono">${s.userRef ?? '—'}</dd>
              <dt>Marketplace</dt>
              <dd>${s.marketplace ?? '—'}</dd>
              <dt>Authorized</dt>
              <dd>${when(s.authorizedAt)}</dd>
              <dt>Re-authorize by</dt>
              <dd>${day(s.authorizedAt + REAUTHORIZE_AFTER_MS)}</dd>
              <dt>Last refresh</dt>
              <dd>${when(s.lastRefreshAt)}</dd>
              <dt>Access token cached until</dt>
              <dd>${when(s.accessTokenExpiresAt)}</dd>
              <dt>Last error</dt>
              <dd>
                ${
                  s.lastError
                    ? html`<span class="err mono">${s.lastError.code}</span>
                        <span class="muted small">${when(s.lastError.at)}</span>${
                          s.lastError.message ? html`<div class="small">${s.lastError.message}</div>` : ''
                        }`
                    : '—'
                }
              </dd>
            </dl>
            <details class="danger">
              <summary>Delete this authorization</summary>
              <p class="small">
                Forgets the seller in region ${s.region.toUpperCase()} and wipes its tokens. The app must
                connect it again to use it.
              </p>
              <form method="post" action="/admin/sellers/${id}/delete">
                <input type="hidden" name="csrf" value="${a.csrf}" />
                <input type="hidden" name="region" value="${s.region}" />
                <button class="btn danger" type="submit">Delete ${id} (${s.region.toUpperCase()})</button>
              </form>
            </details>
          </section>`,
      )}
      <section class="card tablecard">
        <div class="head"><h2>Audit trail</h2></div>
        ${
          audit.length === 0
            ? html`<p class="empty">No audit records.</p>`
            : html`<table class="rows">
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Action</th>
                    <th>Region</th>
                    <th>Actor</th>
                    <th>Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  ${audit.map(
                    (r) =>
                      html`<tr>
                        <td data-label="When">${when(r.at)}</td>
                        <td data-label="Action" class="mono">${r.action}</td>
                        <td data-label="Region">${r.region ?? '—'}</td>
                        <td data-label="Actor" class="mono">${r.actor ?? '—'}</td>
                        <td data-label="Outcome">
                          ${r.outcome ?? '—'}${r.details.count !== undefined ? html` <span class="muted">×${r.details.count}</span>` : ''}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </section>`;
    return render(a, 'sellers', id, body);
  });

  add('POST', '/admin/sellers/:id/delete', async (req, { params }) => {
    const form = await readForm(req);
    checkPost(req, form);
    const id = params.id!;
    const region = form.get('region') ?? '';
    if (!isRegion(region)) throw new HttpError(400, 'invalid_region', 'region must be na, eu or fe.');
    const { found } = await deleteSellerAuthorizations(store, id, {
      region,
      actor: 'admin',
      now: ctx.now,
      tokens: ctx.amazon,
    });
    if (found.length === 0) throw new HttpError(404, 'seller_not_found', 'No such seller in that region.');
    log.info('seller deleted', { seller_id: id, region, key_id: 'admin' });
    return redirect(303, '/admin/sellers?notice=deleted');
  });

  // ── connect a seller ──
  get('/admin/connect', async (_req, a) => {
    const body = html`<h1>Connect a seller</h1>
      <section class="card">
        <p class="muted">
          Starts Amazon's website authorization flow in this browser: you will be sent to
          ${config.amazonUrl ? 'the Amazon emulator' : 'Seller Central or Vendor Central'} to confirm, then
          back here.
        </p>
        <form method="post" action="/admin/connect" class="filters">
          <input type="hidden" name="csrf" value="${a.csrf}" />
          <select name="marketplace" aria-label="Marketplace">
            ${MARKETPLACES.map(
              (m) =>
                html`<option value="${m.countryCode}" ${m.countryCode === 'US' ? html` selected` : ''}>
                  ${m.countryCode} — ${m.country}
                </option>`,
            )}
          </select>
          <select name="kind" aria-label="Kind">
            <option value="seller" selected>Seller</option>
            <option value="vendor">Vendor</option>
          </select>
          <input
            type="text"
            name="user_ref"
            placeholder="user_ref (optional)"
            aria-label="user_ref"
            maxlength="256"
          />
          <button class="btn" type="submit">Connect a seller</button>
        </form>
      </section>`;
    return render(a, 'connect', 'Connect a seller', body);
  });

  add('POST', '/admin/connect', async (req) => {
    const form = await readForm(req);
    const session = checkPost(req, form);
    const marketplace = findMarketplace(form.get('marketplace') ?? '');
    if (!marketplace) throw new HttpError(400, 'invalid_marketplace', 'Unknown marketplace.');
    const kind = form.get('kind') ?? 'seller';
    if (kind !== 'seller' && kind !== 'vendor')
      throw new HttpError(400, 'invalid_kind', 'kind must be seller or vendor.');
    const userRef = (form.get('user_ref') ?? '').trim();
    if (userRef !== '' && !USER_REF.test(userRef)) {
      throw new HttpError(400, 'invalid_user_ref', 'user_ref must be 1 to 256 printable characters.');
    }
    const { token } = await createFlowSession(ctx, 'connect', {
      flow: 'website',
      user_ref: userRef === '' ? null : userRef,
      marketplace: marketplace.countryCode,
      kind,
      return_to: null,
      selling_partner_id: null,
    });
    ctx.audit.add({
      action: 'connect_session.created',
      actor: 'admin',
      region: marketplace.region,
      outcome: 'ok',
    });
    // A page with the link rather than a redirect: the dashboard's CSP says `form-action 'self'`,
    // which browsers also apply to the redirects that follow a form post, so a 303 on to Seller
    // Central (another origin) would be blocked. A link is a plain navigation; and an operator often
    // wants to send the link to the seller instead of opening it.
    const url = `${config.publicUrl}/connect/${token}`;
    const body = html`<h1>Connect a seller</h1>
      <section class="card">
        <p>
          A connect link for ${marketplace.country}
          (${kind}${userRef === '' ? '' : html`, user_ref <span class="mono">${userRef}</span>`}) is ready. It
          works once, in one browser, for 10 minutes.
        </p>
        <p>
          <a class="btn" id="continue" href="${url}"
            >Continue to
            ${
              config.amazonUrl
                ? 'the Amazon emulator'
                : kind === 'vendor'
                  ? 'Vendor Central'
                  : 'Seller Central'
            }</a
          >
        </p>
        <p class="small muted">Or send it to the seller: <span class="mono">${url}</span></p>
      </section>`;
    return render({ session, csrf: sessions.csrfToken(session) }, 'connect', 'Connect a seller', body);
  });

  // ── webhooks ──
  get('/admin/webhooks', async (req, a) => {
    const q = new URLSearchParams(req.rawQuery);
    const state = (q.get('state') ?? 'pending') as OutboxState;
    if (!OUTBOX_STATES.includes(state))
      throw new HttpError(400, 'invalid_state', 'state must be pending, dead or delivered.');
    const beforeRaw = q.get('before');
    const before = beforeRaw !== null && /^\d{1,15}$/.test(beforeRaw) ? Number(beforeRaw) : undefined;
    const [rows, depth] = await Promise.all([
      store.listWebhookEvents({ state, limit: PAGE_SIZE, ...(before !== undefined ? { before } : {}) }),
      store.webhookOutboxDepth(),
    ]);
    const target = deps.webhookUrl ? new URL(deps.webhookUrl).origin : undefined;
    const label: Record<OutboxState, string> = {
      pending: `Pending (${depth.pending})`,
      dead: `Failed (${depth.dead})`,
      delivered: 'Delivered (7 days)',
    };
    const body = html`${noticeOf(req)}
      <h1>Webhooks</h1>
      <p class="muted">
        ${
          target
            ? html`Delivering to <span class="mono">${target}</span>, signed with
                <span class="mono">Spapi-Auth-Signature</span>.`
            : html`<span class="err">No target configured</span>: set <code>SPAPI_AUTH_WEBHOOK_URL</code> and
                <code>SPAPI_AUTH_WEBHOOK_SECRET</code>. Events wait here until then.`
        }
      </p>
      <nav class="tabs">
        ${OUTBOX_STATES.map(
          (s) =>
            html`<a href="/admin/webhooks?state=${s}" class="${s === state ? 'on' : ''}">${label[s]}</a>`,
        )}
      </nav>
      <section class="card tablecard">
        ${
          rows.length === 0
            ? html`<p class="empty">Nothing ${state === 'dead' ? 'failed' : state}.</p>`
            : html`<table class="rows">
                <thead>
                  <tr>
                    <th>Event</th>
                    <th>Type</th>
                    <th>Seller</th>
                    <th>Created</th>
                    <th>Attempts</th>
                    <th>Status</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map(
                    (r) =>
                      html`<tr>
                        <td data-label="Event" class="mono">${r.id}</td>
                        <td data-label="Type" class="mono">${r.type}</td>
                        <td data-label="Seller" class="mono">
                          ${typeof r.data.selling_partner_id === 'string' ? r.data.selling_partner_id : '—'}
                        </td>
                        <td data-label="Created">${when(r.createdAt)}</td>
                        <td data-label="Attempts">
                          ${r.attempts}${r.lastError ? html` <span class="err small mono">${r.lastError}</span>` : ''}
                        </td>
                        <td data-label="Status">
                          ${pill(r.state, r.state === 'dead' ? 'failed' : r.state)}${
                            r.state === 'pending' && r.attempts > 0
                              ? html` <span class="small muted">next ${when(r.nextAttemptAt)}</span>`
                              : ''
                          }${r.state === 'delivered' ? html` <span class="small muted">${when(r.deliveredAt)}</span>` : ''}
                        </td>
                        <td data-label="">
                          ${
                            r.state !== 'delivered'
                              ? html`<form method="post" action="/admin/webhooks/retry">
                                  <input type="hidden" name="csrf" value="${a.csrf}" /><input
                                    type="hidden"
                                    name="id"
                                    value="${r.id}"
                                  /><input type="hidden" name="state" value="${state}" /><button
                                    class="btn ghost"
                                    type="submit"
                                  >
                                    Retry now
                                  </button>
                                </form>`
                              : ''
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        ${
          rows.length === PAGE_SIZE
            ? html`<div class="pager">
                <a
                  class="btn ghost"
                  href="/admin/webhooks?state=${state}&before=${rows[rows.length - 1]!.seq}"
                  >Older →</a
                >
              </div>`
            : ''
        }
      </section>`;
    return render(a, 'webhooks', 'Webhooks', body);
  });

  add('POST', '/admin/webhooks/retry', async (req) => {
    const form = await readForm(req);
    checkPost(req, form);
    const id = form.get('id') ?? '';
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(id))
      throw new HttpError(400, 'invalid_event_id', 'The event id is malformed.');
    const ok = await store.retryWebhookEvent(id);
    ctx.audit.add({
      action: 'webhook.retried',
      actor: 'admin',
      outcome: ok ? 'ok' : 'not_retryable',
      details: { event_id: id },
    });
    const state = form.get('state') === 'dead' ? 'dead' : 'pending';
    return redirect(303, `/admin/webhooks?state=${state}&notice=${ok ? 'retried' : 'not_retried'}`);
  });
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return '';
  }
}

async function readForm(req: ServerRequest): Promise<URLSearchParams> {
  const type = req.header('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'Forms must be application/x-www-form-urlencoded.');
  }
  return new URLSearchParams(new TextDecoder().decode(await req.body()));
}

function noticeOf(req: ServerRequest): SafeHtml | '' {
  const key = new URLSearchParams(req.rawQuery).get('notice');
  const text = key !== null ? NOTICES[key] : undefined;
  return text === undefined ? '' : html`<div class="notice" role="status">${text}</div>`;
}

function stat(n: number, label: SafeHtml | string, href?: string): SafeHtml {
  const inner = html`<div class="n">${n.toLocaleString('en-US')}</div>
    <div class="l">${label}</div>`;
  return href
    ? html`<a class="card stat" href="${href}">${inner}</a>`
    : html`<div class="card stat">${inner}</div>`;
}

function sellerTable(items: readonly SellerRecord[], empty: string): SafeHtml {
  if (items.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table class="rows">
    <thead>
      <tr>
        <th>Seller</th>
        <th>Status</th>
        <th>Region</th>
        <th>Kind</th>
        <th>user_ref</th>
        <th>Authorized</th>
        <th>Re-authorize by</th>
        <th>Last refresh</th>
        <th>Last error</th>
      </tr>
    </thead>
    <tbody>
      ${items.map((s) => {
        const dueBy = s.authorizedAt + REAUTHORIZE_AFTER_MS;
        return html`<tr>
          <td data-label="Seller" class="mono id">
            <a href="/admin/sellers/${s.sellingPartnerId}#region-${s.region}">${s.sellingPartnerId}</a>
          </td>
          <td data-label="Status">${pill(s.status)}</td>
          <td data-label="Region">${s.region.toUpperCase()}</td>
          <td data-label="Kind">${s.kind}</td>
          <td data-label="user_ref" class="mono">${s.userRef ?? '—'}</td>
          <td data-label="Authorized">${day(s.authorizedAt)}</td>
          <td data-label="Re-authorize by">${day(dueBy)}</td>
          <td data-label="Last refresh">${when(s.lastRefreshAt)}</td>
          <td data-label="Last error">
            ${s.lastError ? html`<span class="err mono small">${s.lastError.code}</span>` : '—'}
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}
