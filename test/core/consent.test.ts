import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildAppstoreContinueUrl,
  buildConsentUrl,
  parseLoginRequest,
  validateAmazonCallbackUri,
} from '../../src/core/consent.js';
import { LoginRequestError } from '../../src/core/errors.js';
import { AMAZON_CONSENT_HOSTS, MARKETPLACES } from '../../src/core/marketplaces.js';

const APP = 'amzn1.sp.solution.11111111-2222-3333-4444-555555555555';
const STATE = 'S'.repeat(43);

test('consent URLs for every marketplace, seller and vendor, draft, redirect_uri and PKCE', () => {
  for (const m of MARKETPLACES) {
    for (const kind of ['seller', 'vendor'] as const) {
      const u = new URL(
        buildConsentUrl({ marketplace: m.countryCode, kind, applicationId: APP, state: STATE }),
      );
      assert.equal(u.origin, kind === 'seller' ? m.sellerCentral : m.vendorCentral);
      assert.equal(u.pathname, '/apps/authorize/consent');
      assert.deepEqual([...u.searchParams.keys()], ['application_id', 'state']);
    }
  }
  const u = new URL(
    buildConsentUrl({
      marketplace: 'GB',
      applicationId: APP,
      state: 'a+b&c=d',
      redirectUri: 'https://app.example/oauth/callback?x=1&y=2',
      draft: true,
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    }),
  );
  assert.equal(u.origin, 'https://sellercentral-europe.amazon.com');
  assert.equal(u.searchParams.get('state'), 'a+b&c=d');
  assert.equal(u.searchParams.get('redirect_uri'), 'https://app.example/oauth/callback?x=1&y=2');
  assert.equal(u.searchParams.get('version'), 'beta');
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  const e = buildConsentUrl({
    marketplace: 'US',
    applicationId: APP,
    state: STATE,
    amazonUrl: 'http://127.0.0.1:4010/',
  });
  assert.ok(e.startsWith('http://127.0.0.1:4010/apps/authorize/consent?'));
  assert.equal(new URL(e).searchParams.get('region'), 'na', 'the emulator is told the region');
  const de = new URL(
    buildConsentUrl({
      marketplace: 'DE',
      kind: 'vendor',
      applicationId: APP,
      state: STATE,
      amazonUrl: 'http://127.0.0.1:4010',
    }),
  );
  assert.equal(de.searchParams.get('region'), 'eu');
  assert.equal(de.searchParams.get('kind'), 'vendor');
  assert.equal(u.searchParams.get('region'), null, 'no emulator hint on a real Amazon URL');
  assert.throws(() => buildConsentUrl({ marketplace: 'XX', applicationId: APP, state: STATE }), TypeError);
  assert.throws(
    () => buildConsentUrl({ marketplace: 'US', applicationId: 'bad id', state: STATE }),
    TypeError,
  );
  assert.throws(() => buildConsentUrl({ marketplace: 'US', applicationId: APP, state: '' }), TypeError);
  assert.throws(
    () =>
      buildConsentUrl({ marketplace: 'US', applicationId: APP, state: STATE, redirectUri: 'https://a/#x' }),
    TypeError,
  );
});

const ok = (v: string, amazonUrl?: string) =>
  validateAmazonCallbackUri(v, { applicationId: APP, ...(amazonUrl ? { amazonUrl } : {}) });
const rejected = (v: string, amazonUrl?: string) =>
  assert.throws(
    () => ok(v, amazonUrl),
    (e: unknown) => e instanceof LoginRequestError && e.code === 'invalid_callback_uri',
    v,
  );

test('amazon_callback_uri: allowed hosts and exact path only (docs/security.md T-A20…A22)', () => {
  const path = `/apps/authorize/confirm/${APP}`;
  assert.equal(ok(`https://sellercentral.amazon.com${path}`).href, `https://sellercentral.amazon.com${path}`);
  assert.equal(ok(`https://vendorcentral.amazon.co.jp${path}?x=1`).hostname, 'vendorcentral.amazon.co.jp');
  assert.equal(ok(path).href, `https://sellercentral.amazon.com${path}`, 'relative → Seller Central');
  assert.equal(ok(`https://SELLERCENTRAL.amazon.com${path}`).hostname, 'sellercentral.amazon.com');
  // The host of Amazon's own Appstore example, and every Seller and Vendor Central host and alias.
  assert.equal(ok(`https://amazon.com${path}`).href, `https://amazon.com${path}`);
  for (const m of MARKETPLACES) {
    for (const host of [
      new URL(m.sellerCentral).hostname,
      new URL(m.vendorCentral).hostname,
      ...m.sellerCentralAliases,
      ...m.vendorCentralAliases,
    ]) {
      assert.equal(ok(`https://${host}${path}`).hostname, host);
    }
  }
  for (const v of [
    `https://evil.example${path}`,
    `https://sellercentral.amazon.com.evil.example${path}`,
    `https://sellercentral.amazon.com@evil.example${path}`,
    `https://user:pw@sellercentral.amazon.com${path}`,
    `https://evil.example\\@sellercentral.amazon.com${path}`,
    `//evil.example${path}`,
    `https://sellercentral.amazon.com:443${path}`,
    `https://sellercentral.amazon.com:8443${path}`,
    `http://sellercentral.amazon.com${path}`,
    `javascript:alert(1)//sellercentral.amazon.com${path}`,
    `https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.other`,
    `https://sellercentral.amazon.com${path}/../x`,
    `https://sellercentral.amazon.com${path}/`,
    `https://sellercentral.amazon.com/apps/authorize/confirm%2F${APP}`,
    `https://sellercentral.amazon.com${path}#frag`,
    `https://sellercentral.amazon.com.${path}`,
    `https://sеllercentral.amazon.com${path}`, // Cyrillic е
    `https://sellercentral.amazon.com${path}\r\nSet-Cookie: x=1`,
    `https://evilamazon.com${path}`,
    `https://amazon.com.evil.example${path}`,
    `https://amazon.com.${path}`,
    `https://www.amazon.com.evil.example${path}`,
    `https://amazon.com@evil.example${path}`,
    `https://amazon.com:443${path}`,
    `http://amazon.com${path}`,
    `https://xn--amazon-0ve.com${path}`, // punycode look-alike
    `https://amazоn.com${path}`, // Cyrillic о
    `https://sellercentral.amazon.de.${path}`,
    '',
    'x'.repeat(3000),
  ]) {
    rejected(v);
  }
  // The configured emulator origin, http on loopback with a port, and relative values against it.
  const emu = 'http://127.0.0.1:4010';
  assert.equal(ok(`${emu}${path}`, emu).href, `${emu}${path}`);
  assert.equal(ok(path, emu).href, `${emu}${path}`);
  rejected(`http://127.0.0.1:4011${path}`, emu);
  rejected(`${emu}/apps/authorize/confirm/other`, emu);
  assert.throws(() => ok(path, 'http://emulator.example:4010'), TypeError);
});

test('property: amazon_callback_uri accepted exactly when https, allowed host, no userinfo/port, exact path', () => {
  const hosts = [...AMAZON_CONSENT_HOSTS];
  const path = `/apps/authorize/confirm/${APP}`;
  const arb = fc.record({
    scheme: fc.constantFrom('https://', 'http://', 'ftp://', 'HTTPS://', '//', 'javascript:'),
    userinfo: fc.constantFrom('', '', '', 'u@', 'u:p@', 'sellercentral.amazon.com@'),
    host: fc.oneof(
      fc.constantFrom(...hosts),
      fc.constantFrom(...hosts).map((h) => h.toUpperCase()),
      fc.constantFrom(...hosts).map((h) => h + '.evil.example'),
      fc.constantFrom(...hosts).map((h) => 'x' + h),
      fc.domain(),
    ),
    port: fc.constantFrom('', '', '', ':443', ':80', ':8443', ':'),
    path: fc.oneof(
      fc.constant(path),
      fc.constant(path),
      fc.constant(path + '/'),
      fc.constant(path.toUpperCase()),
      fc.constant('/apps/authorize/confirm/amzn1.sp.solution.x'),
      fc.webPath(),
    ),
    tail: fc.constantFrom('', '', '?a=1', '?amazon_state=x&y', '#f', '?x#y'),
    junk: fc.constantFrom('', '', '', '', '\\', '%00', ' ', '\t', '%2e%2e/'),
  });
  fc.assert(
    fc.property(arb, (p) => {
      const value = p.scheme + p.userinfo + p.host + p.port + p.junk + p.path + p.tail;
      let accepted = true;
      try {
        ok(value);
      } catch (e) {
        assert.ok(e instanceof LoginRequestError, `unexpected ${String(e)} for ${value}`);
        accepted = false;
      }
      const expected =
        p.scheme.toLowerCase() === 'https://' &&
        p.userinfo === '' &&
        p.port === '' &&
        p.junk === '' &&
        AMAZON_CONSENT_HOSTS.has(p.host.toLowerCase()) &&
        p.path === path &&
        !p.tail.includes('#');
      assert.equal(accepted, expected, value);
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      try {
        ok(s);
      } catch (e) {
        assert.ok(e instanceof LoginRequestError);
      }
    }),
    { numRuns: 3000 },
  );
});

test('Login URI request parsing and the continue URL (T-A23, T-A24)', () => {
  const cb = `https://sellercentral.amazon.com/apps/authorize/confirm/${APP}`;
  const q = new URLSearchParams({
    amazon_callback_uri: cb,
    amazon_state: 'amz-state',
    selling_partner_id: 'A3FHEXAMPLEYWS',
    version: 'beta',
  });
  const login = parseLoginRequest(`https://app.example/oauth/login?${q}`, { applicationId: APP });
  assert.equal(login.amazonState, 'amz-state');
  assert.equal(login.beta, true);
  const next = new URL(
    buildAppstoreContinueUrl({
      ...login,
      state: 'our&state',
      redirectUri: 'https://app.example/oauth/callback',
    }),
  );
  assert.equal(next.origin + next.pathname, cb);
  assert.equal(next.searchParams.get('redirect_uri'), 'https://app.example/oauth/callback');
  assert.equal(next.searchParams.get('amazon_state'), 'amz-state');
  assert.equal(next.searchParams.get('state'), 'our&state');
  assert.equal(next.searchParams.get('version'), 'beta');
  const bad = (over: Record<string, string>, code: string) => {
    const p = new URLSearchParams({
      amazon_callback_uri: cb,
      amazon_state: 's',
      selling_partner_id: 'A1',
      ...over,
    });
    assert.throws(() => parseLoginRequest(p, { applicationId: APP }), { code });
  };
  bad({ amazon_state: 'x'.repeat(5000) }, 'invalid_login_request');
  bad({ amazon_state: 'a\r\nSet-Cookie: x' }, 'invalid_login_request');
  bad({ selling_partner_id: '' }, 'invalid_login_request');
  bad({ version: 'gamma' }, 'invalid_login_request');
  bad({ amazon_callback_uri: 'https://evil.example/' }, 'invalid_callback_uri');
  const dup = new URLSearchParams(
    `amazon_callback_uri=${encodeURIComponent(cb)}&amazon_callback_uri=x&amazon_state=s&selling_partner_id=A1`,
  );
  assert.throws(() => parseLoginRequest(dup, { applicationId: APP }), { code: 'invalid_callback_uri' });
  assert.throws(() => parseLoginRequest(new URLSearchParams('amazon_state=s'), { applicationId: APP }), {
    code: 'invalid_callback_uri',
  });
});
