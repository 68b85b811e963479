/** "Connect a seller" (`/admin/connect`): a connect link made in the dashboard, for this browser or to send. */
import { MARKETPLACES, findMarketplace, isRegion, type Marketplace } from '../../core/marketplaces.js';
import { createFlowSession } from '../flows/flows.js';
import { HttpError } from '../http/request.js';
import { html, type SafeHtml } from '../http/html.js';
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { USER_REF } from '../http/validate.js';
import { adminActor, readForm, type AdminKit } from './kit.js';

/** Where a connect link made in the dashboard returns after consent (`?status&selling_partner_id&region`). */
export const CONNECTED_PATH = '/admin/connected';

/**
 * Registers `GET` and `POST /admin/connect`, and the page the flow returns to.
 *
 * @example
 * registerConnectPage(kit);
 */
export function registerConnectPage(kit: AdminKit): void {
  const { ctx } = kit;
  const { config } = ctx;

  kit.get('/admin/connect', async (_req, a) => {
    const body = html`<h1>Connect a seller</h1>
      <section class="card">
        <p class="muted">
          Starts Amazon's website authorization flow in this browser: you will be sent to
          ${config.amazonUrl ? 'the Amazon emulator' : 'Seller Central or Vendor Central'} to confirm, then
          back here.
        </p>
        <form method="post" action="${kit.url('/admin/connect')}" class="filters">
          <input type="hidden" name="csrf" value="${a.csrf}" />
          <select name="marketplace" aria-label="Marketplace">
            ${MARKETPLACES.map(
              (m) =>
                html`<option value="${m.countryCode}" ${m.countryCode === 'US' ? html` selected` : ''}>
                  ${m.countryCode} — ${m.country}
                </option>`,
            )}
          </select>
          <select name="kind" aria-label="Kind">
            <option value="seller" selected>Seller</option>
            <option value="vendor">Vendor</option>
          </select>
          <input
            type="text"
            name="user_ref"
            placeholder="user_ref (optional)"
            aria-label="user_ref"
            maxlength="256"
          />
          <button class="btn" type="submit">Connect a seller</button>
        </form>
      </section>`;
    return kit.render(a, 'connect', 'Connect a seller', body);
  });

  // No access check here: the session cookie is SameSite=Strict and the browser arrives from
  // Amazon (a cross-site chain), so it would not be sent; the page links into the dashboard (a
  // same-site navigation that carries it) and shows nothing but the id the callback put in the URL.
  // A seller who was sent the link lands here too and sees the same plain confirmation.
  kit.add('GET', CONNECTED_PATH, (req) => {
    if (!kit.enabled) return kit.disabled();
    const q = new URLSearchParams(req.rawQuery);
    const id = q.get('selling_partner_id') ?? '';
    const region = q.get('region') ?? '';
    if (q.get('status') !== 'connected' || !SELLING_PARTNER_ID_RE.test(id) || !isRegion(region))
      throw new HttpError(400, 'invalid_callback', 'This page is reached from a finished authorization.');
    const body = html`<div class="card login">
      <h1>Connected</h1>
      <p class="ok"><span class="mono">${id}</span> is connected in region ${region.toUpperCase()}.</p>
      <p>
        <a class="btn" id="open-seller" href="${kit.url(`/admin/sellers/${id}`)}">Open it in the dashboard</a>
      </p>
    </div>`;
    return kit.render(undefined, 'connect', 'Connected', body);
  });

  kit.add('POST', '/admin/connect', async (req) => {
    const form = await readForm(req);
    const session = kit.checkPost(req, form);
    const marketplace = findMarketplace(form.get('marketplace') ?? '');
    if (!marketplace) throw new HttpError(400, 'invalid_marketplace', 'Unknown marketplace.');
    const kind = form.get('kind') ?? 'seller';
    if (kind !== 'seller' && kind !== 'vendor')
      throw new HttpError(400, 'invalid_kind', 'kind must be seller or vendor.');
    const userRef = (form.get('user_ref') ?? '').trim();
    if (userRef !== '' && !USER_REF.test(userRef)) {
      throw new HttpError(400, 'invalid_user_ref', 'user_ref must be 1 to 256 printable characters.');
    }
    const { token } = await createFlowSession(ctx, 'connect', {
      flow: 'website',
      user_ref: userRef === '' ? null : userRef,
      marketplace: marketplace.countryCode,
      kind,
      // Back to the dashboard after consent, not to the public result page.
      return_to: `${config.publicUrl}${CONNECTED_PATH}`,
      selling_partner_id: null,
    });
    ctx.audit.add({
      action: 'connect_session.created',
      actor: adminActor(session),
      region: marketplace.region,
      outcome: 'ok',
    });
    // A page with the link rather than a redirect: the dashboard's CSP says `form-action 'self'`,
    // which browsers also apply to the redirects that follow a form post, so a 303 on to Seller
    // Central (another origin) would be blocked. A link is a plain navigation; and an operator often
    // wants to send the link to the seller instead of opening it.
    const url = `${config.publicUrl}/connect/${token}`;
    const body = linkReady(url, marketplace, kind, userRef, Boolean(config.amazonUrl));
    return kit.render(
      { session, csrf: kit.sessions.csrfToken(session) },
      'connect',
      'Connect a seller',
      body,
    );
  });
}

/** The page with a fresh connect link. */
function linkReady(
  url: string,
  marketplace: Marketplace,
  kind: 'seller' | 'vendor',
  userRef: string,
  emulator: boolean,
): SafeHtml {
  return html`<h1>Connect a seller</h1>
    <section class="card">
      <p>
        A connect link for ${marketplace.country}
        (${kind}${userRef === '' ? '' : html`, user_ref <span class="mono">${userRef}</span>`}) is ready. It
        works once, in one browser, for 10 minutes.
      </p>
      <p>
        <a class="btn" id="continue" href="${url}"
          >Continue to
          ${emulator ? 'the Amazon emulator' : kind === 'vendor' ? 'Vendor Central' : 'Seller Central'}</a
        >
      </p>
      <p class="small muted">Or send it to the seller: <span class="mono">${url}</span></p>
    </section>`;
}
