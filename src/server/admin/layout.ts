/**
 * The dashboard's page shell: headers (strict CSP with a per-response nonce, no framing, no
 * caching, no referrer), the stylesheet, the navigation, and small formatting helpers. Everything
 * goes through the escaping `html` tag of `../pages.ts`; the only raw markup is written here.
 */
import type { SellerStatus } from '../../storage/store.js';
import { BASE_HEADERS, type HeaderMap, type ServerResponse } from '../http.js';
import { html, htmlDocument, type SafeHtml } from '../pages.js';

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

const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1b1f24;--muted:#5b6470;--line:#e3e6ea;--accent:#2457d6;
--ok:#0f7b3f;--ok-bg:#e3f5ea;--warn:#8a5a00;--warn-bg:#fff1d6;--bad:#b42318;--bad-bg:#fde8e6;--idle:#475467;--idle-bg:#eef0f3}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.top{background:#111827;color:#fff}
header.top .in{max-width:1200px;margin:0 auto;padding:.7rem 1.25rem;display:flex;gap:1.25rem;align-items:center;flex-wrap:wrap}
header.top .brand{font-weight:650;letter-spacing:.2px;color:#fff;margin-right:auto}
header.top .brand small{font-weight:400;color:#9aa4b2;margin-left:.4rem}
header.top nav{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header.top nav a{color:#d0d5dd}header.top nav a.on{color:#fff;font-weight:600}
header.top form{margin:0}
header.top button{background:none;border:1px solid #475467;color:#d0d5dd;padding:.2rem .6rem;border-radius:6px;font:inherit;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:1.25rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:0 0 .75rem}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem}
.stat .n{font-size:1.7rem;font-weight:650;line-height:1.1}.stat .l{color:var(--muted);font-size:.85rem}
a.card{color:inherit}a.card:hover{text-decoration:none;border-color:#b9c3d3}.stat .pill{white-space:normal}
section.card,.row{margin-bottom:1rem}h1.mono{font-size:1.3rem;word-break:normal}
details.danger{margin-top:.9rem}td.id{white-space:nowrap}
.row{display:grid;gap:1rem;grid-template-columns:2fr 1fr;margin-bottom:1rem}
.pill{display:inline-block;padding:.05rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap}
.s-active,.s-delivered,.s-closed,.s-ok{color:var(--ok);background:var(--ok-bg)}
.s-reauthorization_required,.s-pending,.s-half_open,.s-warn{color:var(--warn);background:var(--warn-bg)}
.s-revoked,.s-dead,.s-open,.s-bad{color:var(--bad);background:var(--bad-bg)}
.s-unknown{color:var(--idle);background:var(--idle-bg)}
table{width:100%;border-collapse:collapse;background:var(--card)}
th,td{text-align:left;padding:.55rem .7rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;background:#fafbfc}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86rem;overflow-wrap:anywhere}
.tablecard{padding:0;overflow:hidden}
.tablecard .head{padding:.9rem 1.1rem .1rem}
.muted{color:var(--muted)}.err{color:var(--bad)}.small{font-size:.85rem}
form.filters{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:.75rem}
input,select,button{font:inherit}
input[type=search],input[type=text],input[type=password],select{padding:.45rem .6rem;border:1px solid #cfd4dc;border-radius:7px;background:#fff;min-width:0}
input[type=search]{flex:1 1 240px}
.btn{display:inline-block;background:var(--accent);color:#fff;border:0;border-radius:7px;padding:.48rem .95rem;cursor:pointer;font-weight:600}
.btn:hover{text-decoration:none;filter:brightness(1.08)}
.btn.ghost{background:#fff;color:var(--ink);border:1px solid #cfd4dc}
.btn.danger{background:var(--bad)}
.pager{display:flex;gap:.5rem;justify-content:flex-end;padding:.75rem}
.notice{background:var(--ok-bg);color:var(--ok);border-radius:8px;padding:.6rem .9rem;margin-bottom:1rem}
.tabs{display:flex;gap:.4rem;margin-bottom:.75rem;flex-wrap:wrap}
.tabs a{padding:.3rem .8rem;border-radius:999px;border:1px solid var(--line);background:#fff;color:var(--ink)}
.tabs a.on{background:var(--ink);color:#fff;border-color:var(--ink)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
details.danger summary{cursor:pointer;color:var(--bad);font-weight:600}
.chart svg{width:100%;height:auto;display:block}
.legend{display:flex;gap:1rem;font-size:.85rem;color:var(--muted);margin-top:.4rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.35rem;vertical-align:-1px}
.legend i.r{background:#2457d6}.legend i.e{background:#d92d20}
.login{max-width:380px;margin:4rem auto}
.login label{display:block;margin:.75rem 0 .3rem;color:var(--muted)}
.login input{width:100%}
.empty{padding:2rem;text-align:center;color:var(--muted)}
@media (max-width:760px){
 .row{grid-template-columns:1fr}
 main{padding:.8rem}
 table.rows thead{display:none}
 table.rows tr{display:block;border-bottom:1px solid var(--line);padding:.5rem .2rem}
 table.rows td{display:flex;gap:.75rem;border:0;padding:.2rem .7rem}
 table.rows td::before{content:attr(data-label);flex:0 0 7.5rem;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;padding-top:.1rem}
 .grid{grid-template-columns:repeat(2,minmax(0,1fr))}
 td.id{white-space:normal}
}`;

/** The dashboard sections, for the navigation. */
export type Section = 'overview' | 'sellers' | 'connect' | 'webhooks' | 'login';

/**
 * A complete dashboard page.
 *
 * @example
 * return adminPage({ title: 'Sellers', section: 'sellers', body, csrf, secure, showNav: true });
 */
export function adminPage(opts: {
  readonly title: string;
  readonly section: Section;
  readonly body: SafeHtml;
  /** The session's CSRF token (for the logout form); undefined hides it. */
  readonly csrf?: string;
  readonly secure: boolean;
  readonly showNav: boolean;
  readonly status?: number;
  readonly headers?: HeaderMap;
  readonly dev?: boolean;
}): ServerResponse {
  const link = (section: Section, href: string, label: string): SafeHtml =>
    html`<a href="${href}" class="${opts.section === section ? 'on' : ''}">${label}</a>`;
  const { nonce, doc } = htmlDocument(
    `${opts.title} · spapi-auth admin`,
    CSS,
    html`<header class="top">
        <div class="in">
          <a class="brand" href="/admin">spapi-auth<small>admin${opts.dev ? ' · dev' : ''}</small></a>
          ${
            opts.showNav
              ? html`<nav>
                  ${link('overview', '/admin', 'Overview')} ${link('sellers', '/admin/sellers', 'Sellers')}
                  ${link('webhooks', '/admin/webhooks', 'Webhooks')}
                  ${link('connect', '/admin/connect', 'Connect a seller')}
                  ${
                    opts.csrf !== undefined
                      ? html`<form method="post" action="/admin/logout">
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
export const STATUS_ORDER: readonly SellerStatus[] = ['active', 'reauthorization_required', 'revoked'];
