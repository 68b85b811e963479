/**
 * The browser flows: connect links (website workflow), the Appstore Login URI with its optional
 * sign-in hop, and the OAuth callback. The state is 32 random bytes kept only as a hash, bound to
 * the browser by a separate random cookie whose hash is stored with it, single use (consumed
 * atomically by the store: one winner under duplicate callbacks) and valid 10 minutes. The code is
 * exchanged once and never appears in a URL, a log or an error body.
 */
import { buildAppstoreContinueUrl, validateAmazonCallbackUri } from '../../core/consent.js';
import { LoginRequestError, isSpapiAuthError } from '../../core/errors.js';
import {
  MARKETPLACES,
  findMarketplace,
  type Marketplace,
  type PartnerKind,
  type Region,
} from '../../core/marketplaces.js';
import { createPkce, createState, hashState, randomToken } from '../../core/state.js';
import { SellerOwnershipError, StorageError } from '../../storage/errors.js';
import type { OAuthTransaction, SessionType } from '../../storage/store.js';
import type { ServiceContext } from '../context.js';
import { readCookie, serializeCookie } from '../http/cookies.js';
import {
  HttpError,
  errorResponse,
  json,
  parseQuery,
  readJsonObject,
  redirect,
  type ServerRequest,
  type ServerResponse,
} from '../http/request.js';
import { errorPage, html, page } from '../http/html.js';
import type { HttpErrorCode, HttpFailure, HttpStatusOf } from '../http/errors.js';
import type { Router } from '../http/router.js';
import { SELLER_ID, TOKEN, USER_REF } from '../http/validate.js';

/**
 * Lifetime of connect links, pending Appstore sessions and OAuth transactions.
 *
 * @example
 * const expiresAt = now() + FLOW_TTL_MS; // 10 minutes
 */
export const FLOW_TTL_MS = 10 * 60 * 1000;

/** The payload of a connect session (website link, or the Appstore flow after the app's sign-in). */
export interface ConnectPayload {
  readonly flow: 'website' | 'appstore';
  readonly user_ref: string | null;
  readonly marketplace: string;
  readonly kind: PartnerKind;
  readonly return_to: string | null;
  readonly selling_partner_id: string | null;
  readonly amazon_callback_uri?: string;
  readonly amazon_state?: string;
  readonly version_beta?: boolean;
}

/** The payload of a pending Appstore session (before the app's sign-in). */
export interface AppstorePayload {
  readonly amazon_callback_uri: string;
  readonly amazon_state: string;
  readonly selling_partner_id: string;
  readonly marketplace: string;
  readonly version_beta: boolean;
}

// Amazon's codes are short opaque strings; 512 leaves room without accepting a 10 KB parameter.
const CODE = /^[A-Za-z0-9._~|+/=-]{1,512}$/;
const AMAZON_STATE = /^[\x21-\x7e]{1,1024}$/;
const MAX_PARAM = 2048;

/**
 * The binding cookie's name: `__Host-` needs Secure, which needs https.
 *
 * @example
 * bindingCookieName(true); // '__Host-spapi_tx'
 */
export function bindingCookieName(secure: boolean): string {
  return secure ? '__Host-spapi_tx' : 'spapi_tx';
}

/**
 * Registers the flow routes on `router`.
 *
 * @example
 * registerFlowRoutes(new Router(PARAM_RULES), context);
 */
export function registerFlowRoutes(router: Router, ctx: ServiceContext): void {
  const { config, store, log, audit } = ctx;
  const cookieName = bindingCookieName(config.secureCookies);
  // The binding cookie is not cleared after use: its transaction is consumed, it expires with it,
  // and a reload of the callback then reports `state_used` rather than `state_not_bound`.

  const wantsJson = (req: ServerRequest): boolean =>
    /\bapplication\/json\b/i.test(req.header('accept') ?? '');
  const fail = <C extends HttpErrorCode>(
    req: ServerRequest,
    status: HttpStatusOf<C>,
    code: C,
    message: string,
  ): ServerResponse =>
    wantsJson(req) ? errorResponse(status, code, message) : errorPage(status, code, message);

  /** Creates the OAuth transaction and its binding cookie; returns the state and the Set-Cookie value. */
  const startTransaction = async (input: {
    flow: 'website' | 'appstore';
    kind: PartnerKind;
    marketplace: Marketplace;
    region: Region;
    userRef: string | null;
    returnTo: string | null;
    expectedSellingPartnerId: string | null;
  }): Promise<{ state: string; cookie: string; codeChallenge: string | undefined }> => {
    const state = createState();
    const binding = randomToken(32);
    const pkce = config.pkce ? await createPkce() : undefined;
    await store.createOAuthTransaction({
      stateHash: await hashState(state),
      bindingHash: await hashState(binding),
      flow: input.flow,
      kind: input.kind,
      marketplace: input.marketplace.countryCode,
      region: input.region,
      userRef: input.userRef,
      returnTo: input.returnTo,
      expectedSellingPartnerId: input.expectedSellingPartnerId,
      pkceVerifier: pkce?.codeVerifier ?? null,
      expiresAt: ctx.now() + FLOW_TTL_MS,
    });
    const cookie = serializeCookie(cookieName, binding, {
      maxAgeSeconds: FLOW_TTL_MS / 1000,
      secure: config.secureCookies,
      sameSite: 'Lax',
    });
    return { state, cookie, codeChallenge: pkce?.codeChallenge };
  };

  /** Refuses before any exchange when the seller belongs to another user_ref. */
  const checkOwnership = async (
    sellingPartnerId: string,
    userRef: string | null,
    region?: Region,
  ): Promise<void> => {
    if (userRef === null || config.allowRelink) return;
    const existing = await store.findSellers(sellingPartnerId);
    if (
      existing.some(
        (s) => (region === undefined || s.region === region) && s.userRef !== null && s.userRef !== userRef,
      )
    ) {
      throw new HttpError(
        409,
        'seller_owned_by_other_user',
        'This selling partner is already linked to another user.',
      );
    }
  };

  // ── Website workflow, step 1: the app asks for a connect link ──
  router.add('POST', '/v1/connect-sessions', async (req) => {
    const key = await ctx.keys.authenticate(req.header('authorization'), 'connect');
    const body = await readJsonObject(req);
    const userRef = userRefOf(body);
    const marketplace = typeof body.marketplace === 'string' ? findMarketplace(body.marketplace) : undefined;
    if (!marketplace) {
      throw new HttpError(
        400,
        'invalid_marketplace',
        'marketplace must be a country code (US, DE, …) or a marketplace id.',
      );
    }
    const kind = body.kind ?? 'seller';
    if (kind !== 'seller' && kind !== 'vendor')
      throw new HttpError(400, 'invalid_kind', 'kind must be seller or vendor.');
    let returnTo: string | null = null;
    if (body.return_to !== undefined && body.return_to !== null) {
      returnTo = checkReturnTo(body.return_to, config.returnOrigins);
    }
    let expected: string | null = null;
    if (body.selling_partner_id !== undefined && body.selling_partner_id !== null) {
      if (typeof body.selling_partner_id !== 'string' || !SELLER_ID.test(body.selling_partner_id)) {
        throw new HttpError(400, 'invalid_seller_id', 'The selling partner id is malformed.');
      }
      expected = body.selling_partner_id;
      const known = (await store.findSellers(expected)).filter((s) => s.region === marketplace.region);
      if (known.length === 0) {
        throw new HttpError(404, 'seller_not_found', 'No such seller to re-authorize in that region.');
      }
      await checkOwnership(expected, userRef, marketplace.region);
    }
    const payload: ConnectPayload = {
      flow: 'website',
      user_ref: userRef,
      marketplace: marketplace.countryCode,
      kind,
      return_to: returnTo,
      selling_partner_id: expected,
    };
    const { token, expiresAt } = await createFlowSession(ctx, 'connect', payload);
    audit.add({
      action: 'connect_session.created',
      actor: key.id,
      sellingPartnerId: expected,
      region: marketplace.region,
      outcome: 'ok',
    });
    return json(201, {
      url: `${config.publicUrl}/connect/${token}`,
      expires_at: new Date(expiresAt).toISOString(),
    });
  });

  // ── Website workflow, step 2 (and the Appstore flow after sign-in): the browser opens the link ──
  router.add('GET', '/connect/:token', async (req, { params }) => {
    const result = await store.consumeSession(await hashState(params.token!), 'connect');
    if (!result.ok) {
      const [status, code, message] = SESSION_FAILURES[result.reason];
      return fail(req, status, code, message);
    }
    const p = result.value.payload as unknown as ConnectPayload;
    const marketplace = findMarketplace(p.marketplace);
    if (!marketplace) return fail(req, 400, 'invalid_marketplace', 'The link names an unknown marketplace.');
    if (p.flow === 'appstore') {
      const callback = checkAmazonCallbackUri(
        p.amazon_callback_uri ?? '',
        config.applicationId,
        config.amazonUrl,
      );
      const { state, cookie, codeChallenge } = await startTransaction({
        flow: 'appstore',
        kind: 'seller',
        marketplace,
        region: marketplace.region,
        userRef: p.user_ref,
        returnTo: null,
        expectedSellingPartnerId: p.selling_partner_id,
      });
      return redirect(
        302,
        appstoreRedirect(
          callback,
          p.amazon_state!,
          state,
          config.redirectUri,
          p.version_beta === true || config.draftApp,
          codeChallenge,
        ),
        {
          'set-cookie': cookie,
        },
      );
    }
    const { state, cookie, codeChallenge } = await startTransaction({
      flow: 'website',
      kind: p.kind,
      marketplace,
      region: marketplace.region,
      userRef: p.user_ref,
      returnTo: p.return_to,
      expectedSellingPartnerId: p.selling_partner_id,
    });
    log.info('connect started', { flow: 'website', region: marketplace.region, kind: p.kind });
    return redirect(302, ctx.amazon.consentUrl({ marketplace, kind: p.kind, state, codeChallenge }), {
      'set-cookie': cookie,
    });
  });

  // ── Appstore workflow, step 1: Amazon loads our Login URI ──
  router.add('GET', '/oauth/login', async (req) => {
    const q = parseQuery(req.rawQuery);
    if (q instanceof HttpError) return fail(req, 400, 'invalid_login_request', q.message);
    const rawUri = q.get('amazon_callback_uri');
    const amazonState = q.get('amazon_state');
    const sellerId = q.get('selling_partner_id');
    const version = q.get('version');
    if (rawUri === undefined || amazonState === undefined || sellerId === undefined) {
      return fail(
        req,
        400,
        'invalid_login_request',
        'amazon_callback_uri, amazon_state and selling_partner_id are required.',
      );
    }
    let callback: URL;
    try {
      callback = checkAmazonCallbackUri(rawUri, config.applicationId, config.amazonUrl);
    } catch (err) {
      if (err instanceof HttpError) return fail(req, err.status, err.code, err.message);
      throw err;
    }
    if (!AMAZON_STATE.test(amazonState))
      return fail(req, 400, 'invalid_login_request', 'amazon_state is malformed.');
    if (!SELLER_ID.test(sellerId))
      return fail(req, 400, 'invalid_seller_id', 'The selling partner id is malformed.');
    if (version !== undefined && version !== 'beta')
      return fail(req, 400, 'invalid_login_request', 'version must be beta.');
    const marketplace = marketplaceOfHost(callback, config.amazonUrl);
    const beta = version === 'beta';

    if (config.signinUrl !== undefined) {
      const payload: AppstorePayload = {
        amazon_callback_uri: callback.href,
        amazon_state: amazonState,
        selling_partner_id: sellerId,
        marketplace: marketplace.countryCode,
        version_beta: beta,
      };
      const { token } = await createFlowSession(ctx, 'appstore', payload);
      const signin = new URL(config.signinUrl);
      signin.searchParams.set('spapi_pending', token);
      log.info('appstore login pending sign-in', { flow: 'appstore', seller_id: sellerId });
      return redirect(302, signin.href);
    }
    const { state, cookie, codeChallenge } = await startTransaction({
      flow: 'appstore',
      kind: 'seller',
      marketplace,
      region: marketplace.region,
      userRef: null,
      returnTo: null,
      expectedSellingPartnerId: sellerId,
    });
    log.info('appstore login', { flow: 'appstore', seller_id: sellerId, region: marketplace.region });
    return redirect(
      302,
      appstoreRedirect(
        callback,
        amazonState,
        state,
        config.redirectUri,
        beta || config.draftApp,
        codeChallenge,
      ),
      {
        'set-cookie': cookie,
      },
    );
  });

  // ── Appstore workflow, step 2: the app has signed its user in ──
  router.add('POST', '/v1/appstore-sessions/:token/confirm', async (req, { params }) => {
    const key = await ctx.keys.authenticate(req.header('authorization'), 'connect');
    const body = await readJsonObject(req);
    const userRef = userRefOf(body);
    const result = await store.consumeSession(await hashState(params.token!), 'appstore');
    if (!result.ok) {
      const [status, code, message] = SESSION_FAILURES[result.reason];
      throw new HttpError(status, code, message);
    }
    const p = result.value.payload as unknown as AppstorePayload;
    const marketplace = findMarketplace(p.marketplace);
    await checkOwnership(p.selling_partner_id, userRef, marketplace?.region);
    const payload: ConnectPayload = {
      flow: 'appstore',
      user_ref: userRef,
      marketplace: p.marketplace,
      kind: 'seller',
      return_to: null,
      selling_partner_id: p.selling_partner_id,
      amazon_callback_uri: p.amazon_callback_uri,
      amazon_state: p.amazon_state,
      version_beta: p.version_beta,
    };
    const { token } = await createFlowSession(ctx, 'connect', payload);
    audit.add({
      action: 'appstore_session.confirmed',
      actor: key.id,
      sellingPartnerId: p.selling_partner_id,
      outcome: 'ok',
    });
    return json(200, { url: `${config.publicUrl}/connect/${token}` });
  });

  // ── Both workflows: Amazon sends the browser back with the code ──
  router.add('GET', '/oauth/callback', async (req) => {
    const q = parseQuery(req.rawQuery);
    if (q instanceof HttpError) {
      // A repeated state is the classic sign of a tampered callback: report it as such.
      const code = /\bstate\b/.test(q.message) ? 'state_invalid' : 'invalid_callback';
      return fail(req, 400, code, q.message);
    }
    for (const [name, value] of q) {
      if (value.length > MAX_PARAM || /[\x00-\x1f\x7f]/.test(value) || /[^\x20-\x7e]/.test(value)) {
        const code = name === 'state' ? 'state_invalid' : 'invalid_callback';
        return fail(
          req,
          400,
          code,
          'A callback parameter is too long or has characters that are not allowed.',
        );
      }
    }
    const state = q.get('state');
    const sellerId = q.get('selling_partner_id');
    const code = q.get('spapi_oauth_code');
    const error = q.get('error');
    if (state === undefined || state === '')
      return fail(req, 400, 'state_missing', 'The callback has no state.');
    if (!TOKEN.test(state))
      return fail(req, 400, 'state_invalid', 'The state is not one this service issued.');
    if (sellerId !== undefined && !SELLER_ID.test(sellerId)) {
      return fail(req, 400, 'invalid_callback', 'The selling partner id is malformed.');
    }
    if (code !== undefined && !CODE.test(code))
      return fail(req, 400, 'invalid_callback', 'The authorization code is malformed.');
    if (q.has('iss')) log.warn('unexpected iss parameter on callback', { route: '/oauth/callback' });

    const binding = readCookie(req.header('cookie'), cookieName);
    if (binding === undefined || !TOKEN.test(binding)) {
      return fail(
        req,
        400,
        'state_not_bound',
        'This browser did not start this authorization (the binding cookie is missing).',
      );
    }
    const consumed = await store.consumeOAuthTransaction(await hashState(state), await hashState(binding));
    if (!consumed.ok) {
      const [status, errCode, message] = STATE_FAILURES[consumed.reason];
      return fail(req, status, errCode, message);
    }
    const tx = consumed.value;
    if (error !== undefined) {
      audit.add({
        action: 'seller.authorization_denied',
        outcome: 'authorization_denied',
        region: tx.region,
      });
      return fail(req, 400, 'authorization_denied', 'The authorization was cancelled on Amazon.');
    }
    if (code === undefined || code === '')
      return fail(req, 400, 'code_missing', 'Amazon sent no authorization code.');
    if (sellerId === undefined)
      return fail(req, 400, 'invalid_callback', 'Amazon sent no selling partner id.');
    if (tx.expectedSellingPartnerId !== null && tx.expectedSellingPartnerId !== sellerId) {
      log.warn('callback seller does not match the expected seller', { flow: tx.flow, seller_id: sellerId });
      audit.add({
        action: 'seller.authorization_refused',
        sellingPartnerId: sellerId,
        region: tx.region,
        outcome: 'seller_mismatch',
      });
      return fail(
        req,
        409,
        'seller_mismatch',
        'Amazon returned a different selling partner than the one expected.',
      );
    }
    try {
      await checkOwnership(sellerId, tx.userRef, tx.region);
    } catch (err) {
      if (err instanceof HttpError) {
        audit.add({
          action: 'seller.authorization_refused',
          sellingPartnerId: sellerId,
          region: tx.region,
          outcome: err.code,
        });
        return fail(req, err.status, err.code, err.message);
      }
      throw err;
    }
    return completeAuthorization(req, tx, sellerId, code);
  });

  router.add('GET', '/oauth/result', (req) => {
    const q = parseQuery(req.rawQuery);
    const sellerId = q instanceof HttpError ? undefined : q.get('selling_partner_id');
    const region = q instanceof HttpError ? undefined : q.get('region');
    const shown = sellerId !== undefined && SELLER_ID.test(sellerId) ? sellerId : 'the selling partner';
    const where = region === 'na' || region === 'eu' || region === 'fe' ? region.toUpperCase() : undefined;
    return page(
      200,
      'Seller connected',
      html`<p class="ok">
          ${shown} is connected${where ? html` in region ${where}` : ''}. You can close this page.
        </p>
        ${config.mode === 'dev' ? html`<p><a href="/">Back to the start page</a></p>` : ''}`,
    );
  });

  const completeAuthorization = async (
    req: ServerRequest,
    tx: OAuthTransaction,
    sellerId: string,
    code: string,
  ): Promise<ServerResponse> => {
    let tokens;
    try {
      tokens = await ctx.amazon.exchangeCode({ code, codeVerifier: tx.pkceVerifier ?? undefined });
    } catch (err) {
      const mapped = mapExchangeError(err);
      log.warn('code exchange failed', { flow: tx.flow, seller_id: sellerId, code: mapped.code });
      audit.add({
        action: 'seller.authorization_failed',
        sellingPartnerId: sellerId,
        region: tx.region,
        outcome: mapped.code,
      });
      return fail(req, mapped.status, mapped.code, mapped.message);
    }
    const now = ctx.now();
    try {
      const saved = await store.saveAuthorization({
        sellingPartnerId: sellerId,
        region: tx.region,
        kind: tx.kind,
        userRef: tx.userRef,
        marketplace: tx.marketplace,
        refreshToken: tokens.refreshToken,
        accessToken: tokens.accessToken,
        allowRelink: config.allowRelink,
        events: [
          {
            id: randomToken(16),
            type: 'seller.authorized',
            createdAt: now,
            data: {
              selling_partner_id: sellerId,
              region: tx.region,
              kind: tx.kind,
              user_ref: tx.userRef,
              flow: tx.flow,
            },
          },
        ],
        audit: [
          {
            action: 'seller.authorized',
            actor: tx.flow,
            sellingPartnerId: sellerId,
            region: tx.region,
            outcome: 'ok',
            details: { kind: tx.kind, user_ref: tx.userRef },
          },
        ],
      });
      ctx.amazon.forget({ sellingPartnerId: sellerId, region: tx.region });
      log.info('seller authorized', {
        flow: tx.flow,
        seller_id: sellerId,
        region: tx.region,
        kind: saved.created ? 'new' : 'renewed',
      });
    } catch (err) {
      if (err instanceof SellerOwnershipError) {
        return fail(
          req,
          409,
          'seller_owned_by_other_user',
          'This selling partner is already linked to another user.',
        );
      }
      throw err;
    }
    const target = tx.returnTo !== null ? new URL(tx.returnTo) : new URL(`${config.publicUrl}/oauth/result`);
    target.searchParams.set('status', 'connected');
    target.searchParams.set('selling_partner_id', sellerId);
    target.searchParams.set('region', tx.region);
    return redirect(303, target.href);
  };
}

/**
 * Stores a single-use session (a connect link, or a pending Appstore sign-in) under the hash of a
 * new random token, valid {@link FLOW_TTL_MS}; returns the token (shown once, in a URL).
 *
 * @example
 * const { token } = await createFlowSession(ctx, 'connect', { flow: 'website', user_ref: 'u1', … });
 */
export async function createFlowSession(
  ctx: Pick<ServiceContext, 'store' | 'now'>,
  type: SessionType,
  payload: ConnectPayload | AppstorePayload,
): Promise<{ token: string; expiresAt: number }> {
  const token = randomToken(32);
  const expiresAt = ctx.now() + FLOW_TTL_MS;
  await ctx.store.createSession({
    tokenHash: await hashState(token),
    type,
    expiresAt,
    payload: { ...payload },
  });
  return { token, expiresAt };
}

/** The codes a failed code exchange answers with. */
type ExchangeFailureCode =
  'authorization_code_invalid' | 'upstream_credentials_invalid' | 'upstream_unavailable';

/** Maps a failed exchange to the status, code and message the browser sees. */
function mapExchangeError(err: unknown): { status: 400 | 503; code: ExchangeFailureCode; message: string } {
  if (isSpapiAuthError(err)) {
    switch (err.code) {
      case 'authorization_code_invalid':
        return {
          status: 400,
          code: 'authorization_code_invalid',
          message: 'The authorization expired or was already used. Please authorize again.',
        };
      case 'invalid_client':
        return {
          status: 503,
          code: 'upstream_credentials_invalid',
          message: "The app's Login with Amazon credentials were refused.",
        };
      default:
        return {
          status: 503,
          code: 'upstream_unavailable',
          message: 'Login with Amazon could not be reached. Please authorize again in a few minutes.',
        };
    }
  }
  if (err instanceof StorageError) throw err;
  return {
    status: 503,
    code: 'upstream_unavailable',
    message: 'Login with Amazon could not be reached. Please authorize again in a few minutes.',
  };
}

const STATE_FAILURES: Record<'not_found' | 'expired' | 'consumed' | 'binding_mismatch', HttpFailure> = {
  not_found: [400, 'state_invalid', 'The state is not one this service issued.'],
  expired: [400, 'state_expired', 'This authorization took too long (over 10 minutes). Please start again.'],
  consumed: [400, 'state_used', 'This authorization was already completed or attempted.'],
  binding_mismatch: [400, 'state_not_bound', 'This browser did not start this authorization.'],
};

const SESSION_FAILURES: Record<'not_found' | 'expired' | 'consumed' | 'binding_mismatch', HttpFailure> = {
  not_found: [404, 'link_invalid', 'This link is not valid.'],
  expired: [410, 'link_expired', 'This link has expired (links live 10 minutes). Ask for a new one.'],
  consumed: [410, 'link_used', 'This link was already used. Ask for a new one.'],
  binding_mismatch: [404, 'link_invalid', 'This link is not valid.'],
};

/**
 * Checks a `return_to` against the allowed origins (exact origin match, http(s) only, no
 * credentials) and returns it normalised, or throws a 400.
 *
 * @example
 * checkReturnTo('https://app.example.com/done', ['https://app.example.com']); // 'https://app.example.com/done'
 */
export function checkReturnTo(value: unknown, allowed: readonly string[]): string {
  const bad = new HttpError(
    400,
    'invalid_return_to',
    'return_to must be a URL on an allowed origin (SPAPI_AUTH_RETURN_ORIGINS).',
  );
  if (typeof value !== 'string' || value.length > 2048 || /[\x00-\x20\x7f\\]/.test(value)) throw bad;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.hash) throw bad;
  if (!allowed.includes(u.origin)) throw bad;
  return u.href;
}

/**
 * The core's `amazon_callback_uri` check (https, no userinfo or port, an Amazon consent host or the
 * configured emulator, the exact confirm path of our application), as a 400 for the routes.
 */
function checkAmazonCallbackUri(value: string, applicationId: string, amazonUrl: string | undefined): URL {
  try {
    return validateAmazonCallbackUri(
      value,
      amazonUrl === undefined ? { applicationId } : { applicationId, amazonUrl },
    );
  } catch (err) {
    if (err instanceof LoginRequestError) {
      throw new HttpError(
        400,
        'invalid_callback_uri',
        'amazon_callback_uri is not an Amazon confirmation URL for this application.',
      );
    }
    throw err;
  }
}

/** The marketplace a consent host serves (its first in Amazon's table), for the region of an Appstore authorization. */
function marketplaceOfHost(u: URL, emulatorOrigin: string | undefined): Marketplace {
  if (emulatorOrigin === undefined || u.origin !== emulatorOrigin) {
    const origin = u.origin;
    const m = MARKETPLACES.find((x) => x.sellerCentral === origin || x.vendorCentral === origin);
    if (m) return m;
    if (HOST_ALIASES[u.hostname]) return findMarketplace(HOST_ALIASES[u.hostname]!)!;
  }
  // The emulator serves every region from one origin; it reports the region by a `region` hint
  // when it has one, else the flow is filed under North America.
  const hint = u.searchParams.get('region');
  const byRegion = MARKETPLACES.find((x) => x.region === hint);
  return byRegion ?? findMarketplace('US')!;
}

const HOST_ALIASES: Readonly<Record<string, string>> = {
  'sellercentral.amazon.co.uk': 'UK',
  'sellercentral.amazon.de': 'DE',
  'sellercentral.amazon.fr': 'FR',
  'sellercentral.amazon.it': 'IT',
  'sellercentral.amazon.es': 'ES',
  'www.vendorcentral.in': 'IN',
};

/** The Appstore hop back to Amazon, built by the core from parts (never by string concatenation). */
function appstoreRedirect(
  callback: URL,
  amazonState: string,
  state: string,
  redirectUri: string,
  beta: boolean,
  codeChallenge: string | undefined,
): string {
  return buildAppstoreContinueUrl({
    amazonCallbackUri: callback,
    amazonState,
    state,
    redirectUri,
    beta,
    ...(codeChallenge !== undefined ? { codeChallenge } : {}),
  });
}

/** The app's user id from a JSON body, checked before any store work. */
function userRefOf(body: Readonly<Record<string, unknown>>): string {
  const userRef = body.user_ref;
  if (typeof userRef !== 'string' || !USER_REF.test(userRef)) {
    throw new HttpError(
      400,
      'invalid_user_ref',
      'user_ref must be a string of 1 to 256 printable characters.',
    );
  }
  return userRef;
}
