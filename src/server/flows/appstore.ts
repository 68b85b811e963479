/**
 * The Appstore workflow: Amazon loads our Login URI with `amazon_callback_uri`, `amazon_state` and
 * `selling_partner_id`; the core parses and validates them (the callback URI is a redirect target:
 * an Amazon host and our exact confirm path, or a 400 and no redirect). With a sign-in URL the
 * browser first goes to the app's own sign-in page, and the app's backend confirms the pending
 * session with the signed-in user's `user_ref`; without one it goes straight back to Amazon. The
 * Login URI stores nothing either way: the pending session or the OAuth transaction is carried,
 * signed, in the sign-in token or the state (`carried.ts`) until the seller comes back.
 */
import {
  buildAppstoreContinueUrl,
  parseLoginRequest,
  type CallbackUriPolicy,
  type LoginRequest,
} from '../../core/consent.js';
import { LoginRequestError } from '../../core/errors.js';
import { findConsentHost, findMarketplace, MARKETPLACES, type Marketplace } from '../../core/marketplaces.js';
import type { Config } from '../../config.js';
import type { ServiceContext } from '../context.js';
import { httpError, json, redirect, type ServerResponse } from '../http/request.js';
import type { Router } from '../http/router.js';
import { APPSTORE_LOGIN, CONFIRM_APPSTORE_SESSION } from './routes.js';
import {
  SESSION_FAILURES,
  checkOwnership,
  createFlowSession,
  flowFailure,
  headWithoutSideEffects,
  rateLimited,
  startTransaction,
  userRefOf,
  type AppstorePayload,
  type ConnectPayload,
} from './transaction.js';
import { consumePendingAppstore, pendingAppstoreToken, startCarriedTransaction } from './carried.js';

/**
 * What an `amazon_callback_uri` must be for this service: Amazon's hosts and our confirm path (or the
 * configured emulator).
 *
 * @example
 * parseLoginRequest(req.rawQuery, callbackUriPolicy(config));
 */
export function callbackUriPolicy(config: Pick<Config, 'applicationId' | 'amazonUrl'>): CallbackUriPolicy {
  return config.amazonUrl === undefined
    ? { applicationId: config.applicationId }
    : { applicationId: config.applicationId, amazonUrl: config.amazonUrl };
}

/** What the hop back to Amazon needs: the validated Login URI request, and who it is for. */
export interface AppstoreContinuation {
  readonly login: LoginRequest;
  readonly userRef: string | null;
}

/**
 * Starts the OAuth transaction of an Appstore authorization and sends the browser back to the
 * validated `amazon_callback_uri`, with our state and redirect URI built by the core from parts.
 *
 * @example
 * return continueAtAmazon(ctx, { login, userRef: null });
 */
export async function continueAtAmazon(
  ctx: ServiceContext,
  { login, userRef }: AppstoreContinuation,
): Promise<ServerResponse> {
  const { config } = ctx;
  const marketplace = marketplaceOfCallback(login.amazonCallbackUri, config.amazonUrl);
  // Anonymous (the Login URI itself): carried in the state, nothing stored. After the app's sign-in
  // (a connect link its backend made with an API key): stored, like a website flow's.
  const { state, cookie, codeChallenge } =
    userRef === null
      ? await startCarriedTransaction(ctx, marketplace, login.sellingPartnerId)
      : await startTransaction(ctx, {
          flow: 'appstore',
          kind: 'seller',
          marketplace,
          region: marketplace.region,
          userRef,
          returnTo: null,
          expectedSellingPartnerId: login.sellingPartnerId,
        });
  const location = buildAppstoreContinueUrl({
    amazonCallbackUri: login.amazonCallbackUri,
    amazonState: login.amazonState,
    state,
    redirectUri: config.redirectUri,
    beta: login.beta || config.draftApp,
    ...(codeChallenge !== undefined ? { codeChallenge } : {}),
  });
  return redirect(302, location, { 'set-cookie': cookie });
}

/**
 * Re-validates a stored Login URI request (a pending Appstore session's payload) with the core,
 * as if Amazon had just sent it.
 *
 * @example
 * const login = storedLoginRequest(payload, config);
 */
export function storedLoginRequest(
  p: Pick<ConnectPayload, 'amazon_callback_uri' | 'amazon_state' | 'selling_partner_id' | 'version_beta'>,
  config: Pick<Config, 'applicationId' | 'amazonUrl'>,
): LoginRequest {
  const q = new URLSearchParams();
  q.set('amazon_callback_uri', p.amazon_callback_uri ?? '');
  q.set('amazon_state', p.amazon_state ?? '');
  q.set('selling_partner_id', p.selling_partner_id ?? '');
  if (p.version_beta === true) q.set('version', 'beta');
  return parseLoginRequest(q, callbackUriPolicy(config));
}

/**
 * Registers `GET /oauth/login` (the Login URI) and `POST /v1/appstore-sessions/:token/confirm`.
 *
 * @example
 * registerAppstoreRoutes(router, ctx);
 */
export function registerAppstoreRoutes(router: Router, ctx: ServiceContext): void {
  const { config, store, log, audit } = ctx;

  // ── Appstore workflow, step 1: Amazon loads our Login URI ──
  router.route(
    APPSTORE_LOGIN,
    headWithoutSideEffects(
      rateLimited(ctx, async (req) => {
        let login: LoginRequest;
        try {
          login = parseLoginRequest(req.rawQuery, callbackUriPolicy(config));
        } catch (err) {
          if (err instanceof LoginRequestError) return flowFailure(req, err.code);
          throw err;
        }
        // A valid Login URI hit stores nothing (carried.ts): what it starts travels in the
        // sign-in token or the state until the seller comes back, so a flood costs no rows.
        if (config.signinUrl !== undefined) {
          const marketplace = marketplaceOfCallback(login.amazonCallbackUri, config.amazonUrl);
          const payload: AppstorePayload = {
            amazon_callback_uri: login.amazonCallbackUri.href,
            amazon_state: login.amazonState,
            selling_partner_id: login.sellingPartnerId,
            marketplace: marketplace.countryCode,
            version_beta: login.beta,
          };
          const signin = new URL(config.signinUrl);
          signin.searchParams.set('spapi_pending', pendingAppstoreToken(ctx, payload));
          log.info('appstore login pending sign-in', { flow: 'appstore', seller_id: login.sellingPartnerId });
          return redirect(302, signin.href);
        }
        log.info('appstore login', { flow: 'appstore', seller_id: login.sellingPartnerId });
        return continueAtAmazon(ctx, { login, userRef: null });
      }),
    ),
  );

  // ── Appstore workflow, step 2: the app has signed its user in ──
  router.route(CONFIRM_APPSTORE_SESSION, async (req, { params }) => {
    const key = await ctx.keys.authenticate(req.header('authorization'), CONFIRM_APPSTORE_SESSION.scope);
    const body = await CONFIRM_APPSTORE_SESSION.readBody(req);
    const userRef = userRefOf(body);
    const result = await consumePendingAppstore(ctx, params.token!);
    if (!result.ok) {
      throw httpError(SESSION_FAILURES[result.reason]);
    }
    const p = result.value.payload as unknown as AppstorePayload;
    // Refused here only for a key that may read sellers anyway; for a connect-only key the callback
    // refuses it, before any exchange, so this answer does not tell who owns the seller.
    if (key.scopes.has('sellers:read')) await checkOwnership(ctx, p.selling_partner_id, userRef);
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
}

/**
 * The marketplace an Appstore authorization is filed under: the one whose consent host Amazon's
 * `amazon_callback_uri` is on (the marketplace table knows every host and alias). The emulator
 * serves every region from one origin; it names the region in a `region` hint, else North America.
 */
function marketplaceOfCallback(u: URL, emulatorOrigin: string | undefined): Marketplace {
  if (emulatorOrigin === undefined || u.origin !== new URL(emulatorOrigin).origin) {
    const known = findConsentHost(u.hostname);
    if (known) return known.marketplace;
  }
  const hint = u.searchParams.get('region');
  return MARKETPLACES.find((x) => x.region === hint) ?? findMarketplace('US')!;
}
