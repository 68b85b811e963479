/**
 * The dev start page (until the admin dashboard exists): a "Connect a seller" button that walks the
 * whole website flow against the embedded emulator, and the connected sellers with a live check of
 * their access token. Registered only in dev mode; the form is protected by an Origin check.
 */
import { MARKETPLACES, findMarketplace } from '../core/marketplaces.js';
import type { ServiceContext } from './context.js';
import { createFlowSession } from './flows.js';
import { HttpError, redirect } from './http.js';
import { html, page } from './pages.js';
import type { Router } from './router.js';
import { sellerJson } from './token-api.js';

/**
 * The user_ref the dev page connects sellers under.
 *
 * @example
 * await store.findSellers('A1EMUSELLERNA01'); // userRef: DEV_USER_REF after a dev connect
 */
export const DEV_USER_REF = 'dev-user';

/**
 * Registers `GET /` and `POST /dev/connect`.
 *
 * @example
 * if (config.mode === 'dev') registerDevRoutes(router, context);
 */
export function registerDevRoutes(router: Router, ctx: ServiceContext): void {
  const { config, store, amazon } = ctx;
  const publicHost = new URL(config.publicUrl).host;

  router.add('GET', '/', async (req) => {
    // The binding cookie is set for the host the browser uses; the callback comes back to the public
    // URL's host, so the flow must start there too.
    if (req.header('host') !== undefined && req.header('host') !== publicHost)
      return redirect(302, `${config.publicUrl}/`);
    const { items } = await store.listSellers({ limit: 50 });
    const rows = await Promise.all(
      items.map(async (s) => {
        let token: string;
        try {
          const t = await amazon.getAccessToken({ sellingPartnerId: s.sellingPartnerId, region: s.region });
          token = `working (${t.accessToken.slice(0, 10)}…, expires ${new Date(t.expiresAt).toISOString()})`;
        } catch (err) {
          token = `not available (${(err as { code?: string }).code ?? 'error'})`;
        }
        const j = sellerJson(s);
        return html`<tr>
          <td>${s.sellingPartnerId}</td>
          <td>${s.region}</td>
          <td>${s.kind}</td>
          <td>${s.status}</td>
          <td>${String(j.reauthorize_by).slice(0, 10)}</td>
          <td>${token}</td>
        </tr>`;
      }),
    );
    const options = MARKETPLACES.map(
      (m) =>
        html`<option value="${m.countryCode}" ${m.countryCode === 'US' ? html` selected` : ''}>
          ${m.countryCode} — ${m.country}
        </option>`,
    );
    return page(
      200,
      'spapi-auth (dev)',
      html`<p>The service is running with the embedded Amazon emulator: no Amazon account is involved.</p>
        <form method="post" action="/dev/connect">
          <label
            >Marketplace
            <select name="marketplace">
              ${options}
            </select></label
          >
          <label
            >Kind
            <select name="kind">
              <option value="seller" selected>seller</option>
              <option value="vendor">vendor</option>
            </select></label
          >
          <p><button type="submit">Connect a seller</button></p>
        </form>
        <p>
          Or start on "Amazon" with the
          <a href="/appstore/authorize?application_id=${config.applicationId}">Appstore flow</a>.
        </p>
        <p>
          The <a href="/admin">admin dashboard</a> shows every seller with its status, audit trail, LWA health
          and webhooks, and has its own "Connect a seller" form.
        </p>
        <h2>Connected sellers</h2>
        ${
          items.length === 0
            ? html`<p>None yet.</p>`
            : html`<table>
                <tr>
                  <th>Seller</th>
                  <th>Region</th>
                  <th>Kind</th>
                  <th>Status</th>
                  <th>Re-authorize by</th>
                  <th>Access token</th>
                </tr>
                ${rows}
              </table>`
        }
        <h2>Token API</h2>
        <p>
          With the dev API key printed at start-up:
          <code>curl -H "Authorization: Bearer $SPAPI_AUTH_KEY" ${config.publicUrl}/v1/sellers</code>
        </p>`,
    );
  });

  router.add('POST', '/dev/connect', async (req) => {
    // With Referrer-Policy: no-referrer, browsers send `Origin: null` on form posts, so the
    // same-origin proof is Sec-Fetch-Site (or an exact Origin from other clients).
    const sameOrigin =
      req.header('sec-fetch-site') === 'same-origin' || req.header('origin') === config.publicUrl;
    if (
      !sameOrigin ||
      (req.header('origin') !== undefined &&
        req.header('origin') !== 'null' &&
        req.header('origin') !== config.publicUrl)
    ) {
      throw new HttpError(
        403,
        'cross_origin_refused',
        'This form only accepts requests from the start page.',
      );
    }
    const form = new URLSearchParams(new TextDecoder().decode(await req.body()));
    const marketplace = findMarketplace(form.get('marketplace') ?? 'US');
    const kind = form.get('kind') === 'vendor' ? 'vendor' : 'seller';
    if (!marketplace) throw new HttpError(400, 'invalid_marketplace', 'Unknown marketplace.');
    const { token } = await createFlowSession(ctx, 'connect', {
      flow: 'website',
      user_ref: DEV_USER_REF,
      marketplace: marketplace.countryCode,
      kind,
      return_to: null,
      selling_partner_id: null,
    });
    return redirect(303, `/connect/${token}`);
  });
}
