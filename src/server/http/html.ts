/**
 * Server-rendered pages of the browser flows: escaped by default (every interpolated value goes
 * through {@link escapeHtml} unless wrapped by {@link raw}), inline CSS allowed only by a per-page
 * nonce, no third-party resource and no link carrying a code or a state.
 */
import { randomBytes } from 'node:crypto';
import { errorJson, pageHeaders, type HeaderMap, type HttpError, type ServerResponse } from './request.js';
import { STYLESHEET } from './style.js';

/**
 * Markup that is already safe. Only {@link html} and {@link raw} make one.
 *
 * @example
 * const fragment: SafeHtml = html`<p>${text}</p>`;
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @example
 * escapeHtml('<b>'); // '&lt;b&gt;'
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Trusted markup, for constants written in the code only.
 *
 * @example
 * html`<style>${raw(CSS)}</style>`;
 */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/**
 * A template tag that escapes every interpolated value (arrays are joined; {@link SafeHtml} kept).
 *
 * @example
 * html`<p>${userInput}</p>`; // user input escaped
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

function render(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/**
 * An HTML document: the head every page shares (no referrer, a viewport, `css` in a `<style>` whose
 * nonce the CSP allows) around `body`. Send it with headers naming the returned nonce.
 *
 * @example
 * const { nonce, doc } = htmlDocument('Sellers · spapi-auth admin', CSS, html`<main>…</main>`);
 */
export function htmlDocument(title: string, css: string, body: SafeHtml): { nonce: string; doc: SafeHtml } {
  const nonce = randomBytes(16).toString('base64');
  const doc = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title}</title>
        <style nonce="${nonce}">
          ${raw(css)}
        </style>
      </head>
      <body>
        ${body}
      </body>
    </html>`;
  return { nonce, doc };
}

/**
 * A complete page outside the dashboard, with the security headers and a strict CSP: the top bar
 * (with `nav` on its right) and `body` as the page's `<main>`, in the dashboard's stylesheet.
 *
 * @example
 * return sitePage({ title: 'spapi-auth (dev)', body: html`<h1>Hello</h1>`, nav: html`<a href="/admin">Admin</a>` });
 */
export function sitePage(opts: {
  readonly title: string;
  readonly body: SafeHtml;
  readonly status?: number;
  /** Links for the top bar; none on pages a seller sees. */
  readonly nav?: SafeHtml;
  /** `narrow` centres one card (the flows' pages); `wide` is the dashboard width. */
  readonly width?: 'narrow' | 'wide';
  readonly headers?: HeaderMap;
}): ServerResponse {
  const { nonce, doc } = htmlDocument(
    `${opts.title} · spapi-auth`,
    STYLESHEET,
    html`<header class="top">
        <div class="in">
          <span class="brand">spapi-auth</span>
          ${opts.nav ? html`<nav>${opts.nav}</nav>` : ''}
        </div>
      </header>
      <main class="${opts.width === 'narrow' ? 'narrow' : ''}">${opts.body}</main>`,
  );
  return {
    status: opts.status ?? 200,
    headers: { ...pageHeaders(nonce), ...opts.headers },
    body: doc.value,
  };
}

/**
 * A flow's page (what a seller sees at the end of a flow): one card headed by `title`. A
 * `<p class="ok">` in `body` colours it as a success; {@link errorPage} colours it as a failure.
 *
 * @example
 * return page(200, 'Seller connected', html`<p class="ok">Done.</p>`);
 */
export function page(
  status: number,
  title: string,
  body: SafeHtml,
  extraHeaders?: Record<string, string | readonly string[]>,
): ServerResponse {
  return flowCard(status, title, body, '', extraHeaders);
}

function flowCard(
  status: number,
  title: string,
  body: SafeHtml,
  tone: '' | 'bad',
  headers?: Record<string, string | readonly string[]>,
): ServerResponse {
  return sitePage({
    status,
    title,
    width: 'narrow',
    body: html`<section class="${tone === 'bad' ? 'card flow bad' : 'card flow'}">
      <h1>${title}</h1>
      ${body}
    </section>`,
    ...(headers ? { headers } : {}),
  });
}

/** What a failed flow's page offers besides its message: what to do next, and a way back. */
export interface FlowPageNext {
  /** What the seller (or operator) can do now, in a sentence. */
  readonly advice?: string;
  /** A link back where the flow started (the app's `return_to`, the dashboard). */
  readonly back?: { readonly href: string; readonly label: string };
}

/**
 * The page for a failed flow step: the stable code and a human message, then what to do next and
 * a link back where one is known (else: start again from the application).
 *
 * @example
 * return errorPage(400, 'state_invalid', 'The state is not one this service issued.');
 */
export function errorPage(
  status: number,
  code: string,
  message: string,
  extraHeaders?: Record<string, string | readonly string[]>,
  next: FlowPageNext = {},
): ServerResponse {
  return flowCard(
    status,
    'Authorization not completed',
    html`<p class="err">${message}</p>
      <p class="muted small">Error code: <code>${code}</code></p>
      ${next.advice === undefined ? '' : html`<p id="next-step">${next.advice}</p>`}
      ${
        next.back === undefined
          ? html`<p class="muted small">
              You can close this page and start again from the application that sent you here.
            </p>`
          : html`<p><a class="btn" id="back" href="${next.back.href}">${next.back.label}</a></p>`
      }`,
    'bad',
    extraHeaders,
  );
}

/**
 * The one place an {@link HttpError} becomes a response: JSON for an API route or a client that
 * asks for JSON (`Accept: application/json`), else the error page (with the next step, if known).
 * A surface with its own layout (the dashboard) passes `page` to draw the same error its way.
 *
 * @example
 * return renderHttpError(err, wantsJson(req));
 */
export function renderHttpError(
  err: HttpError,
  asJson: boolean,
  next: FlowPageNext = {},
  page?: (err: HttpError) => ServerResponse,
): ServerResponse {
  if (asJson) return errorJson(err);
  if (page !== undefined) {
    const res = page(err);
    for (const [k, v] of Object.entries(err.headers)) res.headers[k] = v;
    return res;
  }
  const extra = Object.keys(err.headers).length > 0 ? err.headers : undefined;
  return errorPage(err.status, err.code, err.message, extra, next);
}

/**
 * Whether the client asked for JSON (`Accept: application/json`).
 *
 * @example
 * wantsJson(req); // true for fetch('…', { headers: { accept: 'application/json' } })
 */
export function wantsJson(req: { header(name: string): string | undefined }): boolean {
  return /\bapplication\/json\b/i.test(req.header('accept') ?? '');
}
