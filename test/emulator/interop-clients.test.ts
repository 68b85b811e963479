// Interoperability beside amazon-sp-api: three more clients nobody here wrote talk to the emulator,
// unchanged, through the happy path and Amazon's invalid_grant, invalid_client, 403 and 429.
// - The official SDK (`LwaAuthClient`, and `SellersApi` with its own token retrieval) and
//   `@sp-api-sdk/auth` (with `@sp-api-sdk/common`, the axios instance every @sp-api-sdk API package
//   uses) keep Amazon's https URLs and Node's https stack: Node's global https agent is replaced by one
//   whose sockets are plain TCP to the emulator, so the emulator reads the real Host (and so the
//   region) of every call — the routing, not the client, is what changes.
// - `oauth4webapi`, a generic OAuth 2 client, is configured as any OAuth client is: an authorization
//   server whose token endpoint is the emulator's; its SP-API calls name their Amazon host in
//   x-amzn-emulator-host, as any client of the emulator's own origin does.
import { test, after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { connect, type Socket } from 'node:net';
import * as oauth from 'oauth4webapi';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { APP, REDIRECT, SECRET, consentCode, tokenRequest } from './helpers.js';

const PARTICIPATIONS = '/sellers/v1/marketplaceParticipations';
const NA = 'https://sellingpartnerapi-na.amazon.com';
const EU = 'https://sellingpartnerapi-eu.amazon.com';
const REGION_REFUSED = {
  code: 'Unauthorized',
  message: 'Access to requested resource is denied.',
  details: '',
};

let server: RunningEmulator;
const hosts = new Set<string>();

/**
 * Node's https agent with plain TCP sockets to the emulator. A class with no constructor arguments:
 * a client that opts out of pooling (`agent: false`, superagent's default) gets `new` of the global
 * agent's class, so it is routed too.
 */
class RoutedAgent extends https.Agent {
  constructor() {
    super({ keepAlive: false });
  }
  override createConnection(
    options: { host?: string | null },
    callback?: (e: Error | null, s: Socket) => void,
  ) {
    hosts.add(String(options.host));
    const socket = connect(server.port, '127.0.0.1');
    callback?.(null, socket);
    return socket;
  }
}

const realAgent = https.globalAgent;
before(async () => {
  server = await startEmulator({
    port: 0,
    consentMode: 'auto',
    rates: { getMarketplaceParticipations: { rate: 0.001, burst: 2 } },
  });
  (https as { globalAgent: https.Agent }).globalAgent = new RoutedAgent();
});
after(async () => {
  (https as { globalAgent: https.Agent }).globalAgent = realAgent;
  await server.close();
});
beforeEach(() => server.emulator.control.reset());

/** A fresh NA seller's refresh token (set-up through the emulator's own fetch, not the client under test). */
async function naRefreshToken(): Promise<string> {
  const { code } = await consentCode(server.emulator.fetch);
  const res = await tokenRequest(server.emulator.fetch, { grant_type: 'authorization_code', code });
  return ((await res.json()) as { refresh_token: string }).refresh_token;
}

// The official SDK's shapes, as far as these tests use them.
interface SdkModule {
  LwaAuthClient: new (
    id: string,
    secret: string,
    refreshToken: string | null,
    scope?: string | null,
  ) => {
    getAccessToken(): Promise<string>;
  };
  SellersSpApi: {
    ApiClient: new (basePath: string) => {
      enableAutoRetrievalAccessToken(id: string, secret: string, refreshToken: string): unknown;
      disableRateLimiter(): void;
    };
    SellersApi: new (client: unknown) => {
      getMarketplaceParticipations(): Promise<{ payload: { marketplace: { id: string } }[] }>;
    };
  };
}
/** superagent's error for a non-2xx answer. */
interface SuperagentError {
  status: number;
  response: { body: Record<string, unknown>; headers: Record<string, string | undefined> };
}
const sdk = () => import('@amazon-sp-api-release/amazon-sp-api-sdk-js' as string) as Promise<SdkModule>;

async function rejection<T>(promise: Promise<unknown>): Promise<T> {
  try {
    await promise;
  } catch (err) {
    return err as T;
  }
  throw new assert.AssertionError({ message: 'expected a rejection' });
}

test('official SDK: LwaAuthClient refreshes and grantless; SellersApi calls SP-API with its own token retrieval', async () => {
  const { LwaAuthClient, SellersSpApi } = await sdk();
  const refreshToken = await naRefreshToken();
  assert.match(await new LwaAuthClient(APP.clientId, SECRET, refreshToken).getAccessToken(), /^Atza\|/);
  const grantless = new LwaAuthClient(APP.clientId, SECRET, null, 'sellingpartnerapi::notifications');
  assert.match(await grantless.getAccessToken(), /^Atc\|/);
  const client = new SellersSpApi.ApiClient(NA);
  client.enableAutoRetrievalAccessToken(APP.clientId, SECRET, refreshToken);
  const { payload } = await new SellersSpApi.SellersApi(client).getMarketplaceParticipations();
  assert.ok(payload.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));
  assert.ok(hosts.has('api.amazon.com') && hosts.has('sellingpartnerapi-na.amazon.com'));
});

test('official SDK: invalid_grant, invalid_client, the other region’s 403 and a 429, as Amazon answers them', async () => {
  const { LwaAuthClient, SellersSpApi } = await sdk();
  const refreshToken = await naRefreshToken();
  const revoked = await rejection<SuperagentError>(
    new LwaAuthClient(APP.clientId, SECRET, 'Atzr|unknown').getAccessToken(),
  );
  assert.equal(revoked.status, 400);
  assert.equal(revoked.response.body.error, 'invalid_grant');
  const wrong = await rejection<SuperagentError>(
    new LwaAuthClient(APP.clientId, 'wrong', refreshToken).getAccessToken(),
  );
  assert.equal(wrong.status, 401);
  assert.equal(wrong.response.body.error, 'invalid_client');

  const eu = new SellersSpApi.ApiClient(EU);
  eu.enableAutoRetrievalAccessToken(APP.clientId, SECRET, refreshToken);
  const refused = await rejection<SuperagentError>(
    new SellersSpApi.SellersApi(eu).getMarketplaceParticipations(),
  );
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.response.body.errors, [REGION_REFUSED]);

  const na = new SellersSpApi.ApiClient(NA);
  na.enableAutoRetrievalAccessToken(APP.clientId, SECRET, refreshToken);
  na.disableRateLimiter(); // the SDK's own limiter would wait instead of letting Amazon's 429 through
  const api = new SellersSpApi.SellersApi(na);
  await api.getMarketplaceParticipations();
  await api.getMarketplaceParticipations();
  const throttled = await rejection<SuperagentError>(api.getMarketplaceParticipations());
  assert.equal(throttled.status, 429);
  assert.equal((throttled.response.body.errors as { code: string }[])[0]!.code, 'QuotaExceeded');
  assert.equal(throttled.response.headers['x-amzn-ratelimit-limit'], undefined);
});

test('@sp-api-sdk/auth with @sp-api-sdk/common: token, SP-API call, and the four failures', async () => {
  const { SellingPartnerApiAuth, SellingPartnerApiAuthError } = await import('@sp-api-sdk/auth');
  const { createAxiosInstance, SellingPartnerApiError } = await import('@sp-api-sdk/common');
  const refreshToken = await naRefreshToken();
  const auth = new SellingPartnerApiAuth({ clientId: APP.clientId, clientSecret: SECRET, refreshToken });
  assert.match(await auth.getAccessToken(), /^Atza\|/);
  const na = createAxiosInstance({ auth, region: 'na' }, []);
  const ok = await na.axios.get<{ payload: { marketplace: { id: string } }[] }>(na.endpoint + PARTICIPATIONS);
  assert.ok(ok.data.payload.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));

  for (const [credentials, status, error] of [
    [{ clientSecret: SECRET, refreshToken: 'Atzr|unknown' }, 400, 'invalid_grant'],
    [{ clientSecret: 'wrong', refreshToken }, 401, 'invalid_client'],
  ] as const) {
    const failing = new SellingPartnerApiAuth({ clientId: APP.clientId, ...credentials });
    const err = await rejection<InstanceType<typeof SellingPartnerApiAuthError>>(failing.getAccessToken());
    assert.ok(err instanceof SellingPartnerApiAuthError);
    assert.equal(err.response?.status, status);
    assert.equal((err.response?.data as unknown as { error: string }).error, error);
  }

  const eu = createAxiosInstance({ auth, region: 'eu' }, []);
  const refused = await rejection<InstanceType<typeof SellingPartnerApiError>>(
    eu.axios.get(eu.endpoint + PARTICIPATIONS),
  );
  assert.ok(refused instanceof SellingPartnerApiError);
  assert.equal(refused.response?.status, 403);
  assert.deepEqual((refused.response?.data as { errors: unknown[] }).errors, [REGION_REFUSED]);

  await na.axios.get(na.endpoint + PARTICIPATIONS);
  const throttled = await rejection<InstanceType<typeof SellingPartnerApiError>>(
    na.axios.get(na.endpoint + PARTICIPATIONS),
  );
  assert.equal(throttled.response?.status, 429);
  assert.equal(throttled.response?.headers['x-amzn-ratelimit-limit'], undefined);
  assert.equal((throttled.response?.data as { errors: { code: string }[] }).errors[0]!.code, 'QuotaExceeded');
});

test('oauth4webapi: code exchange, refresh, client credentials, both client auth methods, and the failures', async () => {
  const as: oauth.AuthorizationServer = {
    issuer: 'https://www.amazon.com',
    token_endpoint: `${server.url}/auth/o2/token`,
  };
  const client: oauth.Client = { client_id: APP.clientId };
  const insecure = { [oauth.allowInsecureRequests]: true }; // the emulator on 127.0.0.1 speaks http
  const callback = await consentCode(server.emulator.fetch, { state: 'oauth4webapi-state' });
  // Amazon names the code spapi_oauth_code on the redirect; an integrator hands it to the client as
  // OAuth's `code`, and the exchange is plain OAuth 2.
  const params = oauth.validateAuthResponse(
    as,
    client,
    new URLSearchParams({ code: callback.code, state: callback.state! }),
    'oauth4webapi-state',
  );
  const exchanged = await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretPost(SECRET),
      params,
      REDIRECT,
      oauth.nopkce,
      insecure,
    ),
  );
  assert.match(exchanged.refresh_token!, /^Atzr\|/);
  assert.equal(exchanged.token_type, 'bearer');

  for (const clientAuth of [oauth.ClientSecretPost(SECRET), oauth.ClientSecretBasic(SECRET)]) {
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, exchanged.refresh_token!, insecure),
    );
    assert.match(refreshed.access_token, /^Atza\|/);
    assert.equal(refreshed.refresh_token, exchanged.refresh_token, 'LWA does not rotate refresh tokens');
  }
  const grantless = await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(SECRET),
      { scope: 'sellingpartnerapi::client_credential:rotation' },
      insecure,
    ),
  );
  assert.equal(grantless.scope, 'sellingpartnerapi::client_credential:rotation');

  // invalid_grant: a refresh token LWA does not know; invalid_client: a wrong secret, by both methods.
  const fail = async (response: Promise<Response>) =>
    rejection<oauth.ResponseBodyError>(oauth.processRefreshTokenResponse(as, client, await response));
  const revoked = await fail(
    oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretPost(SECRET), 'Atzr|unknown', insecure),
  );
  assert.ok(revoked instanceof oauth.ResponseBodyError);
  assert.equal(revoked.error, 'invalid_grant');
  assert.equal(revoked.status, 400);
  for (const clientAuth of [oauth.ClientSecretPost('wrong'), oauth.ClientSecretBasic('wrong')]) {
    const wrong = await fail(
      oauth.refreshTokenGrantRequest(as, client, clientAuth, exchanged.refresh_token!, insecure),
    );
    // No WWW-Authenticate challenge (Amazon's 401 shows none): the client reads the JSON error.
    assert.ok(wrong instanceof oauth.ResponseBodyError, 'a body error, not a WWW-Authenticate challenge');
    assert.equal(wrong.error, 'invalid_client');
    assert.equal(wrong.status, 401);
  }

  // SP-API with the token: the other region's 403, then Amazon's 429 once the bucket is empty.
  const spapi = (region: string) =>
    oauth.protectedResourceRequest(
      exchanged.access_token,
      'GET',
      new URL(server.url + PARTICIPATIONS),
      new Headers({
        'x-amz-access-token': exchanged.access_token,
        'x-amzn-emulator-host': `sellingpartnerapi-${region}.amazon.com`,
      }),
      null,
      insecure,
    );
  const refused = await spapi('eu');
  assert.equal(refused.status, 403);
  assert.deepEqual(((await refused.json()) as { errors: unknown[] }).errors, [REGION_REFUSED]);
  assert.equal((await spapi('na')).status, 200);
  assert.equal((await spapi('na')).status, 200);
  const throttled = await spapi('na');
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers.get('x-amzn-ratelimit-limit'), null);
});
