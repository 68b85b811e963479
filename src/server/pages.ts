/**
 * Server-rendered pages of the browser flows: escaped by default (every interpolated value goes
 * through {@link escapeHtml} unless wrapped by {@link raw}), inline CSS allowed only by a per-page
 * nonce, no third-party resource and no link carrying a code or a state.
 */
import { randomBytes } from 'node:crypto';
import { pageHeaders, type ServerResponse } from './http.js';

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

const CSS = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}.ok{color:#075e1c}.err{color:#a11}code{background:#f3f3f3;padding:0 .25rem}
button{font-size:1rem;padding:.5rem 1rem;cursor:pointer}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left}select{font-size:1rem}`;

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
 * A complete page with the security headers and a strict CSP.
 *
 * @example
 * return page(200, 'Connected', html`<p class="ok">Done.</p>`);
 */
export function page(
  status: number,
  title: string,
  body: SafeHtml,
  extraHeaders?: Record<string, string | readonly string[]>,
): ServerResponse {
  const { nonce, doc } = htmlDocument(
    `${title} · spapi-auth`,
    CSS,
    html`<h1>${title}</h1>
      ${body}`,
  );
  return { status, headers: { ...pageHeaders(nonce), ...extraHeaders }, body: doc.value };
}

/**
 * The page for a failed flow step: the stable code and a human message.
 *
 * @example
 * return errorPage(400, 'state_invalid', 'The state is not one this service issued.');
 */
export function errorPage(
  status: number,
  code: string,
  message: string,
  extraHeaders?: Record<string, string | readonly string[]>,
): ServerResponse {
  return page(
    status,
    'Authorization not completed',
    html`<p class="err">${message}</p>
      <p>Error code: <code>${code}</code></p>`,
    extraHeaders,
  );
}
