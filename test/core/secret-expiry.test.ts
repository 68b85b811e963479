// A client secret past its rotation deadline, against the emulator's real rotation (not a canned
// fault): SP-API refuses a still-unexpired access token issued under the old secret with "The LWA
// secret token you provided has expired."; the library refreshes once — with the new secret when
// the credentials carry it, else failing as invalid_client, which names what to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createEmulator,
  DEV_APPLICATION,
  DEV_CLIENT_SECRET,
  type Emulator,
} from '../../src/emulator/index.js';
import {
  buildConsentUrl,
  createMemoryTokenVault,
  createSpApiFetch,
  createState,
  createTokenManager,
  exchangeAuthorizationCode,
  getGrantlessToken,
  parseCallback,
  type LwaCredentials,
} from '../../src/core/index.js';

const AMAZON = 'http://127.0.0.1:4999';
const REDIRECT = 'http://localhost:3000/oauth/callback';
const OLD: LwaCredentials = { clientId: DEV_APPLICATION.clientId, clientSecret: DEV_CLIENT_SECRET };
const DAY_MS = 86_400_000;
const PATH = '/sellers/v1/marketplaceParticipations';

/** An emulator on a test clock, a connected NA seller, and a rotation whose old secret is about to lapse. */
async function rotatedWorld() {
  let t = Date.UTC(2026, 5, 1);
  const now = () => t;
  const emulator: Emulator = createEmulator({ consentMode: 'auto', now });
  const transport = { fetch: emulator.fetch, amazonUrl: AMAZON, now };
  const consent = buildConsentUrl({
    marketplace: 'US',
    applicationId: DEV_APPLICATION.id,
    state: createState(),
    redirectUri: REDIRECT,
    amazonUrl: AMAZON,
  });
  const cb = parseCallback((await emulator.fetch(consent, { redirect: 'manual' })).headers.get('location')!);
  assert.ok(cb.ok);
  const { refreshToken } = await exchangeAuthorizationCode(
    OLD,
    { code: cb.spapiOauthCode, redirectUri: REDIRECT },
    transport,
  );
  const rotation = await getGrantlessToken(OLD, 'sellingpartnerapi::client_credential:rotation', transport);
  const rotated = await emulator.fetch(
    'https://sellingpartnerapi-na.amazon.com/applications/2023-11-30/clientSecret',
    {
      method: 'POST',
      headers: { 'x-amz-access-token': rotation.accessToken },
    },
  );
  assert.equal(rotated.status, 204);
  const [note] = await emulator.control.notifications();
  const newSecret = (note!.payload.applicationOAuthClientNewSecret as { newClientSecret: string })
    .newClientSecret;
  t += 7 * DAY_MS - 10 * 60_000; // ten minutes before the old secret's deadline
  const key = { sellingPartnerId: cb.sellingPartnerId, region: 'na' } as const;
  const library = (credentials: LwaCredentials) => {
    const vault = createMemoryTokenVault();
    vault.put(key, refreshToken);
    const tokens = createTokenManager({ credentials, vault, ...transport, sleep: async () => {} });
    return { tokens, spapi: createSpApiFetch({ tokens, ...transport, sleep: async () => {} }) };
  };
  return { emulator, key, newSecret, library, advance: (ms: number) => (t += ms) };
}

test('the emulator refuses a live token issued under a lapsed secret as Amazon does', async () => {
  const w = await rotatedWorld();
  const { tokens } = w.library(OLD);
  const access = await tokens.getAccessToken(w.key); // issued under the old secret, still valid
  w.advance(20 * 60_000); // the old secret lapses; the token has 40 minutes left
  const res = await w.emulator.fetch(`https://sellingpartnerapi-na.amazon.com${PATH}`, {
    headers: { 'x-amz-access-token': access.accessToken },
  });
  assert.equal(res.status, 403);
  assert.deepEqual(((await res.json()) as { errors: unknown[] }).errors, [
    {
      code: 'Unauthorized',
      message: 'Access to requested resource is denied.',
      details: 'The LWA secret token you provided has expired.',
    },
  ]);
});

test('the library refreshes with the new secret and the call succeeds', async () => {
  const w = await rotatedWorld();
  const { tokens, spapi } = w.library({ ...OLD, clientSecretNext: w.newSecret });
  const before = await tokens.getAccessToken(w.key);
  w.advance(20 * 60_000);
  const res = await spapi({ ...w.key, path: PATH });
  assert.equal(res.status, 200);
  assert.notEqual((await tokens.getAccessToken(w.key)).accessToken, before.accessToken);
  const stats = await w.emulator.control.stats();
  assert.deepEqual(stats.spapi[PATH], { '403': 1, '200': 1 });
  assert.equal(stats.token.refresh_token?.invalid_client, 1, 'the lapsed secret is refused once');
  assert.equal(stats.token.refresh_token?.ok, 2, 'then the new secret refreshes');
});

test('without the new secret the call fails as invalid_client, not as an opaque 403', async () => {
  const w = await rotatedWorld();
  const { tokens, spapi } = w.library(OLD);
  await tokens.getAccessToken(w.key);
  w.advance(20 * 60_000);
  await assert.rejects(spapi({ ...w.key, path: PATH }), { code: 'invalid_client' });
  assert.deepEqual((await w.emulator.control.stats()).spapi[PATH], { '403': 1 });
});
