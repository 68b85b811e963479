// docs/security.md T-H1/T-H3: marker secrets never reach a log line, an error body or the database in
// clear; a hostile value cannot forge a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/server/http/log.js';
import { escapeHtml, html } from '../../src/server/http/html.js';
import { readCookie, serializeCookie } from '../../src/server/http/cookies.js';
import { AMAZON_URL, Browser, CANARY_SECRET, PUBLIC_URL, api, makeService } from '../helpers/service.js';

test('canary sweep: flows, failures and the token API leave no secret in logs, error bodies or the SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-canary-'));
  let offset = 0;
  const svc = await makeService({}, { sqlitePath: join(dir, 'db.sqlite'), now: () => Date.now() + offset });
  const errorBodies: string[] = [];
  const secrets = new Set<string>([CANARY_SECRET, svc.apiKey]);
  try {
    // A website flow, stopping at the callback to learn the state and the code.
    const { url } = (await (
      await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'US' })
    ).json()) as {
      url: string;
    };
    secrets.add(url.split('/connect/')[1]!);
    const browser = new Browser(svc);
    const { url: cb } = await browser.follow(url, (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`));
    const q = new URL(cb).searchParams;
    secrets.add(q.get('state')!);
    secrets.add(q.get('spapi_oauth_code')!);
    secrets.add(browser.cookies.get('localhost:3000')!.get('spapi_tx')!);
    // Failures that echo nothing: a tampered state, no cookie, then success, then a replay.
    const tampered = new URL(cb);
    // Another last character, always (replacing it with a fixed 'A' changed nothing when it was one).
    const state = q.get('state')!;
    tampered.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
    errorBodies.push(await (await browser.request(tampered.href, { accept: 'application/json' })).text());
    errorBodies.push(await (await new Browser(svc).request(cb)).text());
    assert.equal((await browser.request(cb)).status, 303);
    errorBodies.push(await (await browser.request(cb)).text());
    // Tokens: the exchange's, then a refreshed one.
    const t1 = (await (await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01/access-token')).json()) as {
      access_token: string;
    };
    offset = 2 * 3600_000;
    const t2 = (await (await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01/access-token')).json()) as {
      access_token: string;
    };
    assert.notEqual(t1.access_token, t2.access_token, 'the second token came from a refresh');
    secrets.add(t1.access_token);
    secrets.add(t2.access_token);
    const stored = await svc.store.loadTokens({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
    secrets.add(stored!.refreshToken);
    // Token API failures with the key in odd places.
    errorBodies.push(
      await (await api(svc, 'GET', `/v1/sellers?api_key=${svc.apiKey}`, undefined, null)).text(),
    );
    errorBodies.push(await (await api(svc, 'GET', '/v1/sellers', undefined, `${svc.apiKey}x`)).text());
    errorBodies.push(await (await api(svc, 'GET', '/v1/sellers/A1%27/access-token')).text());
    // The Login URI with a hostile callback carrying a secret-looking value.
    const login = new URL(`${PUBLIC_URL}/oauth/login`);
    login.searchParams.set('amazon_callback_uri', `https://evil.example/?s=${CANARY_SECRET}`);
    login.searchParams.set('amazon_state', 'x');
    login.searchParams.set('selling_partner_id', 'A1');
    errorBodies.push(await (await svc.app.fetch(new Request(login))).text());
    await svc.app.context.audit.flush();
    await svc.store.close();

    const logs = svc.logs.join('');
    assert.ok(logs.length > 0);
    for (const s of secrets) {
      assert.ok(!logs.includes(s), `a secret is in the logs (${s.slice(0, 6)}…)`);
      for (const b of errorBodies)
        assert.ok(!b.includes(s), `a secret is in an error body (${s.slice(0, 6)}…)`);
    }
    const db = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('');
    for (const s of [
      CANARY_SECRET,
      svc.apiKey,
      t1.access_token,
      t2.access_token,
      stored!.refreshToken,
      'Atzr|',
      'Atza|',
    ]) {
      assert.ok(!db.includes(s), `a secret is stored in clear (${s.slice(0, 6)}…)`);
    }
    assert.ok(!logs.includes(AMAZON_URL + '/apps'), 'consent URLs (with states) are not logged');
  } finally {
    await svc.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logger: only whitelisted fields, values JSON-escaped and clipped, one line per record', () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (l) => lines.push(l), level: 'info', now: () => 0 });
  log.info('seller authorized', {
    seller_id: 'A1\n{"level":"error","msg":"forged"}',
    region: 'na',
    ...({ authorization: 'Bearer secret', access_token: 'Atza|x', query: 'state=s' } as object),
  });
  log.debug('dropped');
  log.info('long', { code: 'x'.repeat(500) });
  assert.equal(lines.length, 2);
  for (const l of lines) {
    assert.equal(l.split('\n').length, 2, 'one line, newline-terminated');
    JSON.parse(l);
  }
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(rec).sort(), ['level', 'msg', 'region', 'seller_id', 'time']);
  assert.equal(rec.seller_id, 'A1\n{"level":"error","msg":"forged"}');
  assert.ok(!lines[0]!.includes('secret') && !lines[0]!.includes('Atza'));
  assert.ok((JSON.parse(lines[1]!) as { code: string }).code.length <= 201);
});

test('pages escape by default; cookies refuse odd names/values and duplicates', () => {
  assert.equal(
    escapeHtml(`<a href="x" onclick='y'>&`),
    '&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;',
  );
  assert.equal(
    html`<p>${'<script>alert(1)</script>'}</p>`.value,
    '<p>&#60;script&#62;alert(1)&#60;/script&#62;</p>',
  );
  assert.throws(
    () => serializeCookie('a;b', 'v', { maxAgeSeconds: 1, secure: true, sameSite: 'Lax' }),
    TypeError,
  );
  assert.throws(
    () => serializeCookie('a', 'v\r\nSet-Cookie: x', { maxAgeSeconds: 1, secure: true, sameSite: 'Lax' }),
    TypeError,
  );
  assert.equal(readCookie('a=1; spapi_tx=abc', 'spapi_tx'), 'abc');
  assert.equal(readCookie('spapi_tx=abc; spapi_tx=def', 'spapi_tx'), undefined);
  assert.equal(readCookie(undefined, 'spapi_tx'), undefined);
});
