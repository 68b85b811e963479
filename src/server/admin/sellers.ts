/** The sellers list (`/admin/sellers`): search by id or user_ref prefix, status filter, cursor pages. */
import { ADMIN_SELLERS } from './declarations.js';
import type { SellerStatus } from '../../storage/store.js';
import { HttpError, httpError } from '../http/request.js';
import { html } from '../http/html.js';
import { sellerTable } from './components.js';
import { STATUS_ORDER } from './layout.js';
import { PAGE_SIZE, noticeOf, type AdminKit } from './kit.js';
import { isPrintableAscii } from '../../core/printable.js';
import { isPageCursorShape } from '../../storage/store/sellers.js';

const STATUSES = new Set<string>(STATUS_ORDER);

/**
 * Registers `GET /admin/sellers`.
 *
 * @example
 * registerSellersPage(kit);
 */
export function registerSellersPage(kit: AdminKit): void {
  const { store } = kit.ctx;
  kit.get(ADMIN_SELLERS, async (req, a) => {
    const q = new URLSearchParams(req.rawQuery);
    const status = q.get('status') ?? '';
    const search = (q.get('q') ?? '').trim();
    const cursor = q.get('cursor');
    if (status !== '' && !STATUSES.has(status)) throw httpError('invalid_status');
    if (!isPrintableAscii(search, 100, 0)) {
      throw httpError('invalid_search', 'Search for a seller id or user_ref prefix (printable, up to 100).');
    }
    if (cursor !== null && cursor !== '' && !isPageCursorShape(cursor)) throw httpError('invalid_cursor');
    let page;
    try {
      page = await store.listSellers({
        ...(status !== '' ? { status: status as SellerStatus } : {}),
        ...(search !== '' ? { search } : {}),
        ...(cursor ? { cursor } : {}),
        limit: PAGE_SIZE,
      });
    } catch (err) {
      if (err instanceof TypeError) throw httpError('invalid_cursor');
      throw err;
    }
    const keep = (extra: Record<string, string>): string => {
      const p = new URLSearchParams();
      if (status) p.set('status', status);
      if (search) p.set('q', search);
      for (const [k, v] of Object.entries(extra)) p.set(k, v);
      const s = p.toString();
      return kit.url(s ? `/admin/sellers?${s}` : '/admin/sellers');
    };
    const body = html`${noticeOf(req)}
      <h1>Sellers</h1>
      <form class="filters" method="get" action="${kit.url('/admin/sellers')}">
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
        <a class="btn ghost" href="${kit.url('/admin/connect')}">Connect a seller</a>
      </form>
      <section class="card tablecard">
        ${sellerTable(page.items, search || status ? 'No seller matches.' : 'No seller has connected yet.', kit.base)}
        <div class="pager">
          ${cursor ? html`<a class="btn ghost" href="${keep({})}">First page</a>` : ''}
          ${page.nextCursor ? html`<a class="btn ghost" href="${keep({ cursor: page.nextCursor })}">Next page →</a>` : ''}
        </div>
      </section>`;
    return kit.render(a, 'sellers', 'Sellers', body);
  });
}
