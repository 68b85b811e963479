/**
 * Every SP-API marketplace as data: one row per country, the only place in the code that knows
 * Amazon's hosts, from Amazon's marketplace-id, endpoint, Seller Central and Vendor Central tables.
 *
 * Choices where the sources disagree or no Amazon source confirms a host:
 * - UK, DE, FR, IT, ES Seller Central: `sellercentral-europe.amazon.com`, the host every official
 *   table found lists. Country hosts (`sellercentral.amazon.co.uk`, `.de`, …) exist and are used by
 *   many integrations, so they are the rows' `sellerCentralAliases`: in {@link AMAZON_CONSENT_HOSTS}
 *   (accepted as Appstore callback hosts, and answered by the emulator) but not used to build consent URLs.
 * - `amazon.com`: the host of the `amazon_callback_uri` in Amazon's own Appstore example, an alias of
 *   US Seller Central. It names no region; an Appstore authorization arriving on it is filed under NA.
 * - Ireland Seller Central: `sellercentral.amazon.ie` (Apideck) over `sellercentral-europe.amazon.com`
 *   (bizon). Every marketplace Amazon opened after the unified EU account (NL, SE, PL, BE, TR, EG, SA)
 *   got its own Seller Central host, and IE (2025) is the newest; both hosts are in the allow-list.
 * - South Africa Seller Central `sellercentral.amazon.co.za`, Ireland and South Africa Vendor Central
 *   (`vendorcentral.amazon.ie`, `vendorcentral.amazon.co.za`): the only candidates any source gives.
 * - India Vendor Central: `vendorcentral.amazon.in`, the official table after its 2021 fix, over the
 *   2025 sample's pre-fix `www.vendorcentral.in`; the latter is an alias (in the allow-list).
 * - The United Kingdom's code is `UK` as on Amazon's current page; `GB` (the 2021 guide) is an alias.
 */

/**
 * An SP-API region. Each has its own endpoint, and a seller authorizes each region separately.
 *
 * @example
 * const region: Region = getMarketplace('DE').region; // 'eu'
 */
export type Region = 'na' | 'eu' | 'fe';

/**
 * Whether the partner is a seller (Seller Central) or a vendor (Vendor Central).
 *
 * @example
 * buildConsentUrl({ marketplace: 'US', kind: 'vendor', applicationId, state }); // Vendor Central
 */
export type PartnerKind = 'seller' | 'vendor';

/** One Amazon marketplace and the hosts that serve it. */
export interface Marketplace {
  /** Country code as on Amazon's marketplace-ids page (`UK`, not `GB`). */
  readonly countryCode: string;
  readonly country: string;
  /** Amazon's marketplace id, e.g. `ATVPDKIKX0DER`. */
  readonly marketplaceId: string;
  readonly region: Region;
  /** Origin of the Seller Central host that shows the consent page. */
  readonly sellerCentral: string;
  /** Origin of the Vendor Central host that shows the consent page. */
  readonly vendorCentral: string;
  /**
   * Other host names (no scheme) that Amazon shows this marketplace's Seller Central consent or
   * Appstore confirm pages on: accepted as Appstore callback hosts, never used to build a URL.
   */
  readonly sellerCentralAliases: readonly string[];
  /** Other host names that Amazon shows this marketplace's Vendor Central pages on (as above). */
  readonly vendorCentralAliases: readonly string[];
}

/**
 * SP-API production endpoints per region.
 *
 * @example
 * SPAPI_ENDPOINTS.eu; // 'https://sellingpartnerapi-eu.amazon.com'
 */
export const SPAPI_ENDPOINTS: Readonly<Record<Region, string>> = Object.freeze({
  na: 'https://sellingpartnerapi-na.amazon.com',
  eu: 'https://sellingpartnerapi-eu.amazon.com',
  fe: 'https://sellingpartnerapi-fe.amazon.com',
});

/**
 * SP-API sandbox endpoints per region.
 *
 * @example
 * SPAPI_SANDBOX_ENDPOINTS.na; // 'https://sandbox.sellingpartnerapi-na.amazon.com'
 */
export const SPAPI_SANDBOX_ENDPOINTS: Readonly<Record<Region, string>> = Object.freeze({
  na: 'https://sandbox.sellingpartnerapi-na.amazon.com',
  eu: 'https://sandbox.sellingpartnerapi-eu.amazon.com',
  fe: 'https://sandbox.sellingpartnerapi-fe.amazon.com',
});

/**
 * The Login with Amazon token endpoint; one host for every region.
 *
 * @example
 * new URL(LWA_TOKEN_URL).host; // 'api.amazon.com'
 */
export const LWA_TOKEN_URL = 'https://api.amazon.com/auth/o2/token';

/**
 * The header that names the Amazon host (`api.amazon.com`, `sellingpartnerapi-eu.amazon.com`, …) a
 * request was meant for when `amazonUrl` sends it to the emulator instead. A dedicated header rather
 * than `Host`: browsers and most fetch implementations refuse to set `Host`, and a proxy in front of
 * the emulator would route on it.
 */
export const AMAZON_HOST_HEADER = 'x-amzn-emulator-host';

/**
 * The path form of {@link AMAZON_HOST_HEADER}, for base URLs handed to other programs: with
 * `amazonUrl` set, a region's SP-API endpoint is `<amazonUrl>/__amazon/<real host>`, so a client
 * that only joins paths onto the base (and sends no special header) still reaches the emulator as
 * that region's endpoint, and gets the region checks Amazon makes.
 *
 * @example
 * `${amazonUrl}${AMAZON_HOST_PATH}sellingpartnerapi-eu.amazon.com/orders/v0/orders`;
 */
export const AMAZON_HOST_PATH = '/__amazon/';

/**
 * The region whose SP-API endpoint (production or sandbox) a host is, if it is one.
 *
 * @example
 * spapiRegionOfHost('sandbox.sellingpartnerapi-fe.amazon.com'); // 'fe'
 * spapiRegionOfHost('api.amazon.com'); // undefined
 */
export function spapiRegionOfHost(host: string): Region | undefined {
  const m = /^(?:sandbox\.)?sellingpartnerapi-(na|eu|fe)\.amazon\.com$/i.exec(host);
  return m ? (m[1]!.toLowerCase() as Region) : undefined;
}

/**
 * All regions, in a stable order.
 *
 * @example
 * for (const region of REGIONS) console.log(spapiEndpoint(region));
 */
export const REGIONS: readonly Region[] = Object.freeze(['na', 'eu', 'fe'] as const);

const SC_EUROPE = 'https://sellercentral-europe.amazon.com';
const VC_ME = 'https://vendorcentral.amazon.me';

const row = (
  countryCode: string,
  country: string,
  marketplaceId: string,
  region: Region,
  sellerCentral: string,
  vendorCentral: string,
  aliases: { readonly seller?: readonly string[]; readonly vendor?: readonly string[] } = {},
): Marketplace =>
  Object.freeze({
    countryCode,
    country,
    marketplaceId,
    region,
    sellerCentral,
    vendorCentral,
    sellerCentralAliases: Object.freeze([...(aliases.seller ?? [])]),
    vendorCentralAliases: Object.freeze([...(aliases.vendor ?? [])]),
  });

/**
 * Every SP-API marketplace, in the order of Amazon's marketplace-ids page.
 *
 * @example
 * MARKETPLACES.filter((m) => m.region === 'fe').map((m) => m.countryCode); // ['SG', 'AU', 'JP']
 */
export const MARKETPLACES: readonly Marketplace[] = Object.freeze([
  row(
    'CA',
    'Canada',
    'A2EUQ1WTGCTBG2',
    'na',
    'https://sellercentral.amazon.ca',
    'https://vendorcentral.amazon.ca',
  ),
  row(
    'US',
    'United States',
    'ATVPDKIKX0DER',
    'na',
    'https://sellercentral.amazon.com',
    'https://vendorcentral.amazon.com',
    // Amazon's own Appstore example sends the Login URI `amazon_callback_uri=https://amazon.com/apps/authorize/confirm/…`.
    { seller: ['amazon.com'] },
  ),
  row(
    'MX',
    'Mexico',
    'A1AM78C64UM0Y8',
    'na',
    'https://sellercentral.amazon.com.mx',
    'https://vendorcentral.amazon.com.mx',
  ),
  row(
    'BR',
    'Brazil',
    'A2Q3Y263D00KWC',
    'na',
    'https://sellercentral.amazon.com.br',
    'https://vendorcentral.amazon.com.br',
  ),
  row(
    'IE',
    'Ireland',
    'A28R8C7NBKEWEA',
    'eu',
    'https://sellercentral.amazon.ie',
    'https://vendorcentral.amazon.ie',
  ),
  row('ES', 'Spain', 'A1RKKUPIHCS9HS', 'eu', SC_EUROPE, 'https://vendorcentral.amazon.es', {
    seller: ['sellercentral.amazon.es'],
  }),
  row('UK', 'United Kingdom', 'A1F83G8C2ARO7P', 'eu', SC_EUROPE, 'https://vendorcentral.amazon.co.uk', {
    seller: ['sellercentral.amazon.co.uk'],
  }),
  row('FR', 'France', 'A13V1IB3VIYZZH', 'eu', SC_EUROPE, 'https://vendorcentral.amazon.fr', {
    seller: ['sellercentral.amazon.fr'],
  }),
  row(
    'BE',
    'Belgium',
    'AMEN7PMS3EDWL',
    'eu',
    'https://sellercentral.amazon.com.be',
    'https://vendorcentral.amazon.com.be',
  ),
  row(
    'NL',
    'Netherlands',
    'A1805IZSGTT6HS',
    'eu',
    'https://sellercentral.amazon.nl',
    'https://vendorcentral.amazon.nl',
  ),
  row('DE', 'Germany', 'A1PA6795UKMFR9', 'eu', SC_EUROPE, 'https://vendorcentral.amazon.de', {
    seller: ['sellercentral.amazon.de'],
  }),
  row('IT', 'Italy', 'APJ6JRA9NG5V4', 'eu', SC_EUROPE, 'https://vendorcentral.amazon.it', {
    seller: ['sellercentral.amazon.it'],
  }),
  row(
    'SE',
    'Sweden',
    'A2NODRKZP88ZB9',
    'eu',
    'https://sellercentral.amazon.se',
    'https://vendorcentral.amazon.se',
  ),
  row(
    'ZA',
    'South Africa',
    'AE08WJ6YKNBMC',
    'eu',
    'https://sellercentral.amazon.co.za',
    'https://vendorcentral.amazon.co.za',
  ),
  row(
    'PL',
    'Poland',
    'A1C3SOZRARQ6R3',
    'eu',
    'https://sellercentral.amazon.pl',
    'https://vendorcentral.amazon.pl',
  ),
  row('EG', 'Egypt', 'ARBP9OOSHTCHU', 'eu', 'https://sellercentral.amazon.eg', VC_ME),
  row(
    'TR',
    'Turkey',
    'A33AVAJ2PDY3EV',
    'eu',
    'https://sellercentral.amazon.com.tr',
    'https://vendorcentral.amazon.com.tr',
  ),
  row('SA', 'Saudi Arabia', 'A17E79C6D8DWNP', 'eu', 'https://sellercentral.amazon.sa', VC_ME),
  row('AE', 'United Arab Emirates', 'A2VIGQ35RCS4UG', 'eu', 'https://sellercentral.amazon.ae', VC_ME),
  row(
    'IN',
    'India',
    'A21TJRUUN4KGV',
    'eu',
    'https://sellercentral.amazon.in',
    'https://vendorcentral.amazon.in',
    { vendor: ['www.vendorcentral.in'] },
  ),
  row(
    'SG',
    'Singapore',
    'A19VAU5U5O7RUS',
    'fe',
    'https://sellercentral.amazon.sg',
    'https://vendorcentral.amazon.com.sg',
  ),
  row(
    'AU',
    'Australia',
    'A39IBJ37TRP1C6',
    'fe',
    'https://sellercentral.amazon.com.au',
    'https://vendorcentral.amazon.com.au',
  ),
  row(
    'JP',
    'Japan',
    'A1VC38T7YXB528',
    'fe',
    'https://sellercentral.amazon.co.jp',
    'https://vendorcentral.amazon.co.jp',
  ),
]);

const COUNTRY_ALIASES: Readonly<Record<string, string>> = Object.freeze({ GB: 'UK' });

const byCountry = new Map(MARKETPLACES.map((m) => [m.countryCode, m]));
const byId = new Map(MARKETPLACES.map((m) => [m.marketplaceId, m]));

/**
 * Finds a marketplace by country code (case-insensitive, `GB` accepted for `UK`) or marketplace id.
 *
 * @example
 * findMarketplace('DE')?.sellerCentral; // 'https://sellercentral-europe.amazon.com'
 * findMarketplace('ATVPDKIKX0DER')?.region; // 'na'
 */
export function findMarketplace(codeOrId: string): Marketplace | undefined {
  const upper = codeOrId.toUpperCase();
  return byCountry.get(COUNTRY_ALIASES[upper] ?? upper) ?? byId.get(codeOrId);
}

/**
 * Like {@link findMarketplace} but throws a `TypeError` naming the accepted values.
 *
 * @example
 * getMarketplace('JP').marketplaceId; // 'A1VC38T7YXB528'
 */
export function getMarketplace(codeOrId: string): Marketplace {
  const m = findMarketplace(codeOrId);
  if (!m) {
    throw new TypeError(
      `unknown marketplace: expected a country code (${MARKETPLACES.map((x) => x.countryCode).join(', ')}) or a marketplace id`,
    );
  }
  return m;
}

/** The consent-page origin for a marketplace and partner kind. */
export function consentOrigin(marketplace: Marketplace, kind: PartnerKind): string {
  return kind === 'vendor' ? marketplace.vendorCentral : marketplace.sellerCentral;
}

/**
 * The SP-API base URL of a region, production or sandbox.
 *
 * @example
 * spapiEndpoint('fe'); // 'https://sellingpartnerapi-fe.amazon.com'
 */
export function spapiEndpoint(region: Region, sandbox = false): string {
  return (sandbox ? SPAPI_SANDBOX_ENDPOINTS : SPAPI_ENDPOINTS)[region];
}

/**
 * True for `na`, `eu` and `fe`.
 *
 * @example
 * isRegion('eu'); // true
 * isRegion('us'); // false
 */
export function isRegion(value: unknown): value is Region {
  return value === 'na' || value === 'eu' || value === 'fe';
}

const hostOf = (origin: string): string => new URL(origin).hostname;

/**
 * Every host Amazon may show a consent page or an Appstore confirm page on: each marketplace's
 * Seller and Vendor Central hosts and their aliases. This is the allow-list for an Appstore
 * `amazon_callback_uri`.
 *
 * @example
 * AMAZON_CONSENT_HOSTS.has('sellercentral.amazon.de'); // true
 */
export const AMAZON_CONSENT_HOSTS: ReadonlySet<string> = new Set(
  MARKETPLACES.flatMap((m) => [
    hostOf(m.sellerCentral),
    hostOf(m.vendorCentral),
    ...m.sellerCentralAliases,
    ...m.vendorCentralAliases,
  ]),
);

/** What a consent host serves: a marketplace (the first in the table when several share it) and a kind. */
export interface ConsentHost {
  readonly marketplace: Marketplace;
  readonly kind: PartnerKind;
}

const byHost = new Map<string, ConsentHost>();
for (const marketplace of MARKETPLACES) {
  const add = (host: string, kind: PartnerKind): void => {
    if (!byHost.has(host)) byHost.set(host, Object.freeze({ marketplace, kind }));
  };
  add(hostOf(marketplace.sellerCentral), 'seller');
  add(hostOf(marketplace.vendorCentral), 'vendor');
  for (const h of marketplace.sellerCentralAliases) add(h, 'seller');
  for (const h of marketplace.vendorCentralAliases) add(h, 'vendor');
}

/**
 * The marketplace and partner kind of one of Amazon's consent hosts (a name on
 * {@link AMAZON_CONSENT_HOSTS}, compared exactly, lower case), or undefined. A host several
 * marketplaces share (`sellercentral-europe.amazon.com`) gives the first of them in the table:
 * its region is right, its country is a guess.
 *
 * @example
 * findConsentHost('sellercentral.amazon.de'); // { marketplace: DE, kind: 'seller' }
 * findConsentHost('amazon.com')?.marketplace.region; // 'na'
 */
export function findConsentHost(host: string): ConsentHost | undefined {
  return byHost.get(host);
}
