/**
 * The dev start page: a "Connect a seller" button that walks the
 * whole website flow against the embedded emulator, and the connected sellers with a live check of
 * their access token. Registered only in dev mode; the form is protected by an Origin check.
 */
import {
  MARKETPLACES,
  REGIONS,
  findMarketplace,
  type Marketplace,
  type PartnerKind,
  type Region,
} from '../../core/marketplaces.js';
import type { ServiceContext } from '../context.js';
import { createConnectLink } from '../flows/connect-link.js';
import { HttpError, httpError, publicPathPrefix, redirect } from '../http/request.js';
import { pill, when } from '../admin/layout.js';
import { html, sitePage, type SafeHtml } from '../http/html.js';
import type { Router } from '../http/router.js';
import { defineRoute } from '../http/route.js';
import { sellerJson } from '../sellers/json.js';
import type { SellerRecord } from '../../storage/store.js';

/** `GET /`: the dev start page. */
export const DEV_START = defineRoute({
  method: 'GET',
  path: '/',
  scope: null,
  audience: 'internal',
  summary: 'The dev start page',
  description: 'The start page of `spapi-auth dev`.',
  responses: { 200: { description: 'A page.' }, 302: { description: "To the public URL's host." } },
  errors: [],
});

/** `POST /dev/connect`: the start page's connect form. */
export const DEV_CONNECT = defineRoute({
  method: 'POST',
  path: '/dev/connect',
  scope: null,
  audience: 'internal',
  summary: 'Connect from the dev start page',
  description: 'A connect link for an emulator account, from the start page.',
  responses: { 303: { description: 'To the connect link.' } },
  errors: [
    'flow_rate_limited',
    'cross_origin_refused',
    'invalid_marketplace',
    'invalid_kind',
    'invalid_user_ref',
  ],
});

/**
 * The user_ref the dev page connects sellers under.
 *
 * @example
 * await store.findSellers('A1EMUSELLERNA01'); // userRef: DEV_USER_REF after a dev connect
 */
export const DEV_USER_REF = 'dev-user';

/** A kind of partner the emulator has a test account for in a region (what the page can offer). */
export interface DevPartner {
  readonly kind: PartnerKind;
  readonly region: Region;
  /** The test account's id, when known: the Appstore link names one not connected yet. */
  readonly sellingPartnerId?: string;
}

/** Without a list from the emulator: every kind in every region. */
const EVERY_PARTNER: readonly DevPartner[] = REGIONS.flatMap((region) =>
  (['seller', 'vendor'] as const).map((kind) => ({ kind, region })),
);

/**
 * The emulator's "Authorize now" for the first test seller not stored yet: without a sign-in page an
 * Appstore authorization carries no owner, so it may only connect a new seller.
 */
function appstoreLink(
  applicationId: string,
  partners: readonly DevPartner[],
  stored: readonly { readonly sellingPartnerId: string }[],
  base: string,
): string {
  const q = new URLSearchParams({ application_id: applicationId });
  const fresh = partners.find(
    (p) =>
      p.kind === 'seller' &&
      p.sellingPartnerId !== undefined &&
      !stored.some((s) => s.sellingPartnerId === p.sellingPartnerId),
  );
  if (fresh?.sellingPartnerId !== undefined) q.set('selling_partner_id', fresh.sellingPartnerId);
  return `${base}/appstore/authorize?${q.toString()}`;
}

/** The first marketplace of a region (for a seller stored without one). */
function regionMarketplace(region: Region): string {
  return MARKETPLACES.find((m) => m.region === region)!.countryCode;
}

/** "Reconnect" for a stored seller whose grant the emulator refuses: a connect naming it. */
function reconnectForm(base: string, s: SellerRecord): SafeHtml {
  return html`<form method="post" action="${base}/dev/connect">
    <input type="hidden" name="kind" value="${s.kind}" />
    <input type="hidden" name="marketplace" value="${s.marketplace ?? regionMarketplace(s.region)}" />
    <input type="hidden" name="selling_partner_id" value="${s.sellingPartnerId}" />
    <button type="submit" class="btn">Reconnect</button>
  </form>`;
}

/** The marketplaces whose region has a test partner of `kind`. */
function marketplacesFor(kind: PartnerKind, partners: readonly DevPartner[]): Marketplace[] {
  return MARKETPLACES.filter((m) => partners.some((p) => p.kind === kind && p.region === m.region));
}

/**
 * Registers `GET /` and `POST /dev/connect`. `partners` (the emulator's test accounts) limits the
 * page to the marketplaces someone can actually connect in: a vendor form only for regions with a
 * test vendor.
 *
 * @example
 * if (config.mode === 'dev') registerDevRoutes(router, context, [{ kind: 'seller', region: 'na' }]);
 */
export function registerDevRoutes(
  router: Router,
  ctx: ServiceContext,
  partners: readonly DevPartner[] = EVERY_PARTNER,
): void {
  const { config, store, amazon } = ctx;
  const publicHost = new URL(config.publicUrl).host;
  // Origin headers never carry a path: the public URL's origin, and its path prefix for every link.
  const publicOrigin = new URL(config.publicUrl).origin;
  const base = publicPathPrefix(config.publicUrl);

  router.route(DEV_START, async (req) => {
    // The binding cookie is set for the host the browser uses; the callback comes back to the public
    // URL's host, so the flow must start there too.
    if (req.header('host') !== undefined && req.header('host') !== publicHost)
      return redirect(302, `${config.publicUrl}/`);
    const { items } = await store.listSellers({ limit: 50 });
    const rows = await Promise.all(
      items.map(async (s) => {
        let token: SafeHtml;
        try {
          const t = await amazon.getAccessToken({ sellingPartnerId: s.sellingPartnerId, region: s.region });
          // One span: on a phone the cell is a flex row and the dot must stay with its text.
          token = html`<span
            ><span class="dot ok"></span>working (${t.accessToken.slice(0, 10)}…, expires
            ${when(t.expiresAt)})</span
          >`;
        } catch (err) {
          const code = (err as { code?: string }).code ?? 'error';
          token = html`<span><span class="dot bad"></span>not available (${code})</span>`;
          // In dev the emulator is Amazon: a grant it refuses (revoked, or forgotten with its state)
          // needs the seller to authorize again, through a link that names it.
          if (code === 'reauthorization_required') token = html`${token} ${reconnectForm(base, s)}`;
        }
        return html`<tr>
          <td data-label="Seller" class="mono id">${s.sellingPartnerId}</td>
          <td data-label="Region">${s.region.toUpperCase()}</td>
          <td data-label="Kind">${s.kind}</td>
          <td data-label="Status">${pill(s.status)}</td>
          <td data-label="Re-authorize by">${String(sellerJson(s).reauthorize_by).slice(0, 10)}</td>
          <td data-label="Access token" class="small">${token}</td>
        </tr>`;
      }),
    );
    const connectForm = (kind: PartnerKind): SafeHtml | '' => {
      const list = marketplacesFor(kind, partners);
      if (list.length === 0) return '';
      const first = list.some((m) => m.countryCode === 'US') ? 'US' : list[0]!.countryCode;
      return html`<form method="post" action="${base}/dev/connect">
        <input type="hidden" name="kind" value="${kind}" />
        <div class="fields">
          <label class="field"
            >Marketplace (${kind === 'vendor' ? 'Vendor Central' : 'Seller Central'})
            <select name="marketplace">
              ${list.map(
                (m) =>
                  html`<option value="${m.countryCode}" ${m.countryCode === first ? html` selected` : ''}>
                    ${m.countryCode} — ${m.country}
                  </option>`,
              )}
            </select></label
          >
        </div>
        <p class="actions">
          <button type="submit" class="btn${kind === 'seller' ? ' big' : ''}">Connect a ${kind}</button>
        </p>
      </form>`;
    };
    return sitePage({
      title: 'spapi-auth (dev)',
      nav: html`<a href="${base}/admin">Admin dashboard</a>`,
      body: html`<div class="hero">
          <h1>${items.length === 0 ? 'Connect your first seller' : 'Connect another seller'}</h1>
          <p class="lede">
            The service is running with the embedded Amazon emulator: no Amazon account is involved. Pick a
            marketplace, confirm on the emulator's consent page, and the seller lands in the list below with a
            working access token.
          </p>
        </div>
        <div class="row">
          <section class="card">
            <h2>Start the website flow</h2>
            ${connectForm('seller')} ${connectForm('vendor')}
            <p class="small muted">
              Or start on "Amazon" with the
              <a href="${appstoreLink(config.applicationId, partners, items, base)}">Appstore flow</a>
              (sellers only; an Appstore authorization without a sign-in page connects sellers not stored
              yet).
            </p>
          </section>
          <section class="card">
            <h2>Next</h2>
            <ul class="plain small">
              <li>
                The <a href="${base}/admin">admin dashboard</a> shows every seller with its status, audit
                trail, LWA health and webhooks, and has its own "Connect a seller" form.
              </li>
              <li>The <a href="#token-api">token API</a> hands your services access tokens.</li>
            </ul>
          </section>
        </div>
        <section class="card tablecard">
          <div class="head">
            <h2>Connected sellers <span class="muted small">(${items.length})</span></h2>
          </div>
          ${
            items.length === 0
              ? html`<p class="empty">None yet: connect one with the form above.</p>`
              : html`<table class="rows">
                  <thead>
                    <tr>
                      <th>Seller</th>
                      <th>Region</th>
                      <th>Kind</th>
                      <th>Status</th>
                      <th>Re-authorize by</th>
                      <th>Access token</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${rows}
                  </tbody>
                </table>`
          }
        </section>
        <section class="card" id="token-api">
          <h2>Token API</h2>
          <p class="small muted">With the dev API key printed at start-up:</p>
          <pre
            class="cmd"
          ><code>curl -H "Authorization: Bearer $SPAPI_AUTH_KEY" ${config.publicUrl}/v1/sellers</code></pre>
        </section>`,
    });
  });

  router.route(DEV_CONNECT, async (req) => {
    // Anyone who reaches the dev server may post this form: the browser flows' per-address limit.
    const limit = ctx.oauthLimit(req);
    if (!limit.allowed) {
      throw httpError('flow_rate_limited', undefined, { 'retry-after': String(limit.retryAfterS) });
    }
    // With Referrer-Policy: no-referrer, browsers send `Origin: null` on form posts, so the
    // same-origin proof is Sec-Fetch-Site (or an exact Origin from other clients).
    const sameOrigin =
      req.header('sec-fetch-site') === 'same-origin' || req.header('origin') === publicOrigin;
    if (
      !sameOrigin ||
      (req.header('origin') !== undefined &&
        req.header('origin') !== 'null' &&
        req.header('origin') !== publicOrigin)
    ) {
      throw httpError('cross_origin_refused');
    }
    const form = new URLSearchParams(new TextDecoder().decode(await req.body()));
    const marketplace = findMarketplace(form.get('marketplace') ?? 'US');
    const kind = form.get('kind') === 'vendor' ? 'vendor' : 'seller';
    if (!marketplace || !marketplacesFor(kind, partners).includes(marketplace))
      throw httpError('invalid_marketplace', `The emulator has no test ${kind} in that marketplace.`);
    // "Reconnect": a stored seller authorizes again, for its owner, through a link that names it.
    const named = form.get('selling_partner_id');
    const stored =
      named === null ? null : await store.getSeller({ sellingPartnerId: named, region: marketplace.region });
    if (named !== null && stored === null)
      throw httpError('seller_not_found', 'No such seller to reconnect in that region.');
    const { path } = await createConnectLink(ctx, {
      userRef: stored?.userRef ?? DEV_USER_REF,
      marketplace,
      kind,
      returnTo: null,
      sellingPartnerId: stored?.sellingPartnerId ?? null,
      actor: 'dev',
    });
    return redirect(303, `${base}${path}`);
  });
}
