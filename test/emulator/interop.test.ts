// Interoperability: the npm package `amazon-sp-api` (nobody here wrote it) talks to the emulator.
// It speaks https to api.amazon.com and sellingpartnerapi-na.amazon.com through node's `https`
// module and accepts an agent (`options.https_proxy_agent`); our agent hands it a plain TCP socket
// to the emulator, so the client believes it speaks TLS to Amazon while the emulator reads HTTP.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { APP, SECRET } from './helpers.js';

const require = createRequire(import.meta.url);
const SellingPartner = require('amazon-sp-api') as new (config: Record<string, unknown>) => {
  exchange(code: string): Promise<{ refresh_token: string; access_token: string }>;
  callAPI(params: Record<string, unknown>): Promise<unknown>;
};

/** An https.Agent whose connections are plain TCP to the emulator, whatever host was asked. */
class EmulatorAgent extends Agent {
  hosts: string[] = [];
  constructor(private readonly port: number) {
    super({ keepAlive: false });
  }
  override createConnection(
    options: { host?: string | null },
    callback?: (err: Error | null, socket: Socket) => void,
  ): Socket {
    this.hosts.push(String(options.host));
    const socket = connect(this.port, '127.0.0.1');
    callback?.(null, socket);
    return socket;
  }
}

let server: RunningEmulator;
before(async () => {
  server = await startEmulator({ port: 0, consentMode: 'auto' });
});
after(() => server.close());

/** An agent, amazon-sp-api's credentials and options over it, and a fresh code from consent (auto mode). */
async function setUp(state: string) {
  const agent = new EmulatorAgent(server.port);
  const consent = await fetch(
    `${server.url}/apps/authorize/consent?application_id=${APP.id}&state=${state}`,
    {
      redirect: 'manual',
    },
  );
  const code = new URL(consent.headers.get('location')!).searchParams.get('spapi_oauth_code')!;
  const credentials = {
    SELLING_PARTNER_APP_CLIENT_ID: APP.clientId,
    SELLING_PARTNER_APP_CLIENT_SECRET: SECRET,
  };
  const options = {
    https_proxy_agent: agent,
    auto_request_throttled: false,
    credentials_path: '/nonexistent',
  };
  const bootstrap = new SellingPartner({
    region: 'na',
    credentials,
    options: { ...options, only_grantless_operations: true },
  });
  return { agent, code, credentials, options, bootstrap };
}

test('amazon-sp-api exchanges a code, refreshes, and calls SP-API operations against the emulator', async () => {
  const { agent, code, credentials, options, bootstrap } = await setUp('interop');
  const exchanged = await bootstrap.exchange(code); // JSON body, no redirect_uri (as DG2021's example)
  assert.match(exchanged.refresh_token, /^Atzr\|/);

  const sp = new SellingPartner({
    region: 'na',
    refresh_token: exchanged.refresh_token,
    credentials,
    options,
  });
  const participations = (await sp.callAPI({
    operation: 'getMarketplaceParticipations',
    endpoint: 'sellers',
  })) as { marketplace: { id: string } }[];
  assert.ok(participations.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));

  const rdt = (await sp.callAPI({
    operation: 'createRestrictedDataToken',
    endpoint: 'tokens',
    body: {
      restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo'] }],
    },
  })) as { restrictedDataToken: string };
  const orders = (await sp.callAPI({
    operation: 'getOrders',
    endpoint: 'orders',
    query: { MarketplaceIds: ['ATVPDKIKX0DER'], CreatedAfter: '2026-01-01T00:00:00Z' },
    restricted_data_token: rdt.restrictedDataToken,
  })) as { Orders: { BuyerInfo?: { BuyerEmail: string } }[] };
  assert.ok(orders.Orders.length > 0 && orders.Orders.every((o) => o.BuyerInfo?.BuyerEmail));

  // Every connection was for Amazon's real hosts; the emulator answered all of them.
  assert.deepEqual([...new Set(agent.hosts)].sort(), ['api.amazon.com', 'sellingpartnerapi-na.amazon.com']);
  const stats = await server.emulator.control.stats();
  assert.equal(stats.token.authorization_code?.ok, 1);
  assert.equal(stats.token.refresh_token?.ok, 1, 'one refresh, reused for three calls');
  assert.equal(stats.spapi['/sellers/v1/marketplaceParticipations']?.['200'], 1);
  assert.equal(stats.spapi['/tokens/2021-03-01/restrictedDataToken']?.['200'], 1);
  assert.equal(stats.spapi['/orders/v0/orders']?.['200'], 1);
});

test('amazon-sp-api sees Amazon’s error codes: invalid_client and a revoked seller’s invalid_grant', async () => {
  const agent = new EmulatorAgent(server.port);
  const wrong = new SellingPartner({
    region: 'na',
    refresh_token: 'Atzr|whatever',
    credentials: { SELLING_PARTNER_APP_CLIENT_ID: APP.clientId, SELLING_PARTNER_APP_CLIENT_SECRET: 'wrong' },
    options: { https_proxy_agent: agent, auto_request_throttled: false, credentials_path: '/nonexistent' },
  });
  await assert.rejects(wrong.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' }), {
    code: 'invalid_client',
  });
  const unknown = new SellingPartner({
    region: 'na',
    refresh_token: 'Atzr|revoked-or-unknown',
    credentials: { SELLING_PARTNER_APP_CLIENT_ID: APP.clientId, SELLING_PARTNER_APP_CLIENT_SECRET: SECRET },
    options: { https_proxy_agent: agent, auto_request_throttled: false, credentials_path: '/nonexistent' },
  });
  await assert.rejects(unknown.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' }), {
    code: 'invalid_grant',
  });
});

test('amazon-sp-api keeps the real Host, so the emulator checks regions: an NA seller at the EU endpoint is refused', async () => {
  const { agent, code, credentials, options, bootstrap } = await setUp('region');
  const { refresh_token } = await bootstrap.exchange(code);
  const eu = new SellingPartner({ region: 'eu', refresh_token, credentials, options });
  await assert.rejects(eu.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' }), {
    code: 'Unauthorized',
    message: 'Access to requested resource is denied.',
  });
  const na = new SellingPartner({ region: 'na', refresh_token, credentials, options });
  assert.ok(
    Array.isArray(await na.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' })),
  );
  assert.ok(agent.hosts.includes('sellingpartnerapi-eu.amazon.com'));
});
