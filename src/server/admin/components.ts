/** Pieces several dashboard pages show: a count tile and the sellers table. */
import type { SellerRecord } from '../../storage/store.js';
import { html, type SafeHtml } from '../http/html.js';
import { REAUTHORIZE_AFTER_MS } from '../../core/lifetimes.js';
import { day, pill, when } from './layout.js';

/** A count tile, a link when `href` is given. */
export function stat(n: number, label: SafeHtml | string, href?: string): SafeHtml {
  const inner = html`<div class="n">${n.toLocaleString('en-US')}</div>
    <div class="l">${label}</div>`;
  return href
    ? html`<a class="card stat" href="${href}">${inner}</a>`
    : html`<div class="card stat">${inner}</div>`;
}

/**
 * One row per authorization, each linking to the seller's page; `empty` when there is none. `base`
 * is the public URL's path prefix.
 */
export function sellerTable(items: readonly SellerRecord[], empty: string, base: string): SafeHtml {
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
            <a href="${base}/admin/sellers/${s.sellingPartnerId}#region-${s.region}">${s.sellingPartnerId}</a>
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
