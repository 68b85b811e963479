// Revocations take effect on every instance: two services on one PostgreSQL schema (as two
// instances behind a load balancer). After an admin logout, an API key revocation or a seller
// deletion on instance A, the next request on instance B is refused — B must not keep serving
// from its session cookie check, its verified-key cache or its in-memory access token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyRing } from '../../src/storage/crypto.js';
import { randomBytes } from 'node:crypto';
import { dropSchemas, postgresSuiteRuns, runSchema } from '../storage/helpers.js';
import { api, Browser, connectSeller, errorCode, PUBLIC_URL } from '../helpers/service.js';
import { cookiePair, csrfOf, makeOpsService, type OpsService } from '../helpers/ops-service.js';

const PASSWORD = 'correct horse battery staple';
const SELLER = 'A1EMUSELLERNA01';
const PREFIX = `spapi_test_revoke_${process.pid}_`; // runSchema('revoke') names

function adminGet(svc: OpsService, path: string, cookie: string): Promise<Response> {
  return svc.app.fetch(new Request(`${PUBLIC_URL}${path}`, { headers: { cookie }, redirect: 'manual' }));
}

function adminPost(
  svc: OpsService,
  path: string,
  form: Record<string, string>,
  cookie: string,
): Promise<Response> {
  return svc.app.fetch(
    new Request(`${PUBLIC_URL}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    }),
  );
}

async function login(svc: OpsService): Promise<{ cookie: string; csrf: string }> {
  const form = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/login`));
  const anon = cookiePair(form.headers.get('set-cookie'));
  const res = await adminPost(
    svc,
    '/admin/login',
    { csrf: csrfOf(await form.text()), password: PASSWORD },
    anon,
  );
  assert.equal(res.status, 303);
  const cookie = cookiePair(res.headers.get('set-cookie'));
  const page = await adminGet(svc, '/admin', cookie);
  assert.equal(page.status, 200);
  return { cookie, csrf: csrfOf(await page.text()) };
}

/** Resolves once `refused()` holds, polling every 20 ms; fails after `limitMs`. */
async function until(refused: () => Promise<boolean>, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await refused())) {
    if (Date.now() > deadline) assert.fail(`still accepted after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (await postgresSuiteRuns('revocations across instances', 'the revocation suite', 'refuses on B after A')) {
  describe('revocations across instances (PostgreSQL)', () => {
    let a: OpsService;
    let b: OpsService;
    before(async () => {
      const schema = runSchema('revoke');
      const keyRing = createKeyRing([['k1', randomBytes(32)]]);
      const env = { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD };
      // One after the other: both migrate the schema at open.
      a = await makeOpsService({ env, keyRing, postgresSchema: schema });
      b = await makeOpsService({ env, keyRing, postgresSchema: schema });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await dropSchemas(PREFIX);
    });

    it('after logout on A, the copied session cookie is refused on B (within the poll interval, no manual read)', async () => {
      const { cookie, csrf } = await login(a);
      assert.equal((await adminGet(b, '/admin', cookie)).status, 200, 'the session works on B');
      const out = await adminPost(a, '/admin/logout', { csrf }, cookie);
      assert.equal(out.status, 303);
      // The same cookie, replayed (as a copy would be): refused on A at once, on B after its next read.
      assert.equal((await adminGet(a, '/admin', cookie)).headers.get('location'), '/admin/login');
      await until(async () => (await adminGet(b, '/admin', cookie)).status === 303, 5_000);
      assert.equal((await adminGet(b, '/admin', cookie)).headers.get('location'), '/admin/login');
      const replay = await adminPost(b, '/admin/logout', { csrf }, cookie);
      assert.equal(replay.status, 403, 'no POST with the revoked session either');
      // A new login still works.
      await login(b);
    });

    it('after a key is revoked through A, its next request on B is refused (401)', async () => {
      const key = await a.key(['sellers:read']);
      assert.equal((await api(b, 'GET', '/v1/sellers', undefined, key)).status, 200, 'B caches the key');
      const id = /^spk_([0-9a-f]{16})_/.exec(key)![1]!;
      assert.equal(await a.store.revokeApiKey(id), true);
      await b.app.context.revocations.poll();
      const res = await api(b, 'GET', '/v1/sellers', undefined, key);
      assert.equal(res.status, 401);
      assert.equal(await errorCode(res), 'unauthorized');
    });

    it('after a seller re-authorizes through A, B serves the new grant’s token at its next revocation read, not the previous one', async () => {
      const id = 'A1EMUSELLERGL01';
      await connectSeller(a, { sellerId: id, userRef: 'u-reauth' });
      const tokenOn = async (svc: OpsService): Promise<string> => {
        const res = await api(svc, 'GET', `/v1/sellers/${id}/access-token`);
        assert.equal(res.status, 200);
        return ((await res.json()) as { access_token: string }).access_token;
      };
      const previous = await tokenOn(b);
      assert.equal(await tokenOn(b), previous, 'B holds the token in memory');
      // The seller renews through a link that names it (the website re-authorization).
      await a.emulator.control.consentMode('auto', id);
      const created = await api(a, 'POST', '/v1/connect-sessions', {
        user_ref: 'u-reauth',
        marketplace: 'US',
        selling_partner_id: id,
      });
      assert.equal(created.status, 201);
      const { res: done } = await new Browser(a).follow(((await created.json()) as { url: string }).url);
      assert.equal(done.status, 200, await done.text());
      const renewed = await tokenOn(a);
      assert.notEqual(renewed, previous, 'the re-authorization brought a new access token');
      await b.app.context.revocations.poll();
      assert.equal(await tokenOn(b), renewed, 'B no longer serves the previous grant’s token');
    });

    it('after a seller is deleted on A, its access token is no longer served by B (404)', async () => {
      await connectSeller(a, { sellerId: SELLER, userRef: 'u-revoke' });
      const first = await api(b, 'GET', `/v1/sellers/${SELLER}/access-token`);
      assert.equal(first.status, 200, 'B holds the token in memory');
      const del = await api(a, 'DELETE', `/v1/sellers/${SELLER}`);
      assert.equal(del.status, 200);
      await b.app.context.revocations.poll();
      const res = await api(b, 'GET', `/v1/sellers/${SELLER}/access-token`);
      assert.equal(res.status, 404);
    });
  });
}
