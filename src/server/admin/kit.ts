/**
 * What every dashboard page shares: who may see it (session, dev-mode localhost rule), how a POST
 * is checked (CSRF token and same-origin `Origin`), how a page and a refusal are rendered, and
 * the route helpers the page modules register with.
 */
import type { ServiceContext } from '../context.js';
import {
  HttpError,
  httpError,
  publicPathPrefix,
  redirect,
  type ServerRequest,
  type ServerResponse,
} from '../http/request.js';
import type { ServiceMetrics } from '../ops/metrics.js';
import { html, renderHttpError, type SafeHtml } from '../http/html.js';
import type { ClientSecretRing } from '../ops/rotation.js';
import type { RouteHandler, Router } from '../http/router.js';
import type { Route } from '../http/route.js';
import { isLoopbackAddress, isLoopbackHost } from '../../core/loopback.js';
import { adminPage, type Section } from './layout.js';
import { createOidcSignIn, type OidcSignIn } from './oidc.js';
import { AdminSessions, type AdminSession } from './session.js';

/** Rows per page of the sellers list and the webhook outbox. */
export const PAGE_SIZE = 50;
/** A `Host` header's name without its port (`[::1]:3000` → `[::1]`). */
const hostName = (host: string): string => /^(.*?)(?::\d{1,5})?$/.exec(host)![1]!;

/** Fixed notices shown after an action (the query carries a key, never text). */
const NOTICES: Readonly<Record<string, string>> = {
  deleted: 'The authorization was deleted and its tokens wiped. A seller.deleted webhook was queued.',
  retried: 'The event is due again; the worker will deliver it within seconds.',
  not_retried: 'That event was delivered already or is being delivered right now.',
  redelivered:
    'The event is queued again with the same id and a fresh retry schedule; the worker delivers it within seconds.',
  not_redelivered: 'That event is still pending or is being delivered right now: nothing to redeliver.',
  test_sent: 'A webhook.test event is queued; the worker delivers it within seconds.',
};

/** What the dashboard needs besides the service context. */
export interface AdminDeps {
  readonly metrics: ServiceMetrics;
  readonly ring?: ClientSecretRing;
  /** The webhook target (only its origin is shown), or undefined when not configured. */
  readonly webhookUrl?: string;
}

/** The caller's access to a page. */
export interface Access {
  readonly session: AdminSession;
  readonly csrf: string;
  /** A cookie to set (dev: the session issued on first visit). */
  readonly setCookie?: string;
}

/** A GET page handler behind the access check. */
export type PageHandler = (
  req: ServerRequest,
  access: Access,
  params: Readonly<Record<string, string>>,
) => Promise<ServerResponse>;

/** The shared pieces the page modules are built from (one per service). */
export interface AdminKit {
  readonly ctx: ServiceContext;
  readonly deps: AdminDeps;
  readonly sessions: AdminSessions;
  /** Dev mode without a password or OIDC sign-in: open to requests addressed to localhost. */
  readonly devOpen: boolean;
  /** Whether the dashboard is on at all (a password or OIDC sign-in is set, or dev mode). */
  readonly enabled: boolean;
  /**
   * The public URL's path prefix (`/auth` for `https://app.example.com/auth`, '' at the root). The
   * routes never carry it (the proxy strips it); every link, form action and redirect must.
   */
  readonly base: string;
  /** `path` (a route path such as `/admin/sellers?x=1`) as the browser must request it. */
  url(path: string): string;
  /** Sign-in through the OpenID provider, when configured. */
  readonly oidc: OidcSignIn | undefined;
  /** A dashboard page; `access` undefined renders it without navigation. */
  render(
    access: Access | undefined,
    section: Section,
    title: string,
    body: SafeHtml,
    status?: number,
  ): ServerResponse;
  /** The 404 page shown when the dashboard is disabled. */
  disabled(): ServerResponse;
  /** Registers a route whose refusals render as dashboard pages (not the OAuth flows' error page). */
  add(route: Route, handler: RouteHandler): void;
  /** Registers a GET page behind the access check (login redirect, 403, 404). */
  get(route: Route, handler: PageHandler): void;
  /** For POSTs: a valid session, a matching CSRF token and a same-origin Origin (when sent). */
  checkPost(req: ServerRequest, form: URLSearchParams, needAuth?: boolean): AdminSession;
}

/**
 * Builds the kit of one dashboard.
 *
 * @example
 * const kit = createAdminKit(router, ctx, deps);
 * kit.get(ADMIN_HOME, async (req, a) => kit.render(a, 'overview', 'Overview', body));
 */
export function createAdminKit(router: Router, ctx: ServiceContext, deps: AdminDeps): AdminKit {
  const { config } = ctx;
  const secure = config.secureCookies;
  const sessions = new AdminSessions({
    password: config.adminPassword,
    oidcSecret: config.adminOidcClientSecret,
    secure,
    now: ctx.now,
    isRevoked: (id) => ctx.revocations.isAdminSessionRevoked(id),
    cookiePath: `${publicPathPrefix(config.publicUrl)}/admin`,
  });
  const oidc =
    config.adminOidcIssuer === undefined
      ? undefined
      : createOidcSignIn({
          issuer: config.adminOidcIssuer,
          clientId: config.adminOidcClientId!,
          clientSecret: config.adminOidcClientSecret!,
          redirectUri: config.adminOidcRedirectUri,
          allow: config.adminOidcAllowed,
          allowInsecure: new URL(config.adminOidcIssuer).protocol === 'http:',
        });
  const devOpen = config.mode === 'dev' && config.adminPassword === undefined && oidc === undefined;
  const enabled = devOpen || config.adminPassword !== undefined || oidc !== undefined;
  const publicOrigin = new URL(config.publicUrl).origin;
  // Derived once: the prefix every URL the dashboard sends starts with.
  const base = publicPathPrefix(config.publicUrl);
  const url = (path: string): string => `${base}${path}`;

  const render: AdminKit['render'] = (access, section, title, body, status = 200) =>
    adminPage({
      title,
      section,
      body,
      secure,
      dev: config.mode === 'dev',
      base,
      showNav: access !== undefined,
      status,
      ...(access !== undefined && !devOpen ? { csrf: access.csrf } : {}),
      ...(access?.session.operator !== undefined && !devOpen ? { operator: access.session.operator } : {}),
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
          Set <code>SPAPI_AUTH_ADMIN_PASSWORD</code> (12 characters or more), or sign-in through your identity
          provider (<code>SPAPI_AUTH_ADMIN_OIDC_ISSUER</code> and the variables beside it), to enable the
          admin dashboard.
        </p>
      </div>`,
      404,
    );

  const add: AdminKit['add'] = (route, handler) => {
    const method = route.method;
    router.route(route, async (req, rc) => {
      try {
        // A form is read only when it can be accepted: nobody holds a connection open by sending
        // the headers of a POST and no body to a disabled dashboard, or without the session
        // cookie every form needs (its CSRF token is checked once the body is in).
        if (method === 'POST') refuseBeforeBody(req);
        return await handler(req, rc);
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        // The dashboard draws the error in its own layout; the headers (cookies) ride along.
        return renderHttpError(err, false, {}, (e) =>
          render(
            undefined,
            'login',
            'Not allowed',
            html`<div class="card login">
              <h1>${e.status === 404 ? 'Not found' : 'That did not work'}</h1>
              <p class="err">${e.message}</p>
              <p class="small muted">Error code: <span class="mono">${e.code}</span></p>
              <p><a href="${url('/admin')}">Back to the dashboard</a></p>
            </div>`,
            e.status,
          ),
        );
      }
    });
  };

  const refuseRemoteInDev = (req: ServerRequest): void => {
    // The peer must be this machine (the Host header is the client's to choose), and the Host a
    // local name too (a DNS-rebinding page reaches 127.0.0.1 under its own name).
    if (
      devOpen &&
      (!isLoopbackAddress(req.remoteAddress) || !isLoopbackHost(hostName(req.header('host') ?? '')))
    ) {
      throw httpError('admin_local_only');
    }
  };

  /** The caller's access, or the response to send instead (login redirect, 403, 404). */
  const access = (req: ServerRequest): Access | ServerResponse => {
    if (!enabled) return disabled();
    const session = sessions.read(req.header('cookie'));
    if (devOpen) {
      // Open without a password only to a browser on this machine.
      refuseRemoteInDev(req);
      if (session !== undefined) return { session, csrf: sessions.csrfToken(session) };
      const issued = sessions.issue(true, DEV_OPERATOR);
      return { session: issued.session, csrf: sessions.csrfToken(issued.session), setCookie: issued.cookie };
    }
    if (session === undefined || !session.authenticated) return redirect(303, url('/admin/login'));
    return { session, csrf: sessions.csrfToken(session) };
  };

  /** What a POST must pass before its body is read: everything but the CSRF token in the form. */
  const refuseBeforeBody = (req: ServerRequest): void => {
    if (!enabled) throw httpError('not_found');
    refuseRemoteInDev(req);
    if (sessions.read(req.header('cookie')) === undefined) {
      throw httpError('csrf_failed', 'The form is missing its CSRF token or it expired; reload the page.');
    }
  };

  const checkPost: AdminKit['checkPost'] = (req, form, needAuth = true) => {
    refuseBeforeBody(req);
    // Pages are sent with Referrer-Policy: no-referrer, so browsers post their forms with
    // `Origin: null`: only a real, different origin is refused here; the token does the rest.
    const origin = req.header('origin');
    if (
      origin !== undefined &&
      origin !== 'null' &&
      origin !== publicOrigin &&
      !(devOpen && isLoopbackHost(hostnameOf(origin)))
    ) {
      throw httpError('csrf_failed', 'The form was posted from another site.');
    }
    const session = sessions.read(req.header('cookie'));
    if (!sessions.checkCsrf(session, form.get('csrf'))) {
      throw httpError('csrf_failed', 'The form is missing its CSRF token or it expired; reload the page.');
    }
    if (needAuth && !devOpen && !session!.authenticated) {
      throw httpError('admin_login_required');
    }
    return session!;
  };

  const get: AdminKit['get'] = (route, handler) => {
    add(route, async (req, { params }) => {
      const a = access(req);
      if (!('session' in a)) return a;
      const res = await handler(req, a, params);
      if (a.setCookie !== undefined) res.headers['set-cookie'] = a.setCookie;
      return res;
    });
  };

  return { ctx, deps, sessions, devOpen, enabled, base, url, oidc, render, disabled, add, get, checkPost };
}

/** The operator of the password-less dev dashboard. */
const DEV_OPERATOR = 'dev';

/**
 * The audit log's actor for an admin action: `admin:<operator>` (`admin:password`,
 * `admin:alice@example.com`, `admin:dev`).
 *
 * @example
 * ctx.audit.add({ action: 'webhook.retried', actor: adminActor(session), outcome: 'ok' });
 */
export function adminActor(session: AdminSession): string {
  return `admin:${session.operator ?? 'anonymous'}`;
}

function hostnameOf(origin: string): string {
  try {
    return new URL(origin).hostname;
  } catch {
    return '';
  }
}

/** The body of a dashboard form (only `application/x-www-form-urlencoded` is taken). */
export async function readForm(req: ServerRequest): Promise<URLSearchParams> {
  const type = req.header('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw httpError('unsupported_media_type', 'Forms must be application/x-www-form-urlencoded.');
  }
  return new URLSearchParams(new TextDecoder().decode(await req.body()));
}

/** The notice named by the `notice` query parameter, or nothing. */
export function noticeOf(req: ServerRequest): SafeHtml | '' {
  const key = new URLSearchParams(req.rawQuery).get('notice');
  const text = key !== null ? NOTICES[key] : undefined;
  return text === undefined ? '' : html`<div class="notice" role="status">${text}</div>`;
}
