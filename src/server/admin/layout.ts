/**
 * The dashboard's page shell: headers (strict CSP with a per-response nonce, no framing, no
 * caching, no referrer), the stylesheet, the navigation, and small formatting helpers. Everything
 * goes through the escaping `html` tag of `../pages.ts`; the only raw markup is written here.
 */
import { SELLER_TOKEN_STATUSES } from '../../core/token-vault.js';
import type { SellerStatus } from '../../storage/store.js';
import { BASE_HEADERS, type HeaderMap, type ServerResponse } from '../http/request.js';
import { html, htmlDocument, type SafeHtml } from '../http/html.js';
import { STYLESHEET } from '../http/style.js';

/** Headers of every dashboard response. */
export function adminHeaders(nonce: string, secure: boolean): HeaderMap {
  return {
    ...BASE_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy':
      `default-src 'none'; script-src 'nonce-${nonce}' 'strict-dynamic'; style-src 'nonce-${nonce}'; ` +
      `img-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'`,
    'x-frame-options': 'DENY',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
    ...(secure ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
}

/** The dashboard sections, for the navigation. */
export type Section = 'overview' | 'sellers' | 'connect' | 'webhooks' | 'login';

/**
 * A complete dashboard page.
 *
 * @example
 * return adminPage({ title: 'Sellers', section: 'sellers', body, csrf, secure, base: kit.base, showNav: true });
 */
export function adminPage(opts: {
  readonly title: string;
  readonly section: Section;
  readonly body: SafeHtml;
  /** The session's CSRF token (for the logout form); undefined hides it. */
  readonly csrf?: string;
  /** Who is signed in, shown beside "Log out" (with the CSRF token only). */
  readonly operator?: string;
  readonly secure: boolean;
  readonly showNav: boolean;
  readonly status?: number;
  readonly headers?: HeaderMap;
  readonly dev?: boolean;
  /**
   * The public URL's path prefix (`/auth`), put before every link and form action; '' at the root.
   * Required, so that no page can forget it (`kit.base`).
   */
  readonly base: string;
}): ServerResponse {
  const { base } = opts;
  const link = (section: Section, href: string, label: string): SafeHtml =>
    html`<a href="${base}${href}" class="${opts.section === section ? 'on' : ''}">${label}</a>`;
  const { nonce, doc } = htmlDocument(
    `${opts.title} · spapi-auth admin`,
    STYLESHEET,
    html`<header class="top">
        <div class="in">
          <a class="brand" href="${base}/admin">spapi-auth<small>admin${opts.dev ? ' · dev' : ''}</small></a>
          ${
            opts.showNav
              ? html`<nav>
                  ${link('overview', '/admin', 'Overview')} ${link('sellers', '/admin/sellers', 'Sellers')}
                  ${link('webhooks', '/admin/webhooks', 'Webhooks')}
                  ${link('connect', '/admin/connect', 'Connect a seller')}
                  ${
                    opts.csrf !== undefined
                      ? html`${opts.operator !== undefined ? html`<span class="operator small muted">${opts.operator}</span>` : ''}
                          <form method="post" action="${base}/admin/logout">
                            <input type="hidden" name="csrf" value="${opts.csrf}" /><button type="submit">
                              Log out
                            </button>
                          </form>`
                      : ''
                  }
                </nav>`
              : ''
          }
        </div>
      </header>
      <main>${opts.body}</main>`,
  );
  return {
    status: opts.status ?? 200,
    headers: { ...adminHeaders(nonce, opts.secure), ...opts.headers },
    body: doc.value,
  };
}

/** A status as a coloured pill. */
export function pill(status: string, label: string = status.replace(/_/g, ' ')): SafeHtml {
  return html`<span class="pill s-${/^[a-z_]+$/.test(status) ? status : 'unknown'}">${label}</span>`;
}

/** A timestamp as `2026-11-25 18:04 UTC`, or an em dash. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A date as `2026-11-25`. */
export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The statuses, in display order. */
export const STATUS_ORDER: readonly SellerStatus[] = SELLER_TOKEN_STATUSES;
