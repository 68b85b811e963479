// Seller Central's side of the browser flows: the consent page (with Amazon's consent-page error
// codes), the Appstore hop through the app's Login URI, and the redirect with the code.
import { randomInt } from 'node:crypto';
import { AMAZON_CONSENT_HOSTS, findConsentHost, isRegion, type Region } from '../core/marketplaces.js';
import { BadRequest, escapeHtml, html, mediaType, readText, redirect } from './http.js';
import type { AppState, EmulatorState, PendingConsent } from './state.js';
import { CODE_TTL_MS, PENDING_TTL_MS } from './state.js';
import type { EmulatorSeller } from './types.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** An authorization code shaped like Amazon's (`AN` + letters and digits). */
function newCode(): string {
  let code = 'AN';
  for (let i = 0; i < 20; i++) code += ALNUM[randomInt(ALNUM.length)];
  return code;
}

/** Region and partner kind implied by the host the browser asked (an emulator host implies neither). */
function hostHints(url: URL): { region: Region | undefined; kind: 'seller' | 'vendor' | undefined } {
  const known = findConsentHost(url.hostname.toLowerCase());
  if (known) return { region: known.marketplace.region, kind: known.kind };
  // Not Amazon's: one emulator origin serves every region, so it takes a `region` (and `kind`) hint
  // in the query, which Amazon's own hosts neither need nor get.
  const region = url.searchParams.get('region');
  const kind = url.searchParams.get('kind');
  return {
    region: isRegion(region) ? region : undefined,
    kind: kind === 'seller' || kind === 'vendor' ? kind : undefined,
  };
}

function page(title: string, body: string, status = 200, errorCode?: string): Response {
  const doc = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#111}
h1{font-size:1.4rem}.err{border-left:4px solid #c40000;padding:.5rem 1rem;background:#fff4f4}
label{display:block;margin:.4rem 0}button{margin-right:.6rem;padding:.4rem 1.2rem}small{color:#555}</style>
</head><body><p><small>Amazon Seller Central — spapi-auth emulator (offline, not Amazon)</small></p>
${body}</body></html>`;
  return html(status, doc, errorCode === undefined ? {} : { 'x-emulator-error-code': errorCode });
}

/** An error page as Amazon shows one; the code is also in `x-emulator-error-code` for tests. */
function errorPage(state: EmulatorState, status: number, code: string, message: string): Response {
  state.countConsent(code);
  return page(
    `Error ${code}`,
    `<div class="err"><h1>We're sorry</h1><p>${escapeHtml(message)}</p><p>Error code: <b>${escapeHtml(code)}</b></p></div>`,
    status,
    code,
  );
}

type Checked<T> = { ok: true; value: T } | { ok: false; response: Response };

function findApp(state: EmulatorState, id: string | null): Checked<AppState> {
  const app = id === null || id === '' ? undefined : state.apps.get(id);
  // Amazon shows this when the id is unknown — typically the LWA client id passed by mistake.
  if (!app)
    return {
      ok: false,
      response: errorPage(state, 404, 'unknown_application', 'Unable to find application.'),
    };
  return { ok: true, value: app };
}

function checkDraft(state: EmulatorState, app: AppState, version: string | null): Response | undefined {
  if (app.draft && version !== 'beta') {
    return errorPage(
      state,
      400,
      'MD1000',
      'OAuth production workflow is authorizing an SP-API application that is in Draft state. Add version=beta.',
    );
  }
  return undefined;
}

function checkRedirect(state: EmulatorState, app: AppState, given: string | null): Checked<{ uri: string }> {
  if (given === null || given === '') {
    const first = app.redirectUris[0];
    if (first === undefined) {
      return {
        ok: false,
        response: errorPage(state, 400, 'MD9100', 'The application has no OAuth redirect URI.'),
      };
    }
    return { ok: true, value: { uri: first } };
  }
  if (given.includes('#')) {
    return { ok: false, response: errorPage(state, 400, 'MD5110', 'The redirect URI contains fragments.') };
  }
  if (!app.redirectUris.includes(given)) {
    return {
      ok: false,
      response: errorPage(
        state,
        400,
        'MD5101',
        "The OAuth redirect URI provided doesn't match one of the redirect URIs listed for the application.",
      ),
    };
  }
  return { ok: true, value: { uri: given } };
}

function checkPkce(
  state: EmulatorState,
  q: URLSearchParams,
): Checked<{ challenge: string | undefined; method: 'S256' | 'plain' | undefined }> {
  const challenge = q.get('code_challenge');
  if (challenge === null) return { ok: true, value: { challenge: undefined, method: undefined } };
  const method = q.get('code_challenge_method') ?? 'plain'; // LWA's documented default
  if ((method !== 'S256' && method !== 'plain') || !/^[A-Za-z0-9\-._~]{43,128}$/.test(challenge)) {
    return {
      ok: false,
      response: errorPage(
        state,
        400,
        'invalid_code_challenge',
        'The code_challenge or code_challenge_method is invalid.',
      ),
    };
  }
  return { ok: true, value: { challenge, method } };
}

/** Issues a code for the pending consent and sends the browser to the redirect URI. */
function approve(
  state: EmulatorState,
  p: PendingConsent,
  seller: EmulatorSeller,
  region: Region,
  how: string,
): Response {
  const app = state.apps.get(p.appId);
  if (!app) return errorPage(state, 404, 'unknown_application', 'Unable to find application.');
  const code = newCode();
  state.pruneShortLived();
  state.codes.set(code, {
    clientId: app.clientId,
    sellingPartnerId: seller.sellingPartnerId,
    region,
    redirectUri: p.redirectUri,
    expiresAt: state.now() + CODE_TTL_MS,
    codeChallenge: p.codeChallenge,
    codeChallengeMethod: p.codeChallengeMethod,
    used: false,
  });
  state.countConsent(how);
  state.stats.consent_by_seller[seller.sellingPartnerId] =
    (state.stats.consent_by_seller[seller.sellingPartnerId] ?? 0) + 1;
  const target = new URL(p.redirectUri);
  if (p.state !== undefined) target.searchParams.append('state', p.state);
  target.searchParams.append('selling_partner_id', seller.sellingPartnerId);
  target.searchParams.append('spapi_oauth_code', code);
  // Amazon's docs do not say whether the hop is a 302 or a client-side redirect: a 302.
  return redirect(target.href);
}

/** Sellers the page offers: those of the host's region and kind, or all when the host says nothing. */
function choices(state: EmulatorState, url: URL): { seller: EmulatorSeller; region: Region }[] {
  const hints = hostHints(url);
  const out: { seller: EmulatorSeller; region: Region }[] = [];
  for (const seller of state.sellers.values()) {
    if (hints.kind !== undefined && seller.kind !== hints.kind) continue;
    for (const region of seller.regions) {
      if (hints.region === undefined || hints.region === region) out.push({ seller, region });
    }
  }
  return out;
}

/** Seller and region for `auto` mode: the control API's choice, else the host's default. */
function autoSeller(state: EmulatorState, url: URL): { seller: EmulatorSeller; region: Region } | undefined {
  const hints = hostHints(url);
  const chosen = state.consentSeller === undefined ? undefined : state.sellers.get(state.consentSeller);
  if (chosen) {
    const region =
      hints.region !== undefined && chosen.regions.includes(hints.region) ? hints.region : chosen.regions[0];
    return region === undefined ? undefined : { seller: chosen, region };
  }
  const region = hints.region ?? 'na';
  const seller = state.defaultSeller(region, hints.kind ?? 'seller');
  if (!seller) return undefined;
  return { seller, region: seller.regions.includes(region) ? region : seller.regions[0]! };
}

function consentPage(
  state: EmulatorState,
  app: AppState,
  id: string,
  options: { seller: EmulatorSeller; region: Region }[],
): Response {
  state.countConsent('page');
  const picker = options
    .map(
      (o, i) =>
        `<label><input type="radio" name="seller" value="${escapeHtml(`${o.seller.sellingPartnerId}:${o.region}`)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(o.seller.name)} — <code>${escapeHtml(o.seller.sellingPartnerId)}</code> (${o.region.toUpperCase()}, ${o.seller.kind})</label>`,
    )
    .join('\n');
  return page(
    `Authorize ${app.name}`,
    `<h1>Authorize <span id="app-name">${escapeHtml(app.name)}</span></h1>
<p>${escapeHtml(app.name)} is requesting access to your selling partner account.</p>
<form method="post" action="/apps/authorize/consent">
<input type="hidden" name="consent_id" value="${escapeHtml(id)}">
<fieldset><legend>Sign in as test account</legend>
${picker}
</fieldset>
<p><button type="submit" name="action" value="confirm" id="confirm">Confirm</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button></p>
</form>`,
  );
}

/** Either answers at once (`auto`) or stores the pending consent and shows the page. */
function consentOrAuto(state: EmulatorState, url: URL, app: AppState, p: PendingConsent): Response {
  if (p.sellingPartnerId !== undefined) {
    const seller = state.sellers.get(p.sellingPartnerId);
    if (!seller) return errorPage(state, 400, 'unknown_seller', 'The selling partner is unknown.');
    if (state.consentMode === 'auto') return approve(state, p, seller, p.region, 'auto');
    const id = state.randomId();
    state.pruneShortLived();
    state.pending.set(id, p);
    return consentPage(state, app, id, [{ seller, region: p.region }]);
  }
  if (state.consentMode === 'auto') {
    const pick = autoSeller(state, url);
    if (!pick) return errorPage(state, 400, 'unknown_seller', 'No test seller is available.');
    return approve(state, p, pick.seller, pick.region, 'auto');
  }
  const options = choices(state, url);
  if (options.length === 0)
    return errorPage(state, 400, 'unknown_seller', 'No test seller is available for this host.');
  const id = state.randomId();
  state.pruneShortLived();
  state.pending.set(id, p);
  return consentPage(state, app, id, options);
}

/**
 * Where both workflows meet: the query's draft, redirect URI and PKCE checks, then the consent page
 * (or the automatic answer) for `seller`. `onAccepted` runs once every check has passed.
 */
function startConsent(
  state: EmulatorState,
  url: URL,
  app: AppState,
  seller: Pick<PendingConsent, 'region' | 'sellingPartnerId'>,
  onAccepted?: () => void,
): Response {
  const q = url.searchParams;
  const draft = checkDraft(state, app, q.get('version'));
  if (draft) return draft;
  const target = checkRedirect(state, app, q.get('redirect_uri'));
  if (!target.ok) return target.response;
  const pkce = checkPkce(state, q);
  if (!pkce.ok) return pkce.response;
  onAccepted?.();
  return consentOrAuto(state, url, app, {
    appId: app.id,
    redirectUri: target.value.uri,
    state: q.get('state') ?? undefined,
    region: seller.region,
    sellingPartnerId: seller.sellingPartnerId,
    codeChallenge: pkce.value.challenge,
    codeChallengeMethod: pkce.value.method,
    expiresAt: state.now() + PENDING_TTL_MS,
  });
}

/** GET /apps/authorize/consent?application_id&state[&redirect_uri][&version][&code_challenge…] */
export function handleConsent(request: Request, url: URL, state: EmulatorState): Response {
  const q = url.searchParams;
  const found = findApp(state, q.get('application_id'));
  if (!found.ok) return found.response;
  const app = found.value;
  return startConsent(state, url, app, {
    region: hostHints(url).region ?? 'na',
    sellingPartnerId: undefined,
  });
}

/** POST /apps/authorize/consent — the page's Confirm / Cancel. */
export async function handleConsentDecision(
  request: Request,
  url: URL,
  state: EmulatorState,
): Promise<Response> {
  let form: URLSearchParams;
  try {
    if (mediaType(request) !== 'application/x-www-form-urlencoded') {
      return errorPage(state, 415, 'bad_request', 'The consent form must be posted as a form.');
    }
    form = new URLSearchParams(await readText(request, 8 * 1024));
  } catch (err) {
    if (err instanceof BadRequest)
      return errorPage(state, err.status, 'bad_request', 'The consent form could not be read.');
    throw err;
  }
  const id = form.get('consent_id') ?? '';
  const p = state.pending.get(id);
  if (!p || p.expiresAt <= state.now()) {
    state.pending.delete(id);
    return errorPage(
      state,
      400,
      'consent_expired',
      'This consent page has expired. Start the authorization again.',
    );
  }
  const action = form.get('action');
  if (action === 'cancel') {
    state.pending.delete(id);
    state.countConsent('cancel');
    // What Amazon sends on Cancel is undocumented: the emulator stays on Amazon and
    // never calls the redirect URI, the case a client must survive (its transaction just expires).
    return page(
      'Authorization cancelled',
      '<h1>Authorization cancelled</h1><p>You did not authorize the application. You can close this page.</p>',
    );
  }
  if (action !== 'confirm') return errorPage(state, 400, 'bad_request', 'Choose Confirm or Cancel.');
  const [spid, region] = (form.get('seller') ?? '').split(':');
  const seller = spid === undefined ? undefined : state.sellers.get(spid);
  const allowed =
    seller !== undefined &&
    (p.sellingPartnerId === undefined || p.sellingPartnerId === spid) &&
    seller.regions.includes(region as Region);
  if (!allowed) return errorPage(state, 400, 'unknown_seller', 'Choose one of the offered accounts.');
  state.pending.delete(id);
  return approve(state, p, seller, region as Region, 'confirm');
}

/**
 * The `amazon_callback_uri`: on the host the control API chose (one of Amazon's, or a bare path),
 * else on the emulator's own origin. On a non-Amazon host it carries the region as a `region` hint,
 * because the origin alone cannot tell the service which region it is.
 */
function callbackUri(url: URL, appId: string, state: EmulatorState, region: Region): string {
  const path = `/apps/authorize/confirm/${encodeURIComponent(appId)}`;
  const chosen = state.appstoreCallbackHost;
  if (chosen === 'relative') return path;
  if (chosen !== undefined) return `https://${chosen}${path}`;
  const u = new URL(path, url.origin);
  if (!AMAZON_CONSENT_HOSTS.has(url.hostname.toLowerCase())) u.searchParams.set('region', region);
  return u.href;
}

/** GET /appstore/authorize?application_id[&selling_partner_id][&version] — "Authorize now" in the Appstore. */
export function handleAppstoreAuthorize(request: Request, url: URL, state: EmulatorState): Response {
  const q = url.searchParams;
  const found = findApp(state, q.get('application_id'));
  if (!found.ok) return found.response;
  const app = found.value;
  const draft = checkDraft(state, app, q.get('version'));
  if (draft) return draft;
  if (app.loginUri === undefined) {
    return errorPage(state, 400, 'MD9100', 'The application has no OAuth Login URI.');
  }
  const chosen = state.appstoreCallbackHost;
  const hinted =
    chosen !== undefined && chosen !== 'relative'
      ? findConsentHost(chosen)?.marketplace.region
      : hostHints(url).region;
  const requested = q.get('selling_partner_id');
  const seller =
    requested === null ? state.defaultSeller(hinted ?? 'na', 'seller') : state.sellers.get(requested);
  // The Appstore workflow is for sellers only.
  if (!seller || seller.kind !== 'seller')
    return errorPage(state, 400, 'unknown_seller', 'The selling partner is unknown or not a seller.');
  const region = hinted !== undefined && seller.regions.includes(hinted) ? hinted : seller.regions[0]!;
  const amazonState = state.randomId();
  state.pruneShortLived();
  const beta = q.get('version') === 'beta';
  state.amazonStates.set(amazonState, {
    appId: app.id,
    sellingPartnerId: seller.sellingPartnerId,
    region,
    beta,
    expiresAt: state.now() + PENDING_TTL_MS,
    used: false,
  });
  const target = new URL(app.loginUri);
  target.searchParams.append('amazon_callback_uri', callbackUri(url, app.id, state, region));
  target.searchParams.append('amazon_state', amazonState);
  target.searchParams.append('selling_partner_id', seller.sellingPartnerId);
  if (beta) target.searchParams.append('version', 'beta');
  state.countConsent('appstore_hop');
  return redirect(target.href);
}

/** GET /apps/authorize/confirm/:applicationId?redirect_uri&amazon_state&state[&version] — back from the Login URI. */
export function handleAppstoreConfirm(
  request: Request,
  url: URL,
  state: EmulatorState,
  applicationId: string,
): Response {
  const q = url.searchParams;
  const found = findApp(state, applicationId);
  if (!found.ok) return found.response;
  const app = found.value;
  const amazonState = q.get('amazon_state') ?? '';
  const record = state.amazonStates.get(amazonState);
  if (!record || record.used || record.appId !== app.id || record.expiresAt <= state.now()) {
    return errorPage(
      state,
      400,
      'invalid_amazon_state',
      'The authorization request is invalid or has expired.',
    );
  }
  return startConsent(
    state,
    url,
    app,
    { region: record.region, sellingPartnerId: record.sellingPartnerId },
    () => void (record.used = true),
  );
}
