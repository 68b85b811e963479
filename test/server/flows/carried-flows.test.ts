// The Login URI stores nothing: the Appstore transaction travels in a signed state (a pending
// sign-in in a signed token) and its single use is recorded where it ends. A flood stores no row; a
// replayed, tampered, expired, foreign or unbound state is refused with its code and spends nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  AMAZON_URL,
  Browser,
  PUBLIC_URL,
  api,
  errorCode,
  makeService,
  testService,
  type TestService,
} from '../../helpers/service.js';

const CALLBACK = `${PUBLIC_URL}/oauth/callback`;
const JSON_ACCEPT = { accept: 'application/json' };

/** Amazon's "Authorize now" to our callback, stopping there: the browser holds the binding cookie. */
async function appstoreCallback(svc: TestService): Promise<{ browser: Browser; callback: URL }> {
  const browser = new Browser(svc);
  const start = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`;
  const { url } = await browser.follow(start, (u) => u.startsWith(CALLBACK));
  assert.ok(url.startsWith(CALLBACK), url);
  return { browser, callback: new URL(url) };
}

function withState(callback: URL, state: string): string {
  const u = new URL(callback);
  u.searchParams.set('state', state);
  return u.href;
}

async function expectCode(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status, `expected ${status} ${code}`);
  assert.equal(await errorCode(res), code);
}

/** A service on a SQLite file, and a count of the rows of the flow tables, pending or consumed. */
async function withFlowRows(
  env: Record<string, string>,
  fn: (svc: TestService, rows: () => { transactions: number; sessions: number }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-carried-'));
  const path = join(dir, 'db.sqlite');
  const svc = await makeService(env, { sqlitePath: path });
  const db = new Database(path, { readonly: true });
  try {
    const count = (table: string): number =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    await fn(svc, () => ({ transactions: count('oauth_transactions'), sessions: count('connect_sessions') }));
  } finally {
    db.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Login URI flood: 500 hits from 500 addresses store no row of any kind; a genuine seller completes and leaves one consumed record', () =>
  withFlowRows({}, async (svc, rows) => {
    const callbackUri = `${AMAZON_URL}/apps/authorize/confirm/${svc.config.applicationId}`;
    for (let i = 0; i < 500; i++) {
      const res = await svc.app.handle({
        method: 'GET',
        path: '/oauth/login',
        rawQuery: `amazon_callback_uri=${encodeURIComponent(callbackUri)}&amazon_state=s${i}&selling_partner_id=A1EMUSELLERNA01`,
        header: () => undefined,
        body: async () => new Uint8Array(),
        remoteAddress: `10.${i >> 8}.${i & 255}.1`,
      });
      assert.equal(res.status, 302);
    }
    assert.deepEqual(rows(), { transactions: 0, sessions: 0 });
    const { browser, callback } = await appstoreCallback(svc);
    assert.deepEqual(rows(), { transactions: 0, sessions: 0 }, 'nor the genuine seller, until it comes back');
    assert.equal((await browser.request(callback.href)).status, 303);
    assert.deepEqual(rows(), { transactions: 1, sessions: 0 }, 'the single use of its state');
    assert.equal(await svc.lwaCalls('authorization_code'), 1);
  }));

test('with a sign-in page, Login URI hits store no pending session', () =>
  withFlowRows({ SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' }, async (svc, rows) => {
    const browser = new Browser(svc);
    const start = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`;
    for (let i = 0; i < 5; i++) {
      const { url } = await browser.follow(start, (u) => u.startsWith('https://app.example.com/signin'));
      assert.ok(new URL(url).searchParams.get('spapi_pending'));
    }
    assert.deepEqual(rows(), { transactions: 0, sessions: 0 });
  }));

test('a carried state is used once: the replay gets state_used and no second exchange', async (t) => {
  const svc = await testService(t);
  const { browser, callback } = await appstoreCallback(svc);
  assert.equal((await browser.request(callback.href)).status, 303);
  await expectCode(await browser.request(callback.href, JSON_ACCEPT), 400, 'state_used');
  // Amazon's cancel with a used state is refused the same way.
  const cancel = new URL(CALLBACK);
  cancel.searchParams.set('state', callback.searchParams.get('state')!);
  cancel.searchParams.set('error', 'access_denied');
  await expectCode(await browser.request(cancel.href, JSON_ACCEPT), 400, 'state_used');
  assert.equal(await svc.lwaCalls('authorization_code'), 1);
});

test('a tampered, foreign or mislabelled carried state is state_invalid, and the genuine one still works', async (t) => {
  const svc = await testService(t);
  const other = await testService(t);
  const { browser, callback } = await appstoreCallback(svc);
  const state = callback.searchParams.get('state')!;
  const [body, kid, mac] = state.split('.') as [string, string, string];
  const flip = (s: string, at: number): string =>
    s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
  // The claims rewritten (another seller), the body or the MAC changed by one character, an unknown key.
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
  const rewritten = Buffer.from(JSON.stringify({ ...claims, s: 'A1OTHERSELLER01' })).toString('base64url');
  for (const forged of [
    `${rewritten}.${kid}.${mac}`,
    `${flip(body, 5)}.${kid}.${mac}`,
    `${body}.${kid}.${flip(mac, 10)}`,
    `${body}.k9.${mac}`,
    `${body}.${kid}`,
    `${body}.${kid}.${mac}.x`,
  ]) {
    await expectCode(await browser.request(withState(callback, forged), JSON_ACCEPT), 400, 'state_invalid');
  }
  // Signed by another service (another key ring) for the same browser: not ours.
  const theirs = await appstoreCallback(other);
  await expectCode(
    await browser.request(withState(callback, theirs.callback.searchParams.get('state')!), JSON_ACCEPT),
    400,
    'state_invalid',
  );
  // A state is not a pending Appstore token (each is signed for its own use).
  const asToken = await api(svc, 'POST', `/v1/appstore-sessions/${state}/confirm`, { user_ref: 'u1' });
  await expectCode(asToken, 404, 'link_invalid');
  assert.equal(await svc.lwaCalls('authorization_code'), 0, 'no exchange for any of them');
  assert.equal((await browser.request(callback.href)).status, 303, 'the genuine state was not spent');
});

test('a carried state past its 10 minutes is state_expired', async (t) => {
  let offset = 0;
  const svc = await testService(t, {}, { now: () => Date.now() + offset });
  const { browser, callback } = await appstoreCallback(svc);
  offset = 10 * 60 * 1000 + 1000;
  await expectCode(await browser.request(callback.href, JSON_ACCEPT), 400, 'state_expired');
  assert.equal(await svc.lwaCalls('authorization_code'), 0);
});

test('a carried state is bound to the browser that started it: no cookie or another browser’s is state_not_bound, and spends nothing', async (t) => {
  const svc = await testService(t);
  const { browser, callback } = await appstoreCallback(svc);
  const stranger = new Browser(svc);
  await expectCode(await stranger.request(callback.href, JSON_ACCEPT), 400, 'state_not_bound');
  // Another browser that started a flow of its own: its cookie is valid, but not this state's.
  const attacker = await appstoreCallback(svc);
  await expectCode(await attacker.browser.request(callback.href, JSON_ACCEPT), 400, 'state_not_bound');
  assert.equal(await svc.lwaCalls('authorization_code'), 0);
  assert.equal((await browser.request(callback.href)).status, 303, 'the owner still finishes');
});

test('PKCE on: the carried state’s derived verifier matches the challenge Amazon was sent', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_PKCE: 'true' });
  const { browser, callback } = await appstoreCallback(svc);
  const confirm = new URL(
    browser.visited.find((u) => u.startsWith(`${AMAZON_URL}/apps/authorize/confirm/`))!,
  );
  assert.match(confirm.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal((await browser.request(callback.href)).status, 303);
  const stats = await svc.emulator.control.stats();
  assert.equal(stats.token.authorization_code?.ok, 1);
});

test('pending Appstore token: confirms once (then link_used), tampered is link_invalid, late is link_expired', async (t) => {
  let offset = 0;
  const svc = await testService(
    t,
    { SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' },
    { now: () => Date.now() + offset },
  );
  const pendingToken = async (): Promise<string> => {
    const browser = new Browser(svc);
    const start = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`;
    const { url } = await browser.follow(start, (u) => u.startsWith('https://app.example.com/signin'));
    return new URL(url).searchParams.get('spapi_pending')!;
  };
  const confirm = (token: string): Promise<Response> =>
    api(svc, 'POST', `/v1/appstore-sessions/${token}/confirm`, { user_ref: 'user-7' });
  const token = await pendingToken();
  const [body, kid, mac] = token.split('.') as [string, string, string];
  await expectCode(await confirm(`${body}.${kid}.${mac.slice(1)}A`), 404, 'link_invalid');
  await expectCode(await confirm(`${body.slice(0, -2)}.${kid}.${mac}`), 404, 'link_invalid');
  assert.equal((await confirm(token)).status, 200);
  await expectCode(await confirm(token), 410, 'link_used');
  const late = await pendingToken();
  offset = 10 * 60 * 1000 + 1000;
  await expectCode(await confirm(late), 410, 'link_expired');
});
