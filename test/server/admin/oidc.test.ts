// Admin sign-in through an OpenID provider, without a browser: the configuration rules, the
// allow-list, and the whole flow against a real provider (node-oidc-provider on 127.0.0.1, its dev
// login form walked with fetch) — allowed operator in, others refused, an altered ID token refused,
// state / nonce / PKCE mismatches refused, logout revoking the session, the audit naming the operator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  loadConfig,
  parseOidcAllowList,
  redactConfig,
  scrubSecretsFromEnv,
} from '../../../src/config.js';
import {
  canonicalEmail,
  createOidcSignIn,
  isAllowedOperator,
  operatorNameOf,
} from '../../../src/server/admin/oidc.js';
import { OIDC_COOKIE } from '../../../src/server/admin/oidc-routes.js';
import { AdminSessions, SESSION_COOKIE } from '../../../src/server/admin/session.js';
import { devApplication } from '../../../src/emulator/dev-app.js';
import { PUBLIC_URL, serviceEnv } from '../../helpers/service.js';
import {
  cookiePair,
  csrfOf,
  makeOpsService,
  type OpsService,
  testOpsService,
} from '../../helpers/ops-service.js';
import { signInAtProvider, startTestProvider, type TestProvider } from '../../helpers/oidc-provider.js';

const REDIRECT_URI = `${PUBLIC_URL}/admin/oidc/callback`;
const ALLOWED = 'alice@example.com, @example.org, group:admins';
const PASSWORD = 'correct horse battery staple';

function serveConfig(env: Record<string, string>) {
  return loadConfig(serviceEnv(devApplication(PUBLIC_URL), env), { mode: 'serve' });
}

function oidcEnv(idp: { issuer: string; clientId: string; clientSecret: string }): Record<string, string> {
  return {
    SPAPI_AUTH_ADMIN_OIDC_ISSUER: idp.issuer,
    SPAPI_AUTH_ADMIN_OIDC_CLIENT_ID: idp.clientId,
    SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: idp.clientSecret,
    SPAPI_AUTH_ADMIN_OIDC_ALLOWED: ALLOWED,
  };
}

const SAMPLE = {
  issuer: 'https://idp.example.com/oauth2/default',
  clientId: 'client-1',
  clientSecret: 'OIDCsecretMARKER0000000000',
};

test('config: the four OIDC variables together; https issuer (http only on loopback); secret redacted and scrubbed; redirect URI', () => {
  const config = serveConfig(oidcEnv(SAMPLE));
  assert.equal(config.adminOidcIssuer, SAMPLE.issuer);
  assert.equal(config.adminOidcRedirectUri, REDIRECT_URI);
  assert.deepEqual(config.adminOidcAllowed, {
    emails: ['alice@example.com'],
    domains: ['example.org'],
    groups: ['admins'],
  });
  assert.equal(redactConfig(config).adminOidcClientSecret, '[redacted]');
  assert.doesNotMatch(JSON.stringify(config), /OIDCsecretMARKER/);

  const off = serveConfig({});
  assert.equal(off.adminOidcIssuer, undefined);
  assert.equal(off.adminOidcRedirectUri, REDIRECT_URI);

  const fails = (env: Record<string, string>, variable: RegExp): void => {
    assert.throws(
      () => serveConfig(env),
      (e: unknown) =>
        e instanceof ConfigError && variable.test(e.variable) && !/OIDCsecretMARKER/.test(e.message),
    );
  };
  const { SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: _s, ...noSecret } = oidcEnv(SAMPLE);
  fails(noSecret, /^SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET$/);
  fails({ SPAPI_AUTH_ADMIN_OIDC_ISSUER: SAMPLE.issuer }, /CLIENT_ID.*CLIENT_SECRET.*ALLOWED/);
  for (const issuer of [
    'not a url',
    'ftp://idp.example.com',
    'http://idp.example.com',
    'https://u:p@idp.example.com',
    'https://idp.example.com/?x=1',
  ]) {
    fails({ ...oidcEnv(SAMPLE), SPAPI_AUTH_ADMIN_OIDC_ISSUER: issuer }, /^SPAPI_AUTH_ADMIN_OIDC_ISSUER$/);
  }
  for (const local of ['http://127.0.0.1:8080', 'http://localhost:9000/realms/x']) {
    assert.equal(
      serveConfig({ ...oidcEnv(SAMPLE), SPAPI_AUTH_ADMIN_OIDC_ISSUER: local }).adminOidcIssuer,
      local,
    );
  }
  fails({ ...oidcEnv(SAMPLE), SPAPI_AUTH_ADMIN_OIDC_ALLOWED: 'alice' }, /^SPAPI_AUTH_ADMIN_OIDC_ALLOWED$/);

  // The secret from a file; both names scrubbed from the environment after start-up.
  const fromFile = loadConfig(
    serviceEnv(devApplication(PUBLIC_URL), {
      ...oidcEnv(SAMPLE),
      SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: '',
      SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET_FILE: '/run/secrets/oidc',
    }),
    { mode: 'serve', readFile: (p) => (p === '/run/secrets/oidc' ? 'fromFILEsecret\n' : '') },
  );
  assert.equal(fromFile.adminOidcClientSecret, 'fromFILEsecret');
  const env: Record<string, string | undefined> = {
    SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET: 'x',
    SPAPI_AUTH_ADMIN_OIDC_CLIENT_SECRET_FILE: '/f',
    SPAPI_AUTH_ADMIN_OIDC_ISSUER: SAMPLE.issuer,
  };
  scrubSecretsFromEnv(env);
  assert.deepEqual(env, { SPAPI_AUTH_ADMIN_OIDC_ISSUER: SAMPLE.issuer });
});

test('allow-list: e-mails, @domains and group: entries, separated by commas or spaces; malformed entries refused', () => {
  assert.deepEqual(parseOidcAllowList(' Alice@Example.com  @Corp.Example,group:Ops-Team '), {
    emails: ['alice@example.com'],
    domains: ['corp.example'],
    groups: ['Ops-Team'],
  });
  for (const bad of ['alice', '@', '@nodot', 'group:', 'a@b@', '@exa mple.com,', 'x@-bad-.com', ',']) {
    assert.throws(() => parseOidcAllowList(bad), ConfigError, bad);
  }
});

test('allow-list matching: verified e-mail or its domain, or a listed group; an unverified e-mail matches nothing', () => {
  const allow = parseOidcAllowList(ALLOWED);
  const ok = (claims: Record<string, unknown>): boolean => isAllowedOperator({ sub: 's', ...claims }, allow);
  assert.ok(ok({ email: 'alice@example.com', email_verified: true }));
  assert.ok(ok({ email: 'ALICE@example.com', email_verified: 'true' }));
  assert.ok(ok({ email: 'zed@example.org', email_verified: true }));
  assert.ok(ok({ groups: ['staff', 'admins'] }));
  assert.equal(ok({ email: 'alice@example.com', email_verified: false }), false, 'unverified');
  assert.equal(ok({ email: 'alice@example.com' }), false, 'no email_verified claim');
  assert.equal(
    ok({ email: 'zed@sub.example.org', email_verified: true }),
    false,
    'a subdomain is another domain',
  );
  assert.equal(ok({ email: 'zed@example.org.evil.test', email_verified: true }), false);
  assert.equal(
    ok({ email: 'bob@elsewhere.test', email_verified: true, groups: ['Admins'] }),
    false,
    'groups match exactly',
  );
  assert.equal(ok({ groups: 'admins' }), false, 'groups must be a list');
  assert.equal(
    operatorNameOf({ sub: 'abc', email: 'Alice@Example.com', email_verified: true }),
    'alice@example.com',
  );
  assert.equal(operatorNameOf({ sub: 'abc', email: 'alice@example.com', email_verified: false }), 'sub:abc');
});

async function withIdp(fn: (idp: TestProvider) => Promise<void>): Promise<void> {
  const idp = await startTestProvider({ redirectUri: REDIRECT_URI });
  try {
    await fn(idp);
  } finally {
    await idp.close();
  }
}

test('library flow: state, nonce and PKCE verifier must match the sign-in that started; a wrong one is refused', () =>
  withIdp(async (idp) => {
    const signIn = createOidcSignIn({
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      redirectUri: REDIRECT_URI,
      allow: parseOidcAllowList(ALLOWED),
      allowInsecure: true,
    });
    const started = await signIn.start();
    const url = new URL(started.url);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('state'), started.checks.state);
    assert.equal(url.searchParams.get('nonce'), started.checks.nonce);
    assert.equal(url.searchParams.get('redirect_uri'), REDIRECT_URI);
    assert.match(url.searchParams.get('scope') ?? '', /\bgroups\b/, 'the provider lists groups');

    const refused = async (checks: typeof started.checks, code: string): Promise<void> => {
      const s = await signIn.start();
      const callback = await signInAtProvider(s.url, 'alice');
      await assert.rejects(signIn.finish(callback, { ...s.checks, ...checks }), { code });
    };
    const before = idp.tokenResponses;
    await refused({ ...started.checks, state: 'another-state' } as never, 'oidc_state_mismatch');
    assert.equal(idp.tokenResponses, before, 'a state mismatch is refused before the code is redeemed');
    await refused({ nonce: 'another-nonce' } as never, 'oidc_invalid_response');
    await refused({ codeVerifier: 'x'.repeat(43) } as never, 'oidc_invalid_response');

    const s = await signIn.start();
    const callback = await signInAtProvider(s.url, 'alice');
    assert.deepEqual(await signIn.finish(callback, s.checks), {
      ok: true,
      operator: 'alice@example.com',
      account: 'sub:alice',
    });
    // The same code again: the provider refuses a second redemption.
    await assert.rejects(signIn.finish(callback, s.checks), { code: 'oidc_invalid_response' });
  }));

interface Signed {
  readonly res: Response;
  readonly cookies: string[];
}

/** Start → provider login as `login` → callback, through the service in-process. */
async function signInThroughService(svc: OpsService, login: string): Promise<Signed> {
  const start = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/oidc/start`, { redirect: 'manual' }));
  assert.equal(start.status, 303);
  const stateCookie = start.headers.get('set-cookie') ?? '';
  assert.match(
    stateCookie,
    new RegExp(`^${OIDC_COOKIE}=.+; Path=/admin/oidc; Max-Age=600; HttpOnly; SameSite=Lax$`),
  );
  const callback = await signInAtProvider(start.headers.get('location')!, login);
  assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  const res = await svc.app.fetch(
    new Request(callback.href, { headers: { cookie: cookiePair(stateCookie) }, redirect: 'manual' }),
  );
  return { res, cookies: res.headers.getSetCookie() };
}

async function withService(
  idp: TestProvider,
  env: Record<string, string>,
  fn: (svc: OpsService) => Promise<void>,
) {
  const svc = await makeOpsService({ env: { ...oidcEnv(idp), ...env } });
  try {
    await fn(svc);
  } finally {
    await svc.close();
  }
}

test('service: an allowed operator signs in and sees the dashboard; the audit names them; logout revokes the session', () =>
  withIdp((idp) =>
    withService(idp, {}, async (svc) => {
      const login = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/login`));
      const loginPage = await login.text();
      assert.match(loginPage, /href="\/admin\/oidc\/start"/);
      assert.doesNotMatch(loginPage, /type="password"/, 'no password configured: no password form');

      const { res, cookies } = await signInThroughService(svc, 'alice');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('refresh'), '0;url=/admin');
      const session = cookies.find((c) => c.startsWith('spapi_admin='))!;
      assert.match(session, /HttpOnly; SameSite=Strict/);
      assert.ok(
        cookies.some((c) => c.startsWith(`${OIDC_COOKIE}=;`)),
        'the sign-in cookie is cleared',
      );
      const cookie = cookiePair(session);
      const page = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin`, { headers: { cookie } }));
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /Log out/);

      // An admin action is audited under the operator's name.
      const sent = await svc.app.fetch(
        new Request(`${PUBLIC_URL}/admin/webhooks/test`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: csrfOf(html) }).toString(),
          redirect: 'manual',
        }),
      );
      assert.equal(sent.status, 303);
      const out = await svc.app.fetch(
        new Request(`${PUBLIC_URL}/admin/logout`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: csrfOf(html) }).toString(),
          redirect: 'manual',
        }),
      );
      assert.equal(out.status, 303);
      const after = await svc.app.fetch(
        new Request(`${PUBLIC_URL}/admin`, { headers: { cookie }, redirect: 'manual' }),
      );
      assert.equal(after.status, 303, 'the copied cookie is refused after logout');
      assert.equal(after.headers.get('location'), '/admin/login');

      await svc.app.close();
      const audit = await svc.store.listAudit({ limit: 50 });
      const actions = audit.map((r) => `${r.action} ${r.actor} ${r.outcome}`);
      for (const line of [
        'admin.login admin:alice@example.com ok',
        'webhook.test_sent admin:alice@example.com ok',
        'admin.logout admin:alice@example.com ok',
      ]) {
        assert.ok(actions.includes(line), `${line} in ${actions.join(' | ')}`);
      }
    }),
  ));

test('service: an account the allow-list does not name is refused with a clear page and no session; an altered ID token is refused', () =>
  withIdp((idp) =>
    withService(idp, { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD }, async (svc) => {
      const loginPage = await (await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/login`))).text();
      assert.match(loginPage, /href="\/admin\/oidc\/start"/);
      assert.match(loginPage, /type="password"/, 'both sign-ins on the page');

      for (const user of ['bob', 'carol']) {
        const { res, cookies } = await signInThroughService(svc, user);
        assert.equal(res.status, 403, user);
        const body = await res.text();
        assert.match(body, /not allowed to use this dashboard/);
        assert.match(body, /admin_not_allowed/);
        assert.ok(!cookies.some((c) => c.startsWith('spapi_admin=')), `${user}: no session cookie`);
      }
      // Dave is in by his group.
      assert.equal((await signInThroughService(svc, 'dave')).res.status, 200);

      // Bob's ID token rewritten to claim Alice's e-mail and the admins group: the signature no
      // longer matches, so the library refuses it; a broken signature too.
      for (const tamper of ['claims', 'signature'] as const) {
        idp.tamper = tamper;
        const { res, cookies } = await signInThroughService(svc, 'bob');
        assert.equal(res.status, 403, tamper);
        assert.match(await res.text(), /oidc_invalid_response/);
        assert.ok(!cookies.some((c) => c.startsWith('spapi_admin=')), `${tamper}: no session cookie`);
      }
      idp.tamper = 'none';

      // A callback without the browser's sign-in cookie (another browser, or a forged link).
      const start = await svc.app.fetch(
        new Request(`${PUBLIC_URL}/admin/oidc/start`, { redirect: 'manual' }),
      );
      const callback = await signInAtProvider(start.headers.get('location')!, 'alice');
      const noCookie = await svc.app.fetch(new Request(callback.href, { redirect: 'manual' }));
      assert.equal(noCookie.status, 400);
      assert.match(await noCookie.text(), /oidc_state_mismatch/);
      // Another sign-in's cookie: the state does not match.
      const other = await svc.app.fetch(
        new Request(`${PUBLIC_URL}/admin/oidc/start`, { redirect: 'manual' }),
      );
      const mismatched = await svc.app.fetch(
        new Request(callback.href, {
          headers: { cookie: cookiePair(other.headers.get('set-cookie')) },
          redirect: 'manual',
        }),
      );
      assert.equal(mismatched.status, 400);
      assert.match(await mismatched.text(), /oidc_state_mismatch/);

      await svc.app.close();
      const audit = (await svc.store.listAudit({ limit: 50 })).map(
        (r) => `${r.action} ${r.actor} ${r.outcome}`,
      );
      assert.ok(audit.includes('admin.login oidc:bob@elsewhere.test not_allowed'), audit.join(' | '));
      assert.ok(audit.includes('admin.login admin:dave@elsewhere.test ok'));
      assert.ok(audit.includes('admin.login oidc oidc_invalid_response'));
      assert.ok(!svc.logs.join('\n').includes(idp.clientSecret), 'the client secret is never logged');
    }),
  ));

test('service: failed sign-ins of one account are throttled (429) after five in a row', () =>
  withIdp((idp) =>
    withService(idp, {}, async (svc) => {
      for (let i = 0; i < 5; i++) assert.equal((await signInThroughService(svc, 'bob')).res.status, 403);
      const locked = await signInThroughService(svc, 'bob');
      assert.equal(locked.res.status, 429);
      assert.match(await locked.res.text(), /login_throttled/);
      assert.ok(Number(locked.res.headers.get('retry-after')) > 0);
      // Another account is not affected.
      assert.equal((await signInThroughService(svc, 'alice')).res.status, 200);
    }),
  ));

test('service: refused sign-ins of an account whose unverified e-mail names an admin never lock that admin out', () =>
  withIdp((idp) =>
    withService(idp, {}, async (svc) => {
      for (let i = 0; i < 6; i++) {
        const refused = await signInThroughService(svc, 'mallory');
        assert.equal(refused.res.status, i < 5 ? 403 : 429, `attempt ${i + 1}`);
      }
      // The account throttled is mallory's own (its subject), not the e-mail its claim names.
      assert.equal((await signInThroughService(svc, 'alice')).res.status, 200, 'alice still signs in');
      const audit = (await svc.store.listAudit({ limit: 50 })).map((r) => `${r.actor} ${r.outcome}`);
      assert.ok(
        audit.some((a) => a === 'oidc:sub:mallory not_allowed'),
        `the refusal is audited under the verified subject: ${audit.join(' | ')}`,
      );
      assert.ok(
        !audit.some((a) => a.startsWith('oidc:alice@example.com')),
        'never under the unverified claim',
      );
    }),
  ));

test('e-mail addresses are compared as written but for ASCII case; one that NFKC or case folding changes matches nothing', () => {
  const allow = parseOidcAllowList('kim@example.com, @example.org');
  const ok = (email: string): boolean => isAllowedOperator({ sub: 's', email, email_verified: true }, allow);
  assert.equal(ok('\u212Aim@example.com'), false, 'KELVIN SIGN is not k');
  assert.equal(ok('\uff4bim@example.com'), false, 'a full-width k is not k');
  assert.equal(ok('K\u0130m@example.org'), false, 'dotted capital I folds to two characters');
  assert.equal(ok('KIM@EXAMPLE.COM'), true, 'ASCII case still folds');
  assert.equal(
    ok('ren\u00e9@example.org'),
    true,
    'a non-ASCII address that folds to itself matches its @domain',
  );
  assert.equal(ok('rene\u0301@example.org'), false, 'a decomposed é is changed by normalisation: refused');
  assert.equal(canonicalEmail('\u212Aim@example.com'), undefined);
  assert.equal(canonicalEmail('Ren\u00e9@Example.ORG'), 'ren\u00e9@example.org');
});

test('service: a verified address that only lower-cases into an allowed one (KELVIN SIGN) is refused', () =>
  withIdp((idp) =>
    withService(idp, { SPAPI_AUTH_ADMIN_OIDC_ALLOWED: 'kim@example.com' }, async (svc) => {
      assert.equal((await signInThroughService(svc, 'kelvin')).res.status, 403);
    }),
  ));

test('service: a provider that cannot be reached does not stop the service; sign-in answers 503 oidc_unavailable', async (t) => {
  const idp = await startTestProvider({ redirectUri: REDIRECT_URI });
  const env = oidcEnv(idp);
  await idp.close(); // nothing listens at the issuer now
  const svc = await testOpsService(t, { env });
  const login = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/login`));
  assert.equal(login.status, 200);
  const start = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/oidc/start`, { redirect: 'manual' }));
  assert.equal(start.status, 503);
  assert.match(await start.text(), /oidc_unavailable/);
  assert.equal(start.headers.get('set-cookie')?.startsWith(`${OIDC_COOKIE}=;`), true);
});

test('session cookie: the operator reads back; a rewritten operator, or a sign-in value used as a session, is refused', () => {
  const s = new AdminSessions({ password: undefined, oidcSecret: 'oidc-secret-1', secure: true });
  const { session, cookie } = s.issue(true, 'alice@example.com');
  const value = cookie.split(';')[0]!.slice(SESSION_COOKIE.length + 1);
  assert.equal(s.read(`${SESSION_COOKIE}=${value}`)?.operator, 'alice@example.com');
  assert.equal(session.operator, 'alice@example.com');
  assert.equal(
    s.read(`${SESSION_COOKIE}=${s.issue(true).cookie.split(';')[0]!.split('=')[1]}`)?.operator,
    'password',
  );
  const parts = value.split('.');
  const mallory = [
    ...parts.slice(0, 3),
    `u${Buffer.from('mallory@example.com').toString('base64url')}`,
    parts[4],
  ].join('.');
  assert.equal(s.read(`${SESSION_COOKIE}=${mallory}`), undefined, 'operator field is signed');
  const other = new AdminSessions({ password: undefined, oidcSecret: 'oidc-secret-2', secure: true });
  assert.equal(other.read(`${SESSION_COOKIE}=${value}`), undefined, 'another client secret, another key');
  // Sealed values are bound to their purpose.
  const sealed = s.seal('oidc-sign-in', '{"state":"x"}', 60_000);
  assert.equal(s.unseal('oidc-sign-in', sealed), '{"state":"x"}');
  assert.equal(s.unseal('something-else', sealed), undefined);
  assert.equal(s.unseal('oidc-sign-in', sealed.replace(/\.[^.]+$/, '.AAAA')), undefined);
});
