// The "Done when" run, as a test: `keys create --json`, `serve` as a process against the
// emulator on another port with SQLite, a connect session followed with a cookie jar over real HTTP,
// the seller in GET /v1/sellers, an access token that works on the emulator's SP-API — then the
// canary sweep over the process's output and the database file, and a graceful SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devApplication } from '../../src/emulator/dev-app.js';
import { startEmulator } from '../../src/emulator/index.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import { followRedirects } from '../helpers/e2e.js';
import { freePort } from '../helpers/service.js';
import { cliCommand, repoRoot, runCli } from '../helpers/cli.js';

const SECRET = 'CANARYsecretServeE2E00000000000000000000000000';

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${buf}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}: ${buf}`));
    });
  });
}

test('serve + emulator on ports + SQLite: keys create → connect → sellers → token → SP-API; no canary leaks; clean SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-serve-'));
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const app = { ...devApplication(publicUrl), clientSecret: SECRET };
  const emulator = await startEmulator({ port: 0, applications: [app] });
  let child: ChildProcess | undefined;
  try {
    await emulator.emulator.control.consentMode('auto');
    const env = {
      LWA_CLIENT_ID: app.clientId,
      LWA_CLIENT_SECRET: SECRET,
      SPAPI_APPLICATION_ID: app.id,
      SPAPI_AUTH_PUBLIC_URL: publicUrl,
      SPAPI_AUTH_AMAZON_URL: emulator.url,
      SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      DATABASE_URL: `sqlite:${join(dir, 'spapi-auth.db')}`,
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    const migrated = await runCli(['migrate'], { env, cwd: repoRoot });
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stderr, /created a new SQLite database at /, 'a new database file is said');
    const created = await runCli(
      ['keys', 'create', '--scopes', 'tokens:read,sellers:read,connect', '--json'],
      { env, cwd: repoRoot },
    );
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { id: string; key: string; scopes: string[] };
    assert.match(key.key, /^spk_[0-9a-f]{16}_/);
    assert.deepEqual(key.scopes, ['tokens:read', 'sellers:read', 'connect']);

    const [cmd, ...prefix] = cliCommand();
    child = spawn(cmd!, [...prefix, 'serve'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitForLine(child, /listening on http:\/\/\S+/);

    const auth = { authorization: `Bearer ${key.key}` };
    const session = await fetch(`${publicUrl}/v1/connect-sessions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: 'acct-1', marketplace: 'US' }),
    });
    assert.equal(session.status, 201);
    const { url } = (await session.json()) as { url: string };
    const done = await followRedirects(url);
    assert.equal(done.status, 200);
    assert.ok(done.url.startsWith(`${publicUrl}/oauth/result?status=connected`), done.url);

    const sellers = (await (await fetch(`${publicUrl}/v1/sellers`, { headers: auth })).json()) as {
      items: { selling_partner_id: string; user_ref: string }[];
    };
    assert.deepEqual(
      sellers.items.map((s) => [s.selling_partner_id, s.user_ref]),
      [['A1EMUSELLERNA01', 'acct-1']],
    );
    const tokenRes = await fetch(`${publicUrl}/v1/sellers/A1EMUSELLERNA01/access-token`, { headers: auth });
    assert.equal(tokenRes.status, 200);
    const token = (await tokenRes.json()) as { access_token: string; endpoint: string };
    // The emulator's origin naming the region's real host: a client that only joins paths onto it
    // gets that region's checks, as at Amazon.
    assert.equal(token.endpoint, `${emulator.url}/__amazon/sellingpartnerapi-na.amazon.com`);
    const participations = await fetch(`${token.endpoint}/sellers/v1/marketplaceParticipations`, {
      headers: { 'x-amz-access-token': token.access_token },
    });
    assert.equal(participations.status, 200);
    assert.ok(Array.isArray(((await participations.json()) as { payload: unknown[] }).payload));
    // The same token at the EU endpoint, as the token API would hand it out for EU: Amazon's 403.
    const wrongRegion = await fetch(
      `${token.endpoint.replace('sellingpartnerapi-na', 'sellingpartnerapi-eu')}/sellers/v1/marketplaceParticipations`,
      { headers: { 'x-amz-access-token': token.access_token } },
    );
    assert.equal(wrongRegion.status, 403);

    // Bad inputs on the real socket: raw traversal and a header-smuggling attempt.
    const traversal = await fetch(`${publicUrl}/v1/sellers/..%2F..%2Fadmin/access-token`, { headers: auth });
    assert.equal(traversal.status, 400);
    const unauth = await fetch(`${publicUrl}/v1/sellers`);
    assert.equal(unauth.status, 401);
    const bodyText = await unauth.text();

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child = undefined;
    assert.equal(code, 0, err);
    assert.match(err, /stopped/);

    // Canary sweep: the client secret, the API key, the refresh and access tokens never appear in
    // the service's output or error bodies, and never in clear in the database files.
    const store = await openStore(env.DATABASE_URL, {
      keyRing: parseKeyRing(env.SPAPI_AUTH_ENCRYPTION_KEYS),
    });
    const stored = await store.loadTokens({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
    await store.close();
    const refreshToken = stored!.refreshToken;
    assert.match(refreshToken, /^Atzr\|/);
    const markers = [SECRET, key.key, token.access_token, refreshToken, 'Atzr|', 'Atza|'];
    for (const m of markers) {
      assert.ok(
        !out.includes(m) && !err.includes(m) && !bodyText.includes(m),
        'a secret leaked into the output',
      );
    }
    const dbBytes = readdirSync(dir)
      .filter((f) => f.startsWith('spapi-auth.db'))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('');
    assert.ok(dbBytes.length > 0);
    for (const m of markers) assert.ok(!dbBytes.includes(m), 'a secret is stored in clear');
    // Access logs carry route patterns, never the connect token or the callback's query string.
    assert.ok(out.includes('"route":"/oauth/callback"'));
    assert.ok(!out.includes('spapi_oauth_code'));
    assert.ok(!out.includes(new URL(url).pathname.split('/')[2]!));
  } finally {
    child?.kill('SIGKILL');
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
