import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AMAZON_CONSENT_HOSTS,
  MARKETPLACES,
  findMarketplace,
  getMarketplace,
  spapiEndpoint,
} from '../../src/core/marketplaces.js';

test("every marketplace of Amazon's marketplace-ids page is present once, with https origins", () => {
  assert.equal(MARKETPLACES.length, 23);
  assert.equal(new Set(MARKETPLACES.map((m) => m.marketplaceId)).size, 23);
  assert.equal(new Set(MARKETPLACES.map((m) => m.countryCode)).size, 23);
  for (const m of MARKETPLACES) {
    for (const origin of [m.sellerCentral, m.vendorCentral]) {
      const u = new URL(origin);
      assert.equal(u.protocol, 'https:');
      assert.equal(u.origin, origin, `${m.countryCode}: ${origin} must be a bare origin`);
      assert.ok(AMAZON_CONSENT_HOSTS.has(u.host));
    }
  }
});

test('lookups by country code, alias and marketplace id', () => {
  assert.equal(findMarketplace('us')?.marketplaceId, 'ATVPDKIKX0DER');
  assert.equal(findMarketplace('GB')?.countryCode, 'UK');
  assert.equal(findMarketplace('A1VC38T7YXB528')?.countryCode, 'JP');
  assert.equal(findMarketplace('XX'), undefined);
  assert.throws(() => getMarketplace('XX'), TypeError);
  assert.equal(getMarketplace('DE').sellerCentral, 'https://sellercentral-europe.amazon.com');
  assert.equal(getMarketplace('IN').region, 'eu');
  assert.equal(getMarketplace('AU').region, 'fe');
});

test('endpoints per region, production and sandbox', () => {
  assert.equal(spapiEndpoint('eu'), 'https://sellingpartnerapi-eu.amazon.com');
  assert.equal(spapiEndpoint('fe', true), 'https://sandbox.sellingpartnerapi-fe.amazon.com');
});
