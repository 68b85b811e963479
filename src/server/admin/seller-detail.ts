/**
 * One seller (`/admin/sellers/:id`): a card per region with its dates and last error, a
 * re-authorize and a delete action per region, and the seller's audit trail.
 */
import { ADMIN_DELETE_SELLER, ADMIN_REAUTHORIZE, ADMIN_SELLER } from './declarations.js';
import { isRegion, type Region } from '../../core/marketplaces.js';
import type { AuditRecord, SellerProfile, SellerRecord } from '../../storage/store.js';
import { HttpError, httpError, redirect, type ServerRequest } from '../http/request.js';
import type { AdminSession } from './session.js';
import { html, type SafeHtml } from '../http/html.js';
import { deleteSellerAuthorizations } from '../sellers/delete.js';
import { createReauthorizationLink } from '../flows/connect-link.js';
import { REAUTHORIZE_AFTER_MS } from '../../core/lifetimes.js';
import { day, pill, when } from './layout.js';
import { adminActor, readForm, type AdminKit } from './kit.js';
import { CONNECTED_PATH, continueLabel, linkReady } from './connect.js';

/**
 * Registers `GET /admin/sellers/:id`, `POST /admin/sellers/:id/reauthorize` and
 * `POST /admin/sellers/:id/delete`.
 *
 * @example
 * registerSellerDetailPage(kit);
 */
export function registerSellerDetailPage(kit: AdminKit): void {
  const { ctx } = kit;
  const { store } = ctx;

  kit.get(ADMIN_SELLER, async (_req, a, params) => {
    const id = params.id!;
    const [records, audit] = await Promise.all([
      store.findSellers(id),
      store.listAudit({ sellingPartnerId: id, limit: 100 }),
    ]);
    if (records.length === 0) throw httpError('seller_not_found');
    const body = html`<p><a href="${kit.url('/admin/sellers')}">← Sellers</a></p>
      <h1 class="mono">${id}</h1>
      ${await Promise.all(
        records.map(async (s) => regionCard(id, s, await store.getSellerProfile(s), a.csrf, kit.base)),
      )}
      <section class="card tablecard">
        <div class="head"><h2>Audit trail</h2></div>
        ${auditTable(audit)}
      </section>`;
    return kit.render(a, 'sellers', id, body);
  });

  // A page with the link, as "Connect a seller" shows one: to open here, or to copy and send.
  kit.add(ADMIN_REAUTHORIZE, async (req, { params }) => {
    const { session, region } = await regionAction(kit, req);
    const id = params.id!;
    const link = await createReauthorizationLink(ctx, {
      sellingPartnerId: id,
      region,
      actor: adminActor(session),
      returnTo: `${ctx.config.publicUrl}${CONNECTED_PATH}`,
    });
    const s = link.seller;
    const body = html`<p><a id="back" href="${kit.url(`/admin/sellers/${id}`)}">← ${id}</a></p>
      <h1>Re-authorize <span class="mono">${id}</span></h1>
      ${linkReady(
        link,
        html`A re-authorization link for <span class="mono">${id}</span> in region ${region.toUpperCase()}
          (${s.kind}${s.userRef === null ? '' : html`, user_ref <span class="mono">${s.userRef}</span>`}) is
          ready. The seller opens it, signs in to Seller Central as this account and confirms; the new
          authorization replaces the stored one and its 365 days start again.`,
        continueLabel(s.kind, Boolean(ctx.config.amazonUrl)),
      )}`;
    return kit.render({ session, csrf: kit.sessions.csrfToken(session) }, 'sellers', id, body);
  });

  kit.add(ADMIN_DELETE_SELLER, async (req, { params }) => {
    const { session, region } = await regionAction(kit, req);
    const id = params.id!;
    const { found } = await deleteSellerAuthorizations(store, id, {
      region,
      actor: adminActor(session),
      now: ctx.now,
      tokens: ctx.amazon,
    });
    if (found.length === 0) throw httpError('seller_not_found', 'No such seller in that region.');
    ctx.log.info('seller deleted', { seller_id: id, region, key_id: 'admin' });
    return redirect(303, kit.url('/admin/sellers?notice=deleted'));
  });
}

/** A seller action's form (one region of the seller), checked: the session and the region. */
async function regionAction(
  kit: AdminKit,
  req: ServerRequest,
): Promise<{ session: AdminSession; region: Region }> {
  const form = await readForm(req);
  const session = kit.checkPost(req, form);
  const region = form.get('region') ?? '';
  if (!isRegion(region)) throw httpError('invalid_region');
  return { session, region };
}

/** One authorization of the seller, with its re-authorize and delete forms. */
function regionCard(
  id: string,
  s: SellerRecord,
  profile: SellerProfile | null,
  csrf: string,
  base: string,
): SafeHtml {
  return html`<section class="card" id="region-${s.region}">
    <h2>Region ${s.region.toUpperCase()} ${pill(s.status)}</h2>
    <dl class="kv">
      <dt>Store name</dt>
      <dd class="store-name">${profile?.storeName ?? '—'}</dd>
      <dt>Marketplaces</dt>
      <dd class="marketplaces">
        ${
          profile === null
            ? html`<span class="muted">not read yet (fetched in the background)</span>`
            : profile.marketplaces.map(
                (m) =>
                  html`<span class="mono" title="${m.id}">${m.country}</span> ${m.name}${
                      m.participating ? '' : html` <span class="muted">(not participating)</span>`
                    }<br />`,
              )
        }
      </dd>
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
    ${reauthorizeForm(id, s, csrf, base)}
    <details class="danger">
      <summary>Delete this authorization</summary>
      <p class="small">
        Forgets the seller in region ${s.region.toUpperCase()} and wipes its tokens. The app must connect it
        again to use it.
      </p>
      <form method="post" action="${base}/admin/sellers/${id}/delete">
        <input type="hidden" name="csrf" value="${csrf}" />
        <input type="hidden" name="region" value="${s.region}" />
        <button class="btn danger" type="submit">Delete ${id} (${s.region.toUpperCase()})</button>
      </form>
    </details>
  </section>`;
}

/** The re-authorize action of one authorization, said plainly when the seller must act. */
function reauthorizeForm(id: string, s: SellerRecord, csrf: string, base: string): SafeHtml {
  const due =
    s.status === 'reauthorization_required'
      ? html`<p class="err" id="reauthorize-needed-${s.region}">
          No tokens are served for this authorization until the seller authorizes the app again: make a
          re-authorization link and send it to the seller.
        </p>`
      : html`<p class="small muted">
          Amazon requires a new authorization every 365 days. A re-authorization link names this seller: send
          it to the seller to renew the authorization before ${day(s.authorizedAt + REAUTHORIZE_AFTER_MS)}.
        </p>`;
  return html`<div class="reauthorize">
    ${due}
    <form method="post" action="${base}/admin/sellers/${id}/reauthorize">
      <input type="hidden" name="csrf" value="${csrf}" />
      <input type="hidden" name="region" value="${s.region}" />
      <button class="btn" type="submit" id="reauthorize-${s.region}">
        Re-authorize (${s.region.toUpperCase()})
      </button>
    </form>
  </div>`;
}

/** The seller's audit records, newest first. */
function auditTable(audit: readonly AuditRecord[]): SafeHtml {
  if (audit.length === 0) return html`<p class="empty">No audit records.</p>`;
  return html`<table class="rows">
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
  </table>`;
}
