/** "Connect a seller" (`/admin/connect`): a connect link made in the dashboard, for this browser or to send. */
import { ADMIN_CONNECT, ADMIN_CONNECTED, ADMIN_CONNECT_PAGE } from './declarations.js';
import { MARKETPLACES, findMarketplace, isRegion, type PartnerKind } from '../../core/marketplaces.js';
import { createConnectLink, type ConnectLink } from '../flows/connect-link.js';
import { HttpError, httpError } from '../http/request.js';
import { html, type SafeHtml } from '../http/html.js';
import { SELLING_PARTNER_ID_RE } from '../../core/consent.js';
import { USER_REF } from '../http/validate.js';
import { HTTP_ERRORS, type HttpErrorCode } from '../http/errors.js';
import { adminActor, readForm, type AdminKit } from './kit.js';

/** Where a connect link made in the dashboard returns after consent (`?status&selling_partner_id&region`). */
export const CONNECTED_PATH = ADMIN_CONNECTED.path;

/**
 * Registers `GET` and `POST /admin/connect`, and the page the flow returns to.
 *
 * @example
 * registerConnectPage(kit);
 */
export function registerConnectPage(kit: AdminKit): void {
  const { ctx } = kit;
  const { config } = ctx;

  kit.get(ADMIN_CONNECT_PAGE, async (_req, a) => {
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
  kit.add(ADMIN_CONNECTED, (req) => {
    if (!kit.enabled) return kit.disabled();
    const q = new URLSearchParams(req.rawQuery);
    const id = q.get('selling_partner_id') ?? '';
    const region = q.get('region') ?? '';
    const status = q.get('status');
    const error = q.get('error') ?? '';
    // A refused flow comes back here too (`status=error`): only a registered code is shown, with
    // its own message, never text from the query.
    const refused = status === 'error' && Object.hasOwn(HTTP_ERRORS, error);
    if ((status !== 'connected' && !refused) || !SELLING_PARTNER_ID_RE.test(id) || !isRegion(region))
      throw httpError('invalid_callback', 'This page is reached from a finished authorization.');
    const open = html`<p>
      <a class="btn" id="open-seller" href="${kit.url(`/admin/sellers/${id}`)}">Open it in the dashboard</a>
    </p>`;
    if (refused) {
      const code = error as HttpErrorCode;
      const body = html`<div class="card login">
        <h1>Not connected</h1>
        <p class="err">${HTTP_ERRORS[code].message}</p>
        <p class="muted small">Error code: <code>${code}</code></p>
        <p>
          Nothing changed for <span class="mono">${id}</span> in region ${region.toUpperCase()}.
          ${
            code === 'seller_already_connected'
              ? 'To renew its authorization, open it in the dashboard and use Re-authorize: that link names the seller.'
              : ''
          }
        </p>
        ${open}
      </div>`;
      return kit.render(undefined, 'connect', 'Not connected', body, HTTP_ERRORS[code].status);
    }
    const body = html`<div class="card login">
      <h1>Connected</h1>
      <p class="ok"><span class="mono">${id}</span> is connected in region ${region.toUpperCase()}.</p>
      ${open}
    </div>`;
    return kit.render(undefined, 'connect', 'Connected', body);
  });

  kit.add(ADMIN_CONNECT, async (req) => {
    const form = await readForm(req);
    const session = kit.checkPost(req, form);
    const marketplace = findMarketplace(form.get('marketplace') ?? '');
    if (!marketplace) throw httpError('invalid_marketplace');
    const kind = form.get('kind') ?? 'seller';
    if (kind !== 'seller' && kind !== 'vendor') throw httpError('invalid_kind');
    const userRef = (form.get('user_ref') ?? '').trim();
    if (userRef !== '' && !USER_REF.test(userRef)) {
      throw httpError('invalid_user_ref', 'user_ref must be 1 to 256 printable characters.');
    }
    const link = await createConnectLink(ctx, {
      userRef: userRef === '' ? null : userRef,
      marketplace,
      kind,
      // Back to the dashboard after consent, not to the public result page.
      returnTo: `${config.publicUrl}${CONNECTED_PATH}`,
      sellingPartnerId: null,
      actor: adminActor(session),
    });
    const body = html`<h1>Connect a seller</h1>
      ${linkReady(
        link,
        html`A connect link for ${marketplace.country}
        (${kind}${userRef === '' ? '' : html`, user_ref <span class="mono">${userRef}</span>`}) is ready.`,
        continueLabel(kind, Boolean(config.amazonUrl)),
      )}`;
    return kit.render(
      { session, csrf: kit.sessions.csrfToken(session) },
      'connect',
      'Connect a seller',
      body,
    );
  });
}

/**
 * A card with a fresh connect link: open it here, or copy it and send it; how long it lives, from
 * the link itself.
 *
 * @example
 * linkReady(link, html`A re-authorization link for A1B2 is ready.`, 'Continue to Seller Central');
 */
export function linkReady(link: ConnectLink, what: SafeHtml, continueTo: string): SafeHtml {
  const minutes = Math.round(link.lifetimeMs / 60_000);
  return html`<section class="card" id="link-ready">
    <p>
      ${what} It works once, in one browser, for ${minutes} minutes (until
      <span class="mono" id="link-expires">${new Date(link.expiresAt).toISOString()}</span>).
    </p>
    <p><a class="btn" id="continue" href="${link.url}">${continueTo}</a></p>
    <p class="small muted">Or copy it and send it to the seller:</p>
    <p>
      <input class="mono" id="link-url" type="text" readonly value="${link.url}" aria-label="Connect link" />
    </p>
  </section>`;
}

/** The label of the button that opens a link in this browser. */
export function continueLabel(kind: PartnerKind, emulator: boolean): string {
  return `Continue to ${emulator ? 'the Amazon emulator' : kind === 'vendor' ? 'Vendor Central' : 'Seller Central'}`;
}
