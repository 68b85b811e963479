import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCallback } from '../../src/core/callback.js';
import { CallbackError, StateError } from '../../src/core/errors.js';

const STATE = 'abcDEF123_-'.padEnd(43, 'x');

test('a valid callback parses (URL, string, URLSearchParams; unknown params ignored)', () => {
  const url = `https://app.example/oauth/callback?state=${STATE}&selling_partner_id=A3FHEXAMPLEYWS&spapi_oauth_code=ANDp%2BCODE%3D&mws_auth_token=amzn.mws.1234&iss=x#frag`;
  for (const input of [url, new URL(url), new URL(url).searchParams]) {
    const r = parseCallback(input);
    assert.ok(r.ok);
    assert.equal(r.state, STATE);
    assert.equal(r.sellingPartnerId, 'A3FHEXAMPLEYWS');
    assert.equal(r.spapiOauthCode, 'ANDp+CODE=');
    assert.equal(r.mwsAuthToken, 'amzn.mws.1234');
    assert.deepEqual(r.unexpectedParams, ['iss']);
  }
  const vendor = parseCallback(`state=${STATE}&selling_partner_id=amzn1.vg.12345&spapi_oauth_code=c`);
  assert.ok(vendor.ok && vendor.mwsAuthToken === undefined);
});

test('bad callbacks give typed failures, with the state when it was usable (T-A2, A9, A13–A17)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['selling_partner_id=A1&spapi_oauth_code=c', 'state_missing', false],
    [`state=${STATE}&state=${STATE}&selling_partner_id=A1&spapi_oauth_code=c`, 'state_invalid', false],
    ['state=a%0d%0aSet-Cookie:x=1&selling_partner_id=A1&spapi_oauth_code=c', 'state_invalid', false],
    [`state=${'a'.repeat(10_000)}&selling_partner_id=A1&spapi_oauth_code=c`, 'invalid_callback', false],
    ['state=%00&selling_partner_id=A1&spapi_oauth_code=c', 'state_invalid', false],
    ['state=&selling_partner_id=A1&spapi_oauth_code=c', 'state_invalid', false],
    [`state=${STATE}&selling_partner_id=A1`, 'code_missing', true],
    [`state=${STATE}&spapi_oauth_code=c`, 'invalid_callback', true],
    [`state=${STATE}&selling_partner_id=A1&spapi_oauth_code=c&spapi_oauth_code=c`, 'invalid_callback', true],
    [`state=${STATE}&selling_partner_id=A%C0%AE1&spapi_oauth_code=c`, 'invalid_callback', true],
    [`state=${STATE}&selling_partner_id=A1&spapi_oauth_code=${'c'.repeat(3000)}`, 'invalid_callback', true],
    [`state=${STATE}&selling_partner_id=%E2%80%AEA1&spapi_oauth_code=c`, 'invalid_callback', true],
    [`state=${STATE}&selling_partner_id=A1&spapi_oauth_code=c%20d`, 'invalid_callback', true],
    [`state=${STATE}&error=access_denied`, 'authorization_denied', true],
    [
      `state=${STATE}&error=access_denied&selling_partner_id=A1&spapi_oauth_code=c`,
      'authorization_denied',
      true,
    ],
    [`state=${STATE}&error_description=cancelled`, 'authorization_denied', true],
    [`state=${STATE}&error=%0d%0a`, 'invalid_callback', true],
  ];
  for (const [q, code, hasState] of cases) {
    const r = parseCallback(q);
    assert.equal(r.ok, false, q);
    if (r.ok) continue;
    assert.equal(r.error.code, code, q.slice(0, 80));
    assert.equal(r.state, hasState ? STATE : undefined, q.slice(0, 80));
    assert.ok(r.error instanceof CallbackError || r.error instanceof StateError);
    assert.ok(!r.error.message.includes(STATE));
  }
  const denied = parseCallback(`state=${STATE}&error=access_denied`);
  assert.ok(!denied.ok && denied.error.upstreamError === 'access_denied');
});

const NAMES = [
  'state',
  'selling_partner_id',
  'spapi_oauth_code',
  'mws_auth_token',
  'error',
  'error_description',
  'iss',
  'x',
];
test('property: never throws; ok exactly when every parameter is single, well-formed and present', () => {
  const value = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'abcXYZ019._-~+/=|'), minLength: 1, maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 10 }),
  );
  const arb = fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { maxLength: 9 });
  fc.assert(
    fc.property(arb, (pairs) => {
      const params = new URLSearchParams();
      for (const [k, v] of pairs) params.append(k, v);
      const r = parseCallback(params.toString());
      const all = (n: string) => params.getAll(n);
      const single = (n: string, re: RegExp, required: boolean) =>
        all(n).length === 1 ? re.test(all(n)[0]!) : all(n).length === 0 && !required;
      const expected =
        single('state', /^[A-Za-z0-9._~-]{1,512}$/, true) &&
        all('error').length === 0 &&
        all('error_description').length === 0 &&
        // Amazon's ids start and end with a letter or digit (`_a` is refused): the rule of SELLING_PARTNER_ID_RE.
        single('selling_partner_id', /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/, true) &&
        single('spapi_oauth_code', /^[A-Za-z0-9._~+/=|-]{1,2048}$/, true) &&
        single('mws_auth_token', /^[A-Za-z0-9._-]{1,256}$/, false);
      assert.equal(r.ok, expected, params.toString());
      if (!r.ok) assert.ok(r.error instanceof CallbackError || r.error instanceof StateError);
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (s) => {
      parseCallback(s);
    }),
    { numRuns: 2000 },
  );
});
