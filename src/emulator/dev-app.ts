/**
 * The built-in development application and test sellers. Their ids and the dev client secret are
 * public on purpose: `spapi-auth dev` and `spapi-auth emulator` without flags use exactly these, so a
 * newcomer can walk the whole flow with no configuration. Never use them against Amazon.
 */
import type { EmulatorApplication, EmulatorSeller } from './types.js';

/**
 * The well-known dev client secret. It is public: it only ever opens the emulator.
 *
 * @example
 * ```ts
 * const auth = 'Basic ' + btoa(`${DEV_APPLICATION.clientId}:${DEV_CLIENT_SECRET}`);
 * ```
 */
export const DEV_CLIENT_SECRET = 'amzn1.oa2-cs.v1.emulator-dev-secret-not-for-production-0000000000';

/**
 * Builds the dev application registered for a service listening on `origin`: redirect URI
 * `<origin>/oauth/callback`, Login URI `<origin>/oauth/login`. `dev` on another port calls this.
 *
 * @example
 * ```ts
 * const app = devApplication('http://localhost:4000');
 * const emulator = createEmulator({ applications: [app] });
 * ```
 */
export function devApplication(origin?: string): EmulatorApplication {
  const base = origin === undefined ? undefined : origin.replace(/\/+$/, '');
  return {
    id: 'amzn1.sp.solution.00000000-0000-4000-8000-00000000e001',
    name: 'spapi-auth dev app',
    clientId: 'amzn1.application-oa2-client.emulatordev00000000000000000001',
    clientSecret: DEV_CLIENT_SECRET,
    redirectUris:
      base === undefined
        ? ['http://localhost:3000/oauth/callback', 'http://127.0.0.1:3000/oauth/callback']
        : [`${base}/oauth/callback`],
    loginUri: base === undefined ? 'http://localhost:3000/oauth/login' : `${base}/oauth/login`,
    draft: false,
  };
}

/**
 * The built-in dev application: application id `amzn1.sp.solution.00000000-0000-4000-8000-00000000e001`,
 * client id `amzn1.application-oa2-client.emulatordev00000000000000000001`, secret {@link DEV_CLIENT_SECRET},
 * redirect URIs `http://localhost:3000/oauth/callback` and `http://127.0.0.1:3000/oauth/callback`,
 * Login URI `http://localhost:3000/oauth/login`, published (no `version=beta` needed).
 *
 * @example
 * ```ts
 * const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'sellingpartnerapi::notifications',
 *   client_id: DEV_APPLICATION.clientId, client_secret: DEV_CLIENT_SECRET });
 * ```
 */
export const DEV_APPLICATION: EmulatorApplication = Object.freeze(devApplication());

/**
 * The seeded test partners: one seller per region, one seller in two regions (authorizes twice), a
 * seller in one marketplace only (the United States), and one vendor per region. The first seller (or vendor) of a region is that region's default in
 * consent `auto` mode.
 *
 * @example
 * ```ts
 * const na = TEST_SELLERS.find((s) => s.regions.includes('na'))!; // A1EMUSELLERNA01
 * ```
 */
export const TEST_SELLERS: readonly EmulatorSeller[] = Object.freeze([
  {
    sellingPartnerId: 'A1EMUSELLERNA01',
    name: 'Emulator Seller (North America)',
    kind: 'seller',
    regions: ['na'],
    marketplaces: ['US', 'CA', 'MX'],
  },
  {
    sellingPartnerId: 'A1EMUSELLEREU01',
    name: 'Emulator Seller (Europe)',
    kind: 'seller',
    regions: ['eu'],
    marketplaces: ['DE', 'UK', 'FR', 'IT', 'ES'],
  },
  {
    sellingPartnerId: 'A1EMUSELLERFE01',
    name: 'Emulator Seller (Far East)',
    kind: 'seller',
    regions: ['fe'],
    marketplaces: ['JP', 'AU', 'SG'],
  },
  {
    sellingPartnerId: 'A1EMUSELLERGL01',
    name: 'Emulator Seller (Global: NA + EU)',
    kind: 'seller',
    regions: ['na', 'eu'],
    marketplaces: ['US', 'DE'],
  },
  {
    sellingPartnerId: 'A1EMUSELLERUS01',
    name: 'Emulator Seller (United States only)',
    kind: 'seller',
    regions: ['na'],
    marketplaces: ['US'],
  },
  {
    sellingPartnerId: 'A1EMUVENDORNA01',
    name: 'Emulator Vendor (North America)',
    kind: 'vendor',
    regions: ['na'],
    marketplaces: ['US'],
  },
  {
    sellingPartnerId: 'A1EMUVENDOREU01',
    name: 'Emulator Vendor (Europe)',
    kind: 'vendor',
    regions: ['eu'],
    marketplaces: ['DE', 'UK'],
  },
  {
    sellingPartnerId: 'A1EMUVENDORFE01',
    name: 'Emulator Vendor (Far East)',
    kind: 'vendor',
    regions: ['fe'],
    marketplaces: ['JP'],
  },
] satisfies EmulatorSeller[]);
