// docs/security.md T-E3, T-E4, T-E5: `serve` killed with SIGKILL at named points of a code exchange and
// of a refresh (the test-only SPAPI_AUTH_FAULT_POINT hook, src/server/flows/fault-points.ts), then
// restarted: every seller has exactly one row that decrypts and refreshes, no half-written row, no
// lease stuck past its time-to-live. SQLite, one file shared by every process of the test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { EmulatorApplication } from '../../src/emulator/types.js';
import type { Store } from '../../src/storage/store.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import {
  createKey,
  followRedirects,
  freePort,
  markerSecrets,
  openTestStore,
  refreshCalls,
  seedSellers,
  serveEnv,
  startServe,
  startTestEmulator,
  testSellers,
  type ServeProcess,
} from '../helpers/e2e.js';

const SELLERS = testSellers(6, 'CRS');
const ids = SELLERS.map((s) => s.sellingPartnerId);
const REAUTH = ids[0]!;
const NEW_SELLER = ids[5]!;
const REFRESH_POINTS = ['after_lease', 'after_lwa_refresh_response', 'before_cas', 'after_cas'] as const;
const BY_POINT = new Map(REFRESH_POINTS.map((p, i) => [p, ids[i + 1]!]));
const LEASE_TTL_MS = 15_000;

describe('SIGKILL at named points, then restart (T-E3, T-E4, T-E5)', () => {
  const secrets = markerSecrets('Crash');
  const canary = createCanary();
  let dir: string;
  let databaseUrl: string;
  let amazon: RunningEmulator;
  let app: EmulatorApplication;
  let store: Store;
  let apiKey: string;
  let seeded: Map<string, { refreshToken: string; accessToken: string }>;
  let publicPort: number;
  const outputs: { stdout: string; stderr: string }[] = [];
  const live: ServeProcess[] = [];

  const env = (port: number, point?: string): Record<string, string> =>
    serveEnv({
      app,
      secrets,
      amazon,
      databaseUrl,
      publicUrl: `http://127.0.0.1:${publicPort}`,
      port,
      extra: point ? { SPAPI_AUTH_FAULT_POINT: point } : {},
    });

  const start = async (port: number, point?: string): Promise<ServeProcess> => {
    const s = await startServe(env(port, point));
    live.push(s);
    return s;
  };

  const tokenOf = (s: ServeProcess, seller: string): Promise<Response> =>
    fetch(`${s.url}/v1/sellers/${seller}/access-token`, { headers: { authorization: `Bearer ${apiKey}` } });

  /** Expects the process to die by SIGKILL and keeps its output for the sweep. */
  const expectKilled = async (s: ServeProcess): Promise<void> => {
    const { signal } = await s.exited;
    assert.equal(signal, 'SIGKILL');
    outputs.push(s.output());
  };

  const rows = (): {
    selling_partner_id: string;
    lease_owner: string | null;
    lease_expires_at: number | null;
  }[] => {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    try {
      return db
        .prepare(
          'SELECT selling_partner_id, lease_owner, lease_expires_at FROM sellers ORDER BY selling_partner_id',
        )
        .all() as {
        selling_partner_id: string;
        lease_owner: string | null;
        lease_expires_at: number | null;
      }[];
    } finally {
      db.close();
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spapi-crash-'));
    databaseUrl = `sqlite:${join(dir, 'spapi-auth.db')}`;
    publicPort = await freePort();
    ({ amazon, app } = await startTestEmulator(`http://127.0.0.1:${publicPort}`, secrets.clientSecret, {
      sellers: SELLERS,
    }));
    await amazon.emulator.control.consentMode('auto');
    store = await openTestStore(databaseUrl, secrets.encryptionKeys);
    seeded = await seedSellers(amazon, app, secrets.clientSecret, store, ids.slice(0, 5));
    apiKey = await createKey(store);
    addRunSecrets(canary, { ...secrets, apiKey, seeded });
  });

  after(async () => {
    await Promise.all(live.map((s) => s.stop()));
    await store?.close();
    await amazon?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('T-E3: killed right after LWA answered a code exchange → no seller row, the link is spent', async () => {
    const serve = await start(publicPort, 'after_lwa_code_response');
    await amazon.emulator.control.consentMode('auto', NEW_SELLER);
    const session = await fetch(`${serve.url}/v1/connect-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: 'crash-user', marketplace: 'US' }),
    });
    assert.equal(session.status, 201);
    const { url } = (await session.json()) as { url: string };
    const codes = async (): Promise<number> =>
      (await amazon.emulator.control.stats()).token.authorization_code?.ok ?? 0;
    const before = await codes();
    await assert.rejects(followRedirects(url), 'the connection dies with the process');
    await expectKilled(serve);
    assert.equal((await codes()) - before, 1, 'LWA issued the grant before the crash');
    assert.equal(
      await store.getSeller({ sellingPartnerId: NEW_SELLER, region: 'na' }),
      null,
      'no half-written row',
    );
  });

  it('T-E4: killed during a re-authorization → the old token is intact and still refreshes', async () => {
    const serve = await start(publicPort, 'after_lwa_code_response');
    await amazon.emulator.control.consentMode('auto', REAUTH);
    const session = await fetch(`${serve.url}/v1/connect-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: `user-${REAUTH}`, marketplace: 'US', selling_partner_id: REAUTH }),
    });
    assert.equal(session.status, 201);
    const { url } = (await session.json()) as { url: string };
    await assert.rejects(followRedirects(url));
    await expectKilled(serve);
    const after = await store.loadTokens({ sellingPartnerId: REAUTH, region: 'na' });
    assert.equal(after?.refreshToken, seeded.get(REAUTH)!.refreshToken, 'the old refresh token is untouched');
  });

  it('T-E5: killed after the lease, after the LWA answer, before and after the compare-and-set → after restart one valid row each, no stuck lease', async () => {
    // One process per point, all at once, each killing itself on its own seller's refresh.
    const ports = await Promise.all(REFRESH_POINTS.map(() => freePort()));
    const crashing = await Promise.all(REFRESH_POINTS.map((p, i) => start(ports[i]!, p)));
    await Promise.all(
      REFRESH_POINTS.map(async (p, i) => {
        await assert.rejects(tokenOf(crashing[i]!, BY_POINT.get(p)!));
        await expectKilled(crashing[i]!);
      }),
    );
    const killedAt = Date.now();
    const healthy = await start(publicPort);
    // Every seller is served again once a dead holder's lease has run out. Today that takes up to two
    // lease-wait windows (~25 s): a waiter does not take over a lease that expires while it waits,
    // it answers 503 at its 12 s deadline and the next request takes the lease (reported).
    const before = await refreshCalls(amazon);
    const served = new Map<string, string>();
    const last = new Map<string, string>();
    const sellers = [REAUTH, ...BY_POINT.values()];
    while (served.size < sellers.length && Date.now() - killedAt < LEASE_TTL_MS + 15_000) {
      await Promise.all(
        sellers
          .filter((s) => !served.has(s))
          .map(async (s) => {
            const res = await tokenOf(healthy, s);
            const body = (await res.json()) as { access_token?: string };
            if (res.status === 200) served.set(s, body.access_token!);
            else last.set(s, `${res.status} ${JSON.stringify(body)} at ${Date.now() - killedAt} ms`);
          }),
      );
      if (served.size < sellers.length) await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(
      [...served.keys()].sort(),
      [...sellers].sort(),
      `every seller is served after the restart: ${JSON.stringify([...last])} ${JSON.stringify(rows())}`,
    );
    assert.ok((await refreshCalls(amazon)) - before <= sellers.length, 'at most one refresh per seller');
    // Exactly one row per seller, each decrypting to its own refresh token, and no lease left.
    const all = rows();
    assert.deepEqual(
      all.map((r) => r.selling_partner_id),
      ids.slice(0, 5),
      'one row per seller and none for the crashed exchange',
    );
    for (const id of ids.slice(0, 5)) {
      const t = await store.loadTokens({ sellingPartnerId: id, region: 'na' });
      assert.equal(t?.refreshToken, seeded.get(id)!.refreshToken);
      assert.equal(t?.accessToken?.accessToken, served.get(id) ?? t?.accessToken?.accessToken);
    }
    const now = Date.now();
    assert.ok(
      all.every((r) => r.lease_owner === null || (r.lease_expires_at ?? 0) > now - LEASE_TTL_MS),
      'no lease stuck past its time-to-live',
    );
    outputs.push(healthy.output());
  });

  it('T-H1: no marker secret in the output of the killed and the restarted processes', () => {
    canary.assertClean({
      stdout: outputs.map((o) => o.stdout).join('\n'),
      stderr: outputs.map((o) => o.stderr).join('\n'),
    });
  });
});

it('the fault hook is refused when NODE_ENV=production, and only known points are accepted', () => {
  const base = {
    LWA_CLIENT_ID: 'amzn1.application-oa2-client.x',
    LWA_CLIENT_SECRET: 'secret-value-0000',
    SPAPI_APPLICATION_ID: 'amzn1.sp.solution.x',
    SPAPI_AUTH_PUBLIC_URL: 'https://auth.example.com',
    SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
  };
  assert.equal(loadConfig(base, { mode: 'serve' }).faultPoint, undefined);
  assert.equal(
    loadConfig({ ...base, SPAPI_AUTH_FAULT_POINT: 'before_cas' }, { mode: 'serve' }).faultPoint,
    'before_cas',
  );
  for (const env of [
    { ...base, SPAPI_AUTH_FAULT_POINT: 'before_cas', NODE_ENV: 'production' },
    { ...base, SPAPI_AUTH_FAULT_POINT: 'somewhere_else' },
  ]) {
    assert.throws(
      () => loadConfig(env, { mode: 'serve' }),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith('SPAPI_AUTH_FAULT_POINT'),
    );
  }
});
